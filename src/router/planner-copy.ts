// COPY table FROM STDIN into a table that lives on several shards: a sharded table's rows are
// split by shard key, a reference table's rows go to every shard. Both need every shard's primary
// at once, so inside a transaction it follows the rule for any multi-shard statement there
// (CROSS_SHARD_TRANSACTION, see docs/transactions.md); a shard= hint still sends it to one shard.
// Unsharded tables take the ordinary path to their home shard.
import type { CopyInPlan, Plan } from './plan.js';
import {
  errorPlan,
  multiShardWriteRefusal,
  type PlanContext,
  primaryTargets,
  singlePlan,
  withBase,
} from './planner-context.js';
import { classify } from './table-routing.js';

/** The plan of a COPY FROM into a sharded or reference table; null when the ordinary path applies. */
export function planCopyIn(pc: PlanContext): Plan | null {
  const { facts, topology } = pc.input;
  const copy = facts.copyIn;
  if (!copy || pc.forcedShard || !copy.stdin) return null;
  const config = topology.tables[copy.table.toLowerCase()];
  const kind = classify(config);
  if (kind === 'unsharded') return null;
  const shards = topology.shards;
  const refused = multiShardWriteRefusal(pc, shards);
  if (refused) return refused;
  if (shards.length === 1) return singlePlan(pc, shards[0]!, true, null);
  if (copy.problem) return errorPlan(pc.base, 'FEATURE_NOT_SUPPORTED', { detail: copy.problem });
  const keyColumn = kind === 'sharded' ? config!.shardKey!.toLowerCase() : null;
  if (keyColumn && copy.columns && !copy.columns.some((c) => c.toLowerCase() === keyColumn)) {
    return errorPlan(pc.base, 'COPY_KEY_MISSING', {
      table: copy.table,
      column: keyColumn,
      line: 1,
      detail: 'the column list leaves it out',
    });
  }
  pc.base.reasons.push(
    keyColumn
      ? `COPY FROM STDIN into sharded ${copy.table}: rows split by ${keyColumn} over every primary`
      : `COPY FROM STDIN into reference ${copy.table}: every row to every primary`,
  );
  return withBase<CopyInPlan>(pc.base, {
    type: 'copy-in',
    table: copy.table.toLowerCase(),
    targets: primaryTargets(shards),
    keyColumn,
  });
}
