// PostgreSQL's side of the cross-shard join primitive (src/executor/broadcast-join.ts): the
// fetch runs on the servers its own plan names (one, or a scatter merged as any scatter read),
// the rewritten statement runs as a simple query unit of its own through the query cycle, which
// answers the client. Simple protocol only: the rewrite inlines rows into the text.
import { serialize } from 'pg-protocol';
import { ShardgateError } from '../../errors.js';
import { runBroadcastJoin } from '../../executor/broadcast-join.js';
import type { RowBudget } from '../../executor/merge-budget.js';
import { ResultMerger } from '../../executor/merger.js';
import { type CollectedResult, collect } from '../../executor/pg-collect.js';
import type { ColumnInfo, Row } from '../../executor/rows.js';
import type { JoinPlan, MergeSpec, RouteTarget } from '../../router/plan.js';
import { pgBroadcastSql } from '../../sql/pg-broadcast-sql.js';
import { encodeReadyForQuery } from './backend-messages.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import { FE, type Unit } from './units.js';

/** A fetch a server answered with an error: the client gets that error as the server sent it. */
class FetchFailed extends Error {
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
  if (!unit.simple)
    throw new ShardgateError('JOIN_NOT_BROADCASTABLE', {
      table: plan.table,
      detail: 'the extended protocol (send the statement as a simple query, without parameters)',
    });
  const texts = pgBroadcastSql(statement.sql, plan.site);
  try {
    await runBroadcastJoin(
      {
        fetch: (sql, budget) => fetchRows(cycle, sql, budget),
        run: (sql) =>
          rerun({
            simple: true,
            flushOnly: false,
            frames: [{ type: FE.Query, bytes: serialize.query(sql) }],
          }),
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

async function fetchRows(
  cycle: QueryCycle,
  sql: string,
  budget: RowBudget,
): Promise<{ columns: ColumnInfo[]; rows: Row[] }> {
  const planned = cycle.services.router.planSimple(sql, cycle.routingSession());
  const plan = planned[0]?.plan;
  if (planned.length !== 1 || !plan)
    throw new ShardgateError('INTERNAL', { detail: 'a join fetch of several statements' });
  if (plan.type === 'error') throw new ShardgateError(plan.code, plan.params);
  let targets: RouteTarget[];
  let text = sql;
  let merge: MergeSpec | null = null;
  if (plan.type === 'single') targets = [plan.target];
  else if (plan.type === 'scatter' && !plan.write) {
    targets = plan.targets;
    text = plan.rewrittenSql ?? sql;
    merge = plan.merge;
  } else throw new ShardgateError('INTERNAL', { detail: `a join fetch planned as ${plan.type}` });
  const settled = await Promise.allSettled(targets.map((t) => cycle.bindingFor(t)));
  const bindings = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    for (const b of bindings) cycle.afterUnit(b);
    throw (failed as PromiseRejectedResult).reason;
  }
  let results: CollectedResult[];
  try {
    results = await Promise.all(
      bindings.map((binding) =>
        collect(binding.conn, serialize.query(text), budget, false).finally(() => {
          binding.conn.onData = (chunk) => binding.tracker.onData(chunk);
        }),
      ),
    );
  } finally {
    for (const b of bindings) cycle.afterUnit(b);
  }
  const error = results.find((r) => r.error)?.error;
  if (error) throw new FetchFailed(error.raw);
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
  results.forEach((r, i) => {
    for (const row of r.rows) merger.add(i, row);
  });
  return { columns, rows: merger.finish() };
}
