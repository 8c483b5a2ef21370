// An UPDATE (or ON CONFLICT / ON DUPLICATE KEY UPDATE) that assigns a sharded table's shard key
// would leave the row on a shard its new key does not map to. Until rows can move between
// shards (delete + insert in one cross-shard transaction), such a write runs only when the new
// value is known and owned by the one shard the statement runs on; otherwise it is refused.
import type { ErrorPlan } from './plan.js';
import { errorPlan, type PlanContext } from './planner-context.js';
import { resolveShard } from './sharding/resolve.js';
import { classify } from './table-routing.js';

/** The refusal for a write on `shards` that would move rows off their shard; null when none would. */
export function keyChangeRefusal(pc: PlanContext, shards: readonly string[]): ErrorPlan | null {
  const { facts, topology } = pc.input;
  if (!facts.assignments) return null;
  for (const a of facts.assignments) {
    const config = topology.tables[a.table];
    if (!config || classify(config) !== 'sharded' || config.shardKey!.toLowerCase() !== a.column) continue;
    const value = a.value === null ? null : pc.input.resolve(a.value);
    const owner = value === null ? null : resolveShard(config, value, topology.shards);
    if (owner !== null && shards.length === 1 && shards[0] === owner) {
      pc.base.reasons.push(`${a.table}.${a.column} = ${value} stays on ${owner}`);
      continue;
    }
    return errorPlan(pc.base, 'SHARD_KEY_UPDATE', {
      table: a.table,
      column: a.column,
      value: a.value === null ? 'an expression' : (value ?? 'NULL'),
    });
  }
  return null;
}
