// PostgreSQL's side of the shard-key move (the steps are src/executor/key-move.ts), inside one
// cross-shard transaction (the session's, else one of its own committed with two-phase commit).
// The driver: step 1 is the client's UPDATE as it sent it (simple or extended, RETURNING and
// all), step 2 DELETE ... RETURNING *, step 3 INSERT with the server's own text as parameters.
// The client gets step 1's answer (`UPDATE n`, its RETURNING rows). Tables where delete + insert
// differs from an update (triggers, foreign keys, rules, generated columns, inheritance) are
// refused, and so is a session whose extra_float_digits would round floats in the text.
import { serialize } from 'pg-protocol';
import { ShardgateError } from '../../errors.js';
import { combineCommandTags } from '../../executor/command-tags.js';
import {
  acquireMoveServers,
  type KeyMoveDriver,
  moveRows,
  unmovableTable as refusal,
  reportMove,
} from '../../executor/key-move.js';
import { MergeBudget } from '../../executor/merge-budget.js';
import type { CollectedResult } from '../../executor/pg-collect.js';
import type { KeyMovePlan } from '../../router/plan.js';
import { encodeErrorResponse, encodeReadyForQuery } from './backend-messages.js';
import { commitWriters, participants, twoPhaseFailure } from './distributed-commit.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import { answerClient, clientRequest, extendedRequest, rawBind } from './scatter-runner.js';
import type { ServerBinding } from './server-binding.js';
import type { Unit } from './units.js';

/** PostgreSQL's limit of bind parameters per statement. */
const MAX_PARAMETERS = 65535;

/** A server answered one of the move's statements with an error: the client gets it as sent. */
class StepFailed extends Error {
  constructor(readonly raw: Buffer) {
    super('a step of a shard-key move failed');
  }
}

export async function runKeyMove(cycle: QueryCycle, unit: Unit, statement: PlannedStatement): Promise<void> {
  const plan = statement.plan as KeyMovePlan;
  const state = cycle.state;
  if (state.txStatus === 'E') throw new ShardgateError('TRANSACTION_ABORTED');
  if (!unit.simple && unit.flushOnly)
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: 'an UPDATE that moves rows to another shard in a batch without Sync (send Sync after it)',
    });
  const implicit = state.txStatus === 'I';
  const request = clientRequest(cycle, unit, statement);
  const bindings = await acquireMoveServers(
    plan,
    (t) => cycle.bindingFor(t),
    (b) => cycle.afterUnit(b),
  );
  const owner = bindings.get(plan.owner.server)!;
  const sources = plan.sources.map((t) => bindings.get(t.server)!);
  const began: ServerBinding[] = [];
  let sent = false;
  let outcome: 'ok' | 'error' = 'error';
  const started = performance.now();
  try {
    // From here a statement that fails fails the session's transaction (the catalog query too).
    sent = true;
    const refusal = await unmovableTable(owner, plan.table);
    if (refusal) {
      sent = false;
      throw refusal;
    }
    await joinTransaction(cycle, [...bindings.values()], implicit, began);
    const budget = () => {
      const { maxMergeRows, maxMergeBytes } = cycle.services.topology.view().routing;
      return new MergeBudget(maxMergeRows, maxMergeBytes);
    };
    // The three steps (src/executor/key-move.ts), through this protocol's driver.
    const bytes = request.bind ? extendedRequest(request) : serialize.query(request.sql);
    const { updates, written } = await moveRows(
      plan,
      sources,
      owner,
      pgDriver(plan, bytes, budget),
      (b) => b.shard,
    );
    if (implicit) await commit(cycle, began, [...written]);
    else for (const b of written) cycle.wroteOn.add(b.serverName);
    const first = updates.find((r) => r.fields) ?? updates[0]!;
    answerClient(cycle, unit, {
      passthrough: updates.flatMap((r) => r.passthrough),
      fields: first.fields,
      parameterDescription: first.parameterDescription,
      rows: updates.flatMap((r) => r.rows),
      wholeRows: [],
      tag: combineCommandTags(updates.map((r) => r.tags.at(-1) ?? '')),
    });
    outcome = 'ok';
  } catch (err) {
    if (implicit) await Promise.allSettled(began.map((b) => b.runInternal('ROLLBACK')));
    else if (sent) {
      // Part of the move may have run: the transaction is failed everywhere (until ROLLBACK).
      state.txStatus = 'E';
      state.proxyAborted = participants(cycle).length > 1;
    }
    if (!(err instanceof StepFailed)) throw err;
    cycle.session.write(Buffer.concat([err.raw, encodeReadyForQuery(state.txStatus)]));
  } finally {
    for (const b of bindings.values()) cycle.afterUnit(b);
    reportMove(cycle.services.observer, 'postgres', [...bindings.values()], statement, outcome, started);
  }
}

