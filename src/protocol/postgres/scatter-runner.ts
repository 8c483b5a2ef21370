// Runs one statement on several shards in parallel and answers the client with one merged
// result, in the simple or the extended protocol. A failure on any shard fails the statement
// cleanly (the first error is returned; other shards' results are dropped).
import { serialize } from 'pg-protocol';
import { ShardgateError } from '../../errors.js';
import { combineCommandTags } from '../../executor/command-tags.js';
import { MergeBudget, type RowBudget } from '../../executor/merge-budget.js';
import { ResultMerger } from '../../executor/merger.js';
import { type CollectedResult, collect, type FieldInfo } from '../../executor/pg-collect.js';
import { forwardsWholeRows, mergeWholeRows } from '../../executor/pg-forwarded-rows.js';
import { mergeParts, runParts, type ShardBackend } from '../../executor/shard-parts.js';
import { scatterPartEvent } from '../../observability/statement-observer.js';
import type { RouteTarget } from '../../router/plan.js';
import {
  encodeCommandComplete,
  encodeDataRow,
  encodeReadyForQuery,
  encodeRowDescription,
  NO_DATA,
} from './backend-messages.js';
import { decodeBind, decodeParse } from './frontend-messages.js';
import { answerFrames } from './proxy-answered-frames.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import type { ServerBinding } from './server-binding.js';
import { FE, type Unit } from './units.js';

interface ShardRequest {
  target: RouteTarget;
  sql: string;
  /** Extended protocol: parameters as the client bound them. */
  bind: ReturnType<typeof decodeBind> | null;
  paramTypes: number[];
}

export async function runScatter(cycle: QueryCycle, unit: Unit, statement: PlannedStatement): Promise<void> {
  const plan = statement.plan;
  const requests = buildRequests(cycle, unit, statement);
  const { maxMergeRows: maxRows, maxMergeBytes } = cycle.services.topology.view().routing;
  const budget = new MergeBudget(maxRows, maxMergeBytes);
  // Reads that only order and page rows forward the shards' DataRow messages whole.
  const whole = plan.type === 'scatter' && !plan.write && forwardsWholeRows(plan.merge);
  const { results, failed, latencySeconds } = await runParts(scatterBackend(cycle, budget, whole), requests);
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    const t = requests[i]!.target;
    cycle.services.observer.onStatement(
      scatterPartEvent('postgres', statement, t, r.error ? 'error' : 'ok', latencySeconds, i),
    );
  }
  if (failed?.error) {
    cycle.session.write(failed.error.raw);
    if (!unit.flushOnly) cycle.session.write(encodeReadyForQuery(cycle.state.txStatus));
    return;
  }
  budget.check();
  if (plan.type === 'scatter' && plan.copyOut) {
    writeCopyOut(cycle, unit, results, plan.copyOut.header);
    return;
  }
  const first = results[0]!;
  const fields = first.fields;
  let rows: Array<Array<Buffer | null>> = [];
  let wholeRows: Buffer[] = [];
  let tag: string;
  let visibleFields: FieldInfo[] | null = fields;
  if (fields && whole && plan.type === 'scatter') {
    wholeRows = mergeWholeRows(
      results.map((r) => r.wholeRows),
      fields.map((f) => ({ name: f.name, typeOid: f.typeOid, format: f.format === 1 ? 'binary' : 'text' })),
      plan.merge,
      maxRows,
    );
    tag = `SELECT ${wholeRows.length}`;
  } else if (fields && (plan.type === 'scatter' || plan.type === 'split-insert')) {
    // A split INSERT ... RETURNING: the parts' rows, concatenated.
    const merge = plan.type === 'scatter' ? plan.merge : null;
    const merger = new ResultMerger(
      merge,
      fields.map((f) => ({ name: f.name, typeOid: f.typeOid, format: f.format === 1 ? 'binary' : 'text' })),
      { maxRows, postgres: true },
    );
    rows = mergeParts(
      merger,
      results.map((r) => r.rows),
    );
    visibleFields = merger.outputColumns().map((c, i) => retyped(fields[i]!, c.typeOid));
    // Writes with RETURNING keep their verb (UPDATE n, DELETE n), summed over the shards.
    tag =
      plan.type === 'split-insert' || (plan.write && merge === null)
        ? combineCommandTags(results.map((r) => r.tags[r.tags.length - 1] ?? ''))
        : `SELECT ${rows.length}`;
  } else {
    // A write split per shard (INSERT of several keys): RETURNING rows of every shard, in order.
    for (const r of results) for (const row of r.rows) rows.push(row);
    tag = combineCommandTags(results.map((r) => r.tags[r.tags.length - 1] ?? ''));
  }
  answerClient(cycle, unit, {
    passthrough: results.flatMap((r) => r.passthrough),
    fields: visibleFields,
    parameterDescription: first.parameterDescription,
    rows,
    wholeRows,
    tag,
  });
}

