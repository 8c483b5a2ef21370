// Where a cross-shard join fetches the rows of its detached table, and the server connections it
// fetches them on: the same for both protocols' join runners (src/protocol/*/join-runner.ts).
import { ShardgateError } from '../errors.js';
import type { MergeSpec, Plan, RouteTarget } from '../router/plan.js';

/** The targets, text and merge of a join fetch's own plan (one shard, or a read scattered). */
export function joinFetchRoute(
  plan: Plan,
  sql: string,
): { targets: RouteTarget[]; text: string; merge: MergeSpec | null } {
  if (plan.type === 'single') return { targets: [plan.target], text: sql, merge: null };
  if (plan.type === 'scatter' && !plan.write)
    return { targets: plan.targets, text: plan.rewrittenSql ?? sql, merge: plan.merge };
  throw new ShardgateError('INTERNAL', { detail: `a join fetch planned as ${plan.type}` });
}

/** A connection for every target, or none: those already acquired go back when one fails. */
export async function acquireEvery<B>(
  targets: RouteTarget[],
  acquire: (target: RouteTarget) => B | Promise<B>,
  giveBack: (binding: B) => void,
): Promise<B[]> {
  const settled = await Promise.allSettled(targets.map(async (t) => acquire(t)));
  const bindings = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    for (const b of bindings) giveBack(b);
    throw (failed as PromiseRejectedResult).reason;
  }
  return bindings;
}