/**
 * Every connection of the move runs in the transaction: the session's own (its BEGIN text, the
 * deferred one first) or, outside one, a BEGIN of the move's; each gets the cross-shard lock_timeout.
 */
async function joinTransaction(
  cycle: QueryCycle,
  bindings: ServerBinding[],
  implicit: boolean,
  began: ServerBinding[],
): Promise<void> {
  const state = cycle.state;
  for (const b of bindings) {
    const parts: string[] = [];
    if (b.tracker.status === 0x49) {
      parts.push(implicit ? 'BEGIN' : (state.deferredBegin ?? state.beginStatement ?? 'BEGIN'));
      began.push(b);
      if (!implicit && state.deferredBegin) {
        state.beginStatement = state.deferredBegin;
        state.deferredBegin = null;
        state.transactionShard = b.shard;
        state.transactionServer = b.serverName;
      }
    }
    const lockTimeout = cycle.crossShardLockTimeout(b);
    if (lockTimeout) parts.push(lockTimeout);
    // The session's savepoints, so that a ROLLBACK TO undoes the move on every shard.
    if (!implicit && began.at(-1) === b) parts.push(...cycle.savepointReplay());
    if (parts.length === 0) continue;
    const r = await b.runInternal(parts.join('; '));
    if (r.error) throw new StepFailed(encodeErrorResponse({ severity: 'ERROR', ...r.error }));
  }
}

/** The refusal (0A000) of a table where deleting and inserting a row is not the same as updating it. */
async function unmovableTable(binding: ServerBinding, table: string): Promise<ShardgateError | null> {
  const r = await binding.runInternal(`SELECT
  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
  EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.contype = 'f' AND (k.conrelid = c.oid OR k.confrelid = c.oid)),
  EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid AND w.rulename <> '_RETURN'),
  EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''),
  EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent WHERE p.relkind <> 'p' AND (i.inhparent = c.oid OR i.inhrelid = c.oid)),
  pg_catalog.current_setting('extra_float_digits')::int < 1
FROM (SELECT pg_catalog.to_regclass(${sqlString(quoteIdent(table))})::oid AS oid) c WHERE c.oid IS NOT NULL`);
  if (r.error) throw new StepFailed(encodeErrorResponse({ severity: 'ERROR', ...r.error }));
  const row = r.rows[0];
  // No such table: the UPDATE itself says so.
  if (!row) return null;
  // The rows travel as the server's text: below 1, float values would lose digits on the way.
  if (row[5] === 't')
    return new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: `moving ${table} rows to another shard with extra_float_digits below 1 (floats would lose digits; SET extra_float_digits = 1 first)`,
    });
  const reasons = ['triggers', 'foreign keys', 'rules', 'generated columns', 'inheritance'];
  return refusal(
    table,
    reasons.filter((_, i) => row[i] === 't'),
  );
}

/** The moved rows as DELETE ... RETURNING * gave them (text values). */
interface PgMoved {
  count: number;
  deleted: CollectedResult;
}