/** The port the executor runs a scatter's parts through (src/executor/shard-parts.ts). */
export function scatterBackend(
  cycle: QueryCycle,
  budget: RowBudget,
  whole: boolean,
): ShardBackend<ServerBinding, Omit<ShardRequest, 'target'>, CollectedResult> {
  return {
    acquire: (target) => cycle.bindingFor(target),
    release: (binding) => cycle.afterUnit(binding),
    run: (binding, r) => {
      const conn = binding.conn;
      const bytes = r.bind ? extendedRequest(r) : serialize.query(r.sql);
      return collect(conn, bytes, budget, whole).finally(() => {
        // Give the connection back to the binding's tracker.
        conn.onData = (chunk) => binding.tracker.onData(chunk);
      });
    },
    failed: (result) => Boolean(result.error),
  };
}

/** One result for the client, in the unit's protocol (simple, or the extended unit's replies in order). */
export function answerClient(
  cycle: QueryCycle,
  unit: Unit,
  result: {
    passthrough: Buffer[];
    fields: FieldInfo[] | null;
    parameterDescription: Buffer | null;
    rows: Array<Array<Buffer | null>>;
    wholeRows: Buffer[];
    tag: string;
  },
): void {
  const { rows, wholeRows, tag } = result;
  const out: Buffer[] = [...result.passthrough];
  const rowDescription = result.fields ? encodeRowDescription(result.fields) : null;
  const body = () => {
    for (const row of rows) out.push(encodeDataRow(row));
    for (const row of wholeRows) out.push(row);
    out.push(encodeCommandComplete(tag));
  };
  if (unit.simple) {
    if (rowDescription) out.push(rowDescription);
    body();
    out.push(encodeReadyForQuery(cycle.state.txStatus));
  } else {
    answerFrames(cycle, unit.frames, out, {
      describe: (into, statement) => {
        if (statement && result.parameterDescription) into.push(result.parameterDescription);
        into.push(rowDescription ?? NO_DATA);
      },
      execute: body,
      status: cycle.state.txStatus,
    });
  }
  cycle.session.write(Buffer.concat(out));
}

/** COPY TO STDOUT from every shard: one CopyOutResponse, each shard's rows (one header line), one tag. */
function writeCopyOut(cycle: QueryCycle, unit: Unit, results: CollectedResult[], header: boolean): void {
  if (!unit.simple)
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail: 'COPY TO STDOUT of several shards in the extended protocol (send it as a simple query)',
    });
  const out: Buffer[] = [];
  for (const r of results) out.push(...r.passthrough);
  const response = results.find((r) => r.copyOutResponse)?.copyOutResponse;
  if (!response) throw new ShardgateError('INTERNAL', { detail: 'COPY TO STDOUT without a CopyOutResponse' });
  out.push(response);
  let rows = 0;
  results.forEach((r, i) => {
    out.push(...(header && i > 0 ? r.copyData.slice(1) : r.copyData));
    rows += Number((r.tags.at(-1) ?? '').split(' ')[1] ?? 0);
  });
  out.push(Buffer.from([0x63, 0, 0, 0, 4])); // CopyDone
  out.push(encodeCommandComplete(`COPY ${rows}`));
  out.push(encodeReadyForQuery(cycle.state.txStatus));
  cycle.session.write(Buffer.concat(out));
}

/** A field whose merged values have another type (avg of integers is numeric, not bigint). */
function retyped(field: FieldInfo, typeOid: number): FieldInfo {
  if (field.typeOid === typeOid) return field;
  return { ...field, typeOid, typeSize: typeOid === 701 ? 8 : -1, typeModifier: -1 };
}

