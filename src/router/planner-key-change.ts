// An UPDATE (or ON CONFLICT / ON DUPLICATE KEY UPDATE) that assigns a sharded table's shard key
// would leave the row on a shard its new key does not map to. A write whose new value is known
// and owned by the one shard it runs on just runs there. An UPDATE whose new value is a known
// constant or parameter owned by another shard is planned as a move ('key-move': the UPDATE on
// the old shards, the moved rows deleted there and inserted on the new key's shard, all in one
// cross-shard transaction) where the front end and the crossShard policy allow it; anything else
// is refused (SHARD_KEY_UPDATE, the message says why and what to do).
import type { StatementFacts } from '../sql/facts.js';
import type { ErrorPlan, KeyMovePlan, RouteTarget } from './plan.js';
import { errorPlan, type PlanContext, refusingDataType, shardByName, withBase } from './planner-context.js';
import { resolveShard } from './sharding/resolve.js';
import { classify } from './table-routing.js';

/** How the statement's shards were found (planner-data's shard demand). */
export interface KeyChangeSources {
  shards: readonly string[];
  /** No key condition: the UPDATE runs on every shard. */
  keyUnknown: boolean;
}

/**
 * The plan for a write on `sources` that assigns a shard key: null when no row would leave its
 * shard, a move when one may, else the refusal. `movable`: the statement is a plain UPDATE (an
 * upsert's DO UPDATE cannot move the row it updates).
 */
export function keyChange(
  pc: PlanContext,
  sources: KeyChangeSources,
  movable: boolean,
): ErrorPlan | KeyMovePlan | null {
  const { facts, topology } = pc.input;
  if (!facts.assignments) return null;
  for (const a of facts.assignments) {
    const config = topology.tables[a.table];
    if (!config || classify(config) !== 'sharded' || config.shardKey!.toLowerCase() !== a.column) continue;
    const value = a.value === null ? null : pc.input.resolve(a.value);
    const owner = value === null ? null : resolveShard(config, value, topology.shards);
    if (owner !== null && sources.shards.length === 1 && sources.shards[0] === owner) {
      pc.base.reasons.push(`${a.table}.${a.column} = ${value} stays on ${owner}`);
      continue;
    }
    const refuse = (why: string) =>
      errorPlan(pc.base, 'SHARD_KEY_UPDATE', {
        table: a.table,
        column: a.column,
        value: a.value === null ? 'an expression' : (value ?? 'NULL'),
        why,
      });
    if (a.value === null)
      return refuse('shardgate does only when the new value is a constant or a parameter');
    if (value === null || owner === null)
      return refuse(`shardgate cannot do: ${value === null ? 'NULL' : value} is owned by no shard`);
    if (!movable) return refuse('an upsert (ON CONFLICT / ON DUPLICATE KEY UPDATE) cannot do');
    const shape = unmovableShape(facts);
    if (shape) return refuse(`shardgate does not do for ${shape}`);
    const refusedBy = moveRefusedBy(pc);
    if (refusedBy) return refuse(`needs a cross-shard transaction, which ${refusedBy} refuses`);
    if (sources.shards.length > 1 && sources.keyUnknown && !config.scatterWrites)
      return refuse(
        `shardgate does only for rows found by their current key (add "${a.column} = ..." to the WHERE clause)`,
      );
    const targets = [...sources.shards, owner].map((n) => shardByName(topology, n)!);
    for (const s of targets) if (s.readOnly) return errorPlan(pc.base, 'SHARD_READ_ONLY', { shard: s.name });
    const primary = (name: string): RouteTarget => {
      const s = shardByName(topology, name)!;
      return { shard: s.name, server: s.primary.name, role: 'primary' };
    };
    pc.base.keys.push({ shard: owner, table: a.table, value });
    pc.base.reasons.push(
      `${a.table}.${a.column} = ${value} is owned by ${owner}: rows on ${sources.shards.join(', ')} move there (one cross-shard transaction)`,
    );
    return withBase<KeyMovePlan>(pc.base, {
      type: 'key-move',
      table: a.table,
      column: a.column,
      value,
      owner: primary(owner),
      sources: sources.shards.map(primary),
    });
  }
  return null;
}

/** What makes an UPDATE's rows impossible to move exactly (null: a plain UPDATE of one table). */
function unmovableShape(facts: StatementFacts): string | null {
  if (facts.modifyingCte) return 'a data-modifying WITH';
  if (facts.tables.length > 1 || facts.select) return 'an UPDATE that reads other tables (FROM, subqueries)';
  return null;
}

/** Who refuses the cross-shard transaction a move needs (null: two_phase is allowed). */
function moveRefusedBy(pc: PlanContext): string | null {
  const { session, topology } = pc.input;
  if (!session.crossShardTransactions) return 'transactions.crossShard';
  return (
    refusingDataType(pc.base.dataTypes, topology.dataTypes) ??
    session.crossShardRefusedBy ??
    (session.context.crossShardRefused ? 'this session (SET shardgate.cross_shard = refuse)' : null)
  );
}