/** The steps on PostgreSQL: the client's bytes, then DELETE ... RETURNING * and parameterized INSERTs. */
function pgDriver(
  plan: KeyMovePlan,
  update: Buffer,
  budget: () => MergeBudget,
): KeyMoveDriver<ServerBinding, CollectedResult, PgMoved> {
  const run = async (b: ServerBinding, bytes: Buffer) => {
    const r = await b.collectInternal(bytes, budget());
    failOn([r]);
    return r;
  };
  return {
    update: (b) => run(b, update),
    changed: rowCount,
    async takeMoved(b) {
      const deleted = await run(b, deleteMovedRows(plan));
      return { count: deleted.rows.length, deleted };
    },
    async putMoved(owner, moved) {
      for (const insert of insertMovedRows(plan, moved.deleted)) await run(owner, insert);
    },
  };
}

/** The rows now carrying the new key on a shard that does not own it, deleted with every column. */
function deleteMovedRows(plan: KeyMovePlan): Buffer {
  return extendedText(
    `DELETE FROM ${quoteIdent(plan.table)} WHERE ${quoteIdent(plan.column)} = $1 RETURNING *`,
    [Buffer.from(plan.value)],
  );
}

/** INSERTs of the deleted rows (their text values as parameters), as many as the parameter limit needs. */
function insertMovedRows(plan: KeyMovePlan, deleted: CollectedResult): Buffer[] {
  const columns = (deleted.fields ?? []).map((f) => quoteIdent(f.name));
  if (columns.length === 0 || deleted.rows.length === 0) return [];
  const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
  const out: Buffer[] = [];
  for (let at = 0; at < deleted.rows.length; at += perStatement) {
    const rows = deleted.rows.slice(at, at + perStatement);
    const tuples = rows.map(
      (_, r) => `(${columns.map((_, c) => `$${r * columns.length + c + 1}`).join(', ')})`,
    );
    // OVERRIDING SYSTEM VALUE: a GENERATED ALWAYS identity column keeps the row's value.
    const sql = `INSERT INTO ${quoteIdent(plan.table)} (${columns.join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${tuples.join(', ')}`;
    out.push(extendedText(sql, rows.flat()));
  }
  return out;
}

/** Parse, Bind (text parameters, raw bytes), Execute, Sync of one statement. */
function extendedText(sql: string, values: Array<Buffer | null>): Buffer {
  return Buffer.concat([
    serialize.parse({ name: '', text: sql, types: [] }),
    rawBind({ portal: '', statement: '', paramFormats: [], values, resultFormats: [] }),
    serialize.describe({ type: 'P', name: '' }),
    serialize.execute({ portal: '' }),
    serialize.sync(),
  ]);
}

/** Ends the move's own transaction: plainly when at most one shard changed, else two-phase commit. */
async function commit(cycle: QueryCycle, began: ServerBinding[], written: ServerBinding[]): Promise<void> {
  if (written.length > 1) {
    const readers = began.filter((b) => !written.includes(b));
    await Promise.allSettled(readers.map((b) => b.runInternal('COMMIT')));
    const failure = twoPhaseFailure(await commitWriters(cycle, written));
    if (failure) throw failure;
    return;
  }
  for (const b of began) {
    // read_your_writes: the written shard's commit position rides along, as on the ordinary path.
    const probe = written.includes(b) && cycle.services.topology.hasReplicas(b.shard);
    const r = await b.runInternal(`COMMIT${probe ? '; SELECT pg_catalog.pg_current_wal_lsn()::text' : ''}`);
    if (r.error) throw new StepFailed(encodeErrorResponse({ severity: 'ERROR', ...r.error }));
    if (!probe && r.tag !== 'COMMIT')
      throw new ShardgateError('INTERNAL', { detail: `the move's COMMIT on ${b.shard} answered ${r.tag}` });
    const lsn = probe ? r.rows[0]?.[0] : undefined;
    if (lsn) cycle.state.lastWritePositions.set(b.shard, lsn);
  }
}

function failOn(results: CollectedResult[]): void {
  const failed = results.find((r) => r.error);
  if (failed?.error) throw new StepFailed(failed.error.raw);
}

function rowCount(result: CollectedResult): number {
  return Number((result.tags.at(-1) ?? '').split(' ').at(-1) ?? 0) || 0;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
