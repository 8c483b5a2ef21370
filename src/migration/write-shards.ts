// Which shards a multi-shard plan writes to: the write admissions a session of either protocol
// takes at the cutover gate (cutover-gate.ts) before running it.
import type { Plan } from '../router/plan.js';

/** Shards a multi-shard plan writes to (none for reads). */
export function writeShards(plan: Plan): string[] {
  if (plan.type === 'split-insert') return plan.parts.map((p) => p.target.shard);
  if (plan.type === 'copy-in') return plan.targets.map((t) => t.shard);
  if (plan.type === 'scatter' && plan.write) return plan.targets.map((t) => t.shard);
  if (plan.type === 'key-move') return [...new Set([...plan.sources, plan.owner].map((t) => t.shard))];
  return [];
}
