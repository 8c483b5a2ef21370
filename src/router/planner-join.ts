// A read that joins (or combines by IN) two sharded tables without equating their shard keys is
// answered across shards instead of refused: one occurrence is fetched from its shards and put in
// the statement as rows, so what remains reads one sharded table and merges as any scatter read
// (src/executor/broadcast-join.ts runs it). That is right only when the table left behind
// partitions the result: it is a FROM table of the top-level query that is never null-extended
// (an "anchor"), so every result row holds exactly one of its rows and lives on that row's shard.
// Hence: exactly two sharded occurrences, in one group (no set operation), both among the join
// sites (src/sql/pg-detach-sites.ts, mysql-detach-sites.ts), one detachable and the other an
// anchor. The IN form goes first (its fetch keeps the subquery's own filter), else the later table.
import type { ErrorPlan, JoinPlan, Plan } from './plan.js';
import { type PlanContext, withBase } from './planner-context.js';
import { classify } from './table-routing.js';

export function broadcastJoin(pc: PlanContext, refused: ErrorPlan, write: boolean): Plan {
  const { facts, topology } = pc.input;
  const col = facts.colocation;
  if (write || facts.kind !== 'read' || facts.locking || !col?.joinSites || col.groups.length !== 1)
    return refused;
  const isSharded = (t: string) => {
    const c = topology.tables[t];
    return c !== undefined && classify(c) === 'sharded';
  };
  const sharded = col.joinSites.map((s, i) => ({ ...s, i })).filter((s) => isSharded(s.table));
  if (col.refs.filter(isSharded).length !== 2 || sharded.length !== 2) return refused;
  const [a, b] = sharded as [(typeof sharded)[0], (typeof sharded)[0]];
  const candidates = [b, a].filter((s) => s.detachable && (s === a ? b : a).anchor);
  const site = candidates.find((s) => s.form === 'in-subquery') ?? candidates[0];
  if (!site) return refused;
  pc.base.reasons.push(
    `${refused.params.left} and ${refused.params.right} not joined on their shard keys: ${site.table} (${site.form}) fetched from its shards, then inlined`,
  );
  return withBase<JoinPlan>(pc.base, {
    type: 'broadcast-join',
    site: site.i,
    table: site.table,
    form: site.form,
    maxBytes: topology.routing.maxJoinBytes,
    colocatedBy: String(refused.params.detail ?? ''),
  });
}
