// Where a cross-shard join fetches the rows of its detached table: the same for both protocols'
// join runners (src/protocol/*/join-runner.ts), which run the fetch through shard-parts.ts.
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
