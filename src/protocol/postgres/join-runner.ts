// PostgreSQL's side of the cross-shard join primitive (src/executor/broadcast-join.ts): the
// fetch runs on the servers its own plan names (one, or a scatter merged as any scatter read),
// the rewritten statement runs as a simple query unit of its own through the query cycle, which
// answers the client. The rewrite inlines rows into the text; in the extended protocol the bound
// parameters are inlined too and the answer is the simple one after Parse/Bind complete.
import { serialize } from 'pg-protocol';
import { ShardgateError } from '../../errors.js';
import { runBroadcastJoin } from '../../executor/broadcast-join.js';
import { joinFetchRoute } from '../../executor/join-fetch.js';
import type { RowBudget } from '../../executor/merge-budget.js';
import { ResultMerger } from '../../executor/merger.js';
import type { ColumnInfo, Row } from '../../executor/rows.js';
import { mergeParts, runParts } from '../../executor/shard-parts.js';
import type { JoinPlan } from '../../router/plan.js';
import { decodeBindParams } from '../../sql/bind-params.js';
import { highestParam, inlineParams } from '../../sql/insert-rows.js';
import { pgBroadcastSql } from '../../sql/pg-broadcast-sql.js';
import { BIND_COMPLETE, encodeReadyForQuery, PARSE_COMPLETE } from './backend-messages.js';
import { decodeExecute, decodeParse } from './frontend-messages.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import { boundStatement, scatterBackend } from './scatter-runner.js';
import { FE, newUnit, type Unit } from './units.js';

/** A fetch a server answered with an error: the client gets that error as the server sent it. */
export class FetchFailed extends Error {
  constructor(readonly raw: Buffer) {
    super('cross-shard join fetch failed');
  }
}

export async function runJoin(
  cycle: QueryCycle,
  unit: Unit,
  statement: PlannedStatement,
  rerun: (unit: Unit) => Promise<void>,
): Promise<void> {
  const plan = statement.plan as JoinPlan;
  // Extended protocol: the parameters are inlined; the client hears Parse/Bind complete, then the
  // rewritten statement's answer, which is what its Describe and Execute ask for.
  const extended = unit.simple ? null : extendedJoin(cycle, unit, plan);
  const texts = pgBroadcastSql(extended?.sql ?? statement.sql, plan.site);
  try {
    await runBroadcastJoin(
      {
        fetch: (sql, budget) => fetchRows(cycle, sql, budget),
        run: (sql) => {
          if (extended) cycle.session.write(extended.prefix);
          return rerun(newUnit([{ type: FE.Query, bytes: serialize.query(sql) }], true));
        },
      },
      texts,
      {
        form: plan.form,
        table: plan.table,
        maxBytes: plan.maxBytes,
        colocatedBy: plan.colocatedBy,
        sql: statement.sql,
      },
    );
  } catch (err) {
    if (!(err instanceof FetchFailed)) throw err;
    cycle.session.write(Buffer.concat([err.raw, encodeReadyForQuery(cycle.state.txStatus)]));
  }
}

/** Parameter types a literal can be cast to by name (others: refused rather than guessed). */
const CASTS = new Map<number, string>([
  [16, 'boolean'],
  [20, 'bigint'],
  [21, 'smallint'],
  [23, 'integer'],
  [25, 'text'],
  [700, 'real'],
  [701, 'double precision'],
  [1043, 'varchar'],
  [1082, 'date'],
  [1114, 'timestamp'],
  [1184, 'timestamptz'],
  [1700, 'numeric'],
  [2950, 'uuid'],
  [3802, 'jsonb'],
]);

/**
 * The statement of an extended-protocol unit with its parameters inlined, and what the client
 * hears before the answer (ParseComplete, BindComplete). Units the simple answer cannot stand for
 * (no Describe of the portal, a Describe of the statement, binary results, several Executes,
 * Close) are refused.
 */