/** The statement text, Bind and parameter types of an extended-protocol unit (null: no Bind). */
export function boundStatement(
  cycle: QueryCycle,
  unit: Unit,
): { sql: string; bind: ReturnType<typeof decodeBind>; paramTypes: number[] } | null {
  let parsed: { name: string; sql: string; types: number[] } | null = null;
  let bind: ReturnType<typeof decodeBind> | null = null;
  for (const frame of unit.frames) {
    if (frame.type === FE.Parse) {
      const p = decodeParse(frame.bytes);
      parsed = { name: p.name, sql: p.query, types: p.paramTypes };
    } else if (frame.type === FE.Bind) {
      bind = decodeBind(frame.bytes);
    }
  }
  if (!bind) return null;
  const b = bind;
  const source =
    parsed && parsed.name === b.statement
      ? parsed
      : b.statement === ''
        ? cycle.unnamed && { name: '', sql: cycle.unnamed.sql, types: cycle.unnamed.paramTypes }
        : (() => {
            const p = cycle.state.prepared.get(b.statement);
            return p ? { name: p.clientName, sql: p.sql, types: p.paramTypes } : null;
          })();
  if (!source)
    throw new ShardgateError('PROTOCOL_VIOLATION', { detail: `unknown statement "${b.statement}"` });
  return { sql: source.sql, bind: b, paramTypes: source.types };
}

/** The client's statement as sent: its text and, in the extended protocol, its Bind and parameter types. */
export function clientRequest(
  cycle: QueryCycle,
  unit: Unit,
  statement: PlannedStatement,
): { sql: string; bind: ReturnType<typeof decodeBind> | null; paramTypes: number[] } {
  const bound = unit.simple ? null : boundStatement(cycle, unit);
  return { sql: bound?.sql ?? statement.sql, bind: bound?.bind ?? null, paramTypes: bound?.paramTypes ?? [] };
}

function buildRequests(cycle: QueryCycle, unit: Unit, statement: PlannedStatement): ShardRequest[] {
  const plan = statement.plan;
  const { sql, bind, paramTypes } = clientRequest(cycle, unit, statement);
  if (plan.type === 'scatter') {
    const text = plan.rewrittenSql ?? sql;
    return plan.targets.map((target) => ({ target, sql: text, bind, paramTypes }));
  }
  if (plan.type === 'split-insert') {
    return plan.parts.map((part) => ({
      target: part.target,
      sql: cycle.services.router.insertRowsSql(sql, part.rows, bind, paramTypes, plan.fillIds),
      // Parameters are inlined per part: each part's text stands alone.
      bind: null,
      paramTypes: [],
    }));
  }
  throw new ShardgateError('INTERNAL', { detail: `not a multi-shard plan: ${plan.type}` });
}

export function extendedRequest(r: Omit<ShardRequest, 'target'>): Buffer {
  const b = r.bind!;
  return Buffer.concat([
    serialize.parse({ name: '', text: r.sql, types: r.paramTypes }),
    rawBind(b),
    serialize.describe({ type: 'S', name: '' }),
    serialize.execute({ portal: '' }),
    serialize.sync(),
  ]);
}

/** Re-encodes a client's Bind for the unnamed statement and portal, keeping formats and raw values. */
export function rawBind(b: ReturnType<typeof decodeBind>): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(2);
  parts.push(Buffer.from([0, 0])); // portal "" and statement ""
  header.writeInt16BE(b.paramFormats.length);
  parts.push(Buffer.from(header));
  for (const f of b.paramFormats) {
    const x = Buffer.alloc(2);
    x.writeInt16BE(f);
    parts.push(x);
  }
  const n = Buffer.alloc(2);
  n.writeInt16BE(b.values.length);
  parts.push(n);
  for (const v of b.values) {
    const len = Buffer.alloc(4);
    if (v === null) {
      len.writeInt32BE(-1);
      parts.push(len);
    } else {
      len.writeInt32BE(v.length);
      parts.push(len, v);
    }
  }
  const rf = Buffer.alloc(2);
  rf.writeInt16BE(b.resultFormats.length);
  parts.push(rf);
  for (const f of b.resultFormats) {
    const x = Buffer.alloc(2);
    x.writeInt16BE(f);
    parts.push(x);
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head[0] = 0x42;
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
