// The one server a unit of statements (a multi-statement query) runs on, for both front ends.
import { ShardgateError } from '../errors.js';
import type { RouteTarget } from './plan.js';
import type { PlannedStatement } from './router.js';

/** Statement kinds that follow the statements touching data ("BEGIN; UPDATE ..."). */
const FOLLOWER_KINDS = new Set(['transaction', 'session', 'empty']);

/**
 * All single-target statements of a unit must agree on one shard (a replica gives way to the
 * primary). `crossShard`: the transaction may span shards, one unit at a time
 * (CROSS_SHARD_UNIT names that rule).
 */
export function chooseTarget(statements: PlannedStatement[], crossShard = false): RouteTarget {
  let target: RouteTarget | null = null;
  const leaders = statements.filter((s) => !FOLLOWER_KINDS.has(s.facts.kind));
  for (const s of leaders.length ? leaders : statements) {
    if (s.plan.type !== 'single') continue;
    const t = s.plan.target;
    if (!target) {
      target = t;
      continue;
    }
    if (t.shard !== target.shard) {
      throw new ShardgateError(crossShard ? 'CROSS_SHARD_UNIT' : 'CROSS_SHARD_TRANSACTION', {
        first: target.shard,
        second: t.shard,
      });
    }
    if (t.role === 'primary' && target.role !== 'primary') target = t;
  }
  if (!target) throw new ShardgateError('INTERNAL', { detail: 'no target for the query' });
  return target;
}
