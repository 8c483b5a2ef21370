// The cross-shard join primitive (one implementation for both protocols): a read that combines
// two sharded tables without equating their shard keys (planned as 'broadcast-join' by
// src/router/planner-join.ts). The detached occurrence's rows are fetched from every shard that
// holds them (its own filters pushed down: an IN subquery is fetched as written), held within
// routing.maxJoinBytes, and put into the statement in its place (an IN list de-duplicated through
// a hash set, a table as typed VALUES). What remains reads one sharded table, which is
// partitioned across the shards, so every shard's answer is its part of the whole: it runs as an
// ordinary read and the usual merge (aggregates, ORDER BY, LIMIT, DISTINCT...) applies. The
// protocol supplies the two I/O steps through JoinPort; the dialect supplies the texts.
import { ShardgateError } from '../errors.js';
import { MergeBudget, type RowBudget } from './merge-budget.js';
import type { ColumnInfo, Row } from './rows.js';

export interface JoinPort {
  /** Runs a read as a client statement would be routed, collecting its rows within `budget`
   *  (rows past it are dropped); a failed read throws the error the client should see. */
  fetch(sql: string, budget: RowBudget): Promise<{ columns: ColumnInfo[]; rows: Row[] }>;
  /** Runs the rewritten statement and answers the client with its result. */
  run(sql: string): Promise<void>;
}

export interface JoinTexts {
  fetchSql: string;
  residualSql(columns: ColumnInfo[], rows: Row[]): string;
}

export interface JoinOptions {
  form: 'table' | 'in-subquery';
  table: string;
  /** routing.maxJoinBytes: bounds the fetched rows and the text they become. */
  maxBytes: number;
  /** The shard-key equality that would co-locate the join (said in the refusal). */
  colocatedBy: string;
  /** The client's statement, to measure how much text the rows added. */
  sql: string;
}

function tooLarge(options: JoinOptions, bytes: number): ShardgateError {
  return new ShardgateError('JOIN_ROWS_LIMIT', {
    bytes: bytes > options.maxBytes ? `${bytes}` : `more than ${options.maxBytes}`,
    table: options.table,
    limit: options.maxBytes,
    detail: options.colocatedBy,
  });
}

/** Distinct rows by their bytes: an IN list needs each value once (equal bytes, equal value). */
export function distinctByBytes(rows: Row[]): Row[] {
  const seen = new Set<string>();
  const out: Row[] = [];
  for (const row of rows) {
    const key = row.map((c) => (c === null ? '\u0000N' : `\u0001${c.toString('latin1')}`)).join('\u0002');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(row);
  }
  return out;
}

export async function runBroadcastJoin(
  port: JoinPort,
  texts: JoinTexts,
  options: JoinOptions,
): Promise<void> {
  const budget = new MergeBudget(Number.MAX_SAFE_INTEGER, options.maxBytes);
  const fetched = await port.fetch(texts.fetchSql, budget);
  if (budget.exceeded) throw tooLarge(options, 0);
  const rows = options.form === 'in-subquery' ? distinctByBytes(fetched.rows) : fetched.rows;
  const residual = texts.residualSql(fetched.columns, rows);
  const added = Buffer.byteLength(residual) - Buffer.byteLength(options.sql);
  if (added > options.maxBytes) throw tooLarge(options, added);
  await port.run(residual);
}