function extendedJoin(cycle: QueryCycle, unit: Unit, plan: JoinPlan): { sql: string; prefix: Buffer } {
  const refuse = (detail: string) =>
    new ShardgateError('JOIN_NOT_BROADCASTABLE', {
      table: plan.table,
      detail: `the extended protocol with ${detail}`,
    });
  const bound = boundStatement(cycle, unit);
  if (!bound) throw refuse('no Bind');
  const shape = unit.frames.map((f) =>
    f.type === FE.Describe ? `D${String.fromCharCode(f.bytes[5]!)}` : f.type,
  );
  const expected = [FE.Bind, 'DP', FE.Execute, FE.Sync];
  const rest = shape[0] === FE.Parse ? shape.slice(1) : shape;
  if (rest.length !== expected.length || rest.some((t, i) => t !== expected[i]))
    throw refuse('messages other than Parse, Bind, Describe (portal), Execute, Sync in one batch');
  if (bound.bind.resultFormats.some((f) => f === 1)) throw refuse('binary result columns');
  const { values, paramFormats } = bound.bind;
  // Inlining must not turn a missing parameter into NULL (the server refuses such a Bind).
  const uses = highestParam(bound.sql);
  if (values.length !== uses)
    throw refuse(`a Bind of ${values.length} parameters for a statement using ${uses}`);
  for (const frame of unit.frames)
    if (frame.type === FE.Execute && decodeExecute(frame.bytes).maxRows !== 0)
      throw refuse('an Execute row limit (a portal fetched in parts)');
  const params = decodeBindParams(values, paramFormats, bound.paramTypes);
  const casts: Array<string | null> = [];
  for (let i = 0; i < values.length; i++) {
    const type = bound.paramTypes[i] ?? 0;
    if (values[i] !== null && params[i] === null)
      throw refuse(`a binary parameter $${i + 1} of type ${type}`);
    if (type !== 0 && !CASTS.has(type)) throw refuse(`parameter $${i + 1} of type ${type}`);
    casts.push(CASTS.get(type) ?? null);
  }
  const out: Buffer[] = [];
  for (const frame of unit.frames) {
    if (frame.type === FE.Parse) {
      cycle.rememberParse(decodeParse(frame.bytes));
      out.push(PARSE_COMPLETE);
    } else if (frame.type === FE.Bind) out.push(BIND_COMPLETE);
  }
  return { sql: inlineParams(bound.sql, params, casts), prefix: Buffer.concat(out) };
}

export async function fetchRows(
  cycle: QueryCycle,
  sql: string,
  budget: RowBudget,
): Promise<{ columns: ColumnInfo[]; rows: Row[] }> {
  const planned = cycle.services.router.planSimple(sql, cycle.routingSession());
  const plan = planned[0]?.plan;
  if (planned.length !== 1 || !plan)
    throw new ShardgateError('INTERNAL', { detail: 'a join fetch of several statements' });
  if (plan.type === 'error') throw new ShardgateError(plan.code, plan.params);
  if (plan.type === 'broadcast-join')
    throw new ShardgateError('JOIN_NOT_BROADCASTABLE', {
      table: plan.table,
      detail: 'inside a statement whose rows shardgate gathers itself (COPY (query) TO STDOUT)',
    });
  const { targets, text, merge } = joinFetchRoute(plan, sql);
  const { results, failed } = await runParts(
    scatterBackend(cycle, budget, false),
    targets.map((target) => ({ target, sql: text, bind: null, paramTypes: [] })),
  );
  if (failed?.error) throw new FetchFailed(failed.error.raw);
  const fields = results[0]?.fields;
  if (!fields) throw new ShardgateError('INTERNAL', { detail: 'a join fetch without a row description' });
  const columns: ColumnInfo[] = fields.map((f) => ({
    name: f.name,
    typeOid: f.typeOid,
    format: f.format === 1 ? 'binary' : 'text',
    typeModifier: f.typeModifier,
  }));
  const merger = new ResultMerger(merge, columns, {
    maxRows: cycle.services.topology.view().routing.maxMergeRows,
    postgres: true,
  });
  const rows = mergeParts(
    merger,
    results.map((r) => r.rows),
  );
  // Without the merge's hidden columns, with the merged types (avg of integers is numeric).
  return { columns: merger.outputColumns(), rows };
}
