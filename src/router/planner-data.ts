// Reads and writes of table data: the level, the shards the tables need (key conditions,
// reference and unsharded tables, join rules), then a single, scatter or refused plan.
import type { ConsistencyLevel } from '../config/schema.js';
import type { StatementFacts } from '../sql/facts.js';
import { decideLevel } from './consistency.js';
import type { ShardView, TopologyView } from './inputs.js';
import { mergeFor } from './merge-spec.js';
import type { ErrorPlan, Plan, RouteTarget, ScatterPlan } from './plan.js';
import { colocate } from './planner-colocation.js';
import {
  crossShard,
  errorPlan,
  type PlanContext,
  readTarget,
  scatterWrite,
  shardByName,
  singlePlan,
  withBase,
} from './planner-context.js';
import { planInsert } from './planner-insert.js';
import { broadcastJoin } from './planner-join.js';
import { keyChange } from './planner-key-change.js';
import {
  classifyTables,
  homeOf,
  homesOf,
  inTopologyOrder,
  shardsOfTable,
  type TableSets,
} from './table-routing.js';

const writeFunctionSets = new WeakMap<readonly string[], Set<string>>();

function writeFunctionCalled(facts: StatementFacts, topology: TopologyView): string | null {
  if (facts.functions.length === 0) return null;
  const list = topology.routing.writeFunctions;
  let set = writeFunctionSets.get(list);
  if (!set) {
    set = new Set(list.map((f) => f.toLowerCase()));
    writeFunctionSets.set(list, set);
  }
  for (const f of facts.functions) if (set.has(f)) return f;
  return null;
}

interface Demand {
  /** Shard names in topology order. */
  shards: string[];
  /** Why several shards are needed ('' when the keys decided). */
  why: string;
  keyUnknown: { table: string; column: string } | null;
}

/** The shards the statement's tables need (reads and non-reference writes). */
export function shardDemand(pc: PlanContext, sets: TableSets): Demand | ErrorPlan {
  const { facts, topology, session } = pc.input;
  const home =
    session.inTransaction && session.transactionShard ? session.transactionShard : topology.defaultShard;
  const homes = homesOf(sets.unsharded, topology);
  if (homes.length > 1) {
    return errorPlan(pc.base, 'SCATTER_UNSUPPORTED', {
      detail: `unsharded ${sets.unsharded.map((t) => `${t} (on ${homeOf(t, topology)})`).join(', ')} live on different shards`,
    });
  }
  const unshardedHome = homes[0] ?? null;
  if (sets.sharded.length === 0) {
    if (unshardedHome !== null)
      pc.base.reasons.push(`unsharded ${sets.unsharded.join(', ')} -> ${unshardedHome}`);
    else if (sets.reference.length > 0)
      pc.base.reasons.push(`reference ${sets.reference.join(', ')} -> ${home}`);
    return { shards: [unshardedHome ?? home], why: '', keyUnknown: null };
  }
  let union: Set<string> | null = new Set();
  let why = '';
  let keyUnknown: Demand['keyUnknown'] = null;
  for (const table of sets.sharded) {
    const config = topology.tables[table]!;
    const r = shardsOfTable(table, config, facts, pc.input, topology, pc.base.keys);
    if (r.shards === null) {
      pc.base.reasons.push(`${r.unknown} -> all shards`);
      why ||= r.unknown!;
      keyUnknown ??= { table, column: config.shardKey! };
      union = null;
    } else {
      const list = inTopologyOrder(r.shards, topology);
      pc.base.reasons.push(`${table}.${config.shardKey} -> ${list.join(', ') || 'no shard'}`);
      if (union) for (const s of r.shards) union.add(s);
    }
  }
  if (facts.colocation) {
    // Per occurrence and join condition: decides over the per-table union above.
    const co = colocate(pc, facts.colocation);
    if ('type' in co) return co;
    union = co.shards;
  }
  const shards = union ? inTopologyOrder(union, topology) : topology.shards.map((s) => s.name);
  if (shards.length === 0) {
    // e.g. `= ANY('{}')`: no row can match; any one shard answers correctly.
    pc.base.reasons.push(`no key value -> ${home}`);
    return { shards: [home], why: '', keyUnknown: null };
  }
  if (unshardedHome !== null && (shards.length > 1 || shards[0] !== unshardedHome)) {
    return errorPlan(pc.base, 'SCATTER_UNSUPPORTED', {
      detail: `sharded ${sets.sharded.join(', ')} (shards ${shards.join(', ')}) is joined with unsharded ${sets.unsharded.join(', ')}, which lives only on ${unshardedHome}`,
    });
  }
  if (shards.length > 1 && sets.sharded.length > 1 && !facts.colocation) {
    // No analysis of how the tables are combined (a statement the parser could not read).
    return errorPlan(pc.base, 'SCATTER_UNSUPPORTED', {
      detail: `how ${sets.sharded.join(', ')} are joined could not be analyzed, and they need shards ${shards.join(', ')}`,
    });
  }
  if (!why && shards.length > 1) why = `key values on ${shards.join(', ')}`;
  return { shards, why, keyUnknown };
}

export function planData(pc: PlanContext): Plan {
  const { facts, topology, session } = pc.input;
  const writeFunction = writeFunctionCalled(facts, topology);
  const write =
    facts.kind === 'write' ||
    facts.locking ||
    facts.modifyingCte ||
    writeFunction !== null ||
    facts.writeTables.length > 0;
  const decision = decideLevel(facts.tables, pc.ctx, topology);
  pc.base.dataTypes = decision.dataTypes;
  for (const r of decision.reasons) pc.base.reasons.push(r);
  pc.maxLagMs = decision.maxLagMs;
  pc.floor = decision.floor;
  let level: ConsistencyLevel | null = decision.level;
  if (write) {
    level = null;
    pc.base.reasons.push(writeFunction ? `calls ${writeFunction}() -> write` : 'write');
  } else if (session.inTransaction && !session.transactionReadOnly) {
    level = 'strong';
    pc.base.reasons.push('read in a read-write transaction -> primary');
  }
  pc.base.level = level;
  if (pc.forcedShard) {
    pc.base.reasons.push(`shard=${pc.forcedShard.name} forced`);
    if (write) {
      const refused = forcedWriteRefusal(pc, pc.forcedShard);
      if (refused) return refused;
    }
    return singlePlan(pc, pc.forcedShard, write, level);
  }
  if (facts.insert?.rowsUnread)
    pc.base.reasons.push('bulk insert past limits.maxStatementTokens: rows not read');
  if (facts.insert && facts.writeTables.length > 0) {
    const insertPlan = planInsert(pc, facts.insert);
    if (insertPlan) return insertPlan;
  }
  const sets = classifyTables(facts.tables, topology);
  const referenceWrites = facts.writeTables.filter((t) => sets.reference.includes(t));
  if (referenceWrites.length > 0) return planReferenceWrite(pc, referenceWrites, sets.sharded);
  const demand = shardDemand(pc, sets);
  if ('type' in demand)
    return demand.code === 'JOIN_NOT_COLOCATED' ? broadcastJoin(pc, demand, write) : demand;
  // A plain UPDATE of one table (no INSERT ... ON CONFLICT) may move rows to another shard.
  const movable = facts.kind === 'write' && !facts.insert;
  const moved = write
    ? keyChange(pc, { shards: demand.shards, keyUnknown: !!demand.keyUnknown }, movable)
    : null;
  if (moved) return moved;
  if (demand.shards.length === 1)
    return singlePlan(pc, shardByName(topology, demand.shards[0]!)!, write, level);
  const crossTx = crossShard(pc, demand.shards);
  if (crossTx) return crossTx;
  const shards = demand.shards.map((n) => shardByName(topology, n)!);
  if (write) {
    const written = facts.writeTables.length > 0 ? facts.writeTables : sets.sharded;
    const refusing = written.filter((t) => sets.sharded.includes(t) && !topology.tables[t]!.scatterWrites);
    // Known key values: the same UPDATE/DELETE on each owning shard touches exactly those rows
    // (outside a transaction, so not atomic across shards, as a split multi-row INSERT).
    const splittable =
      !demand.keyUnknown && facts.kind === 'write' && !facts.modifyingCte && !facts.select && !writeFunction;
    if (refusing.length > 0 && splittable) {
      pc.base.reasons.push(`key values known -> ${demand.shards.join(', ')} primaries, one statement each`);
      return scatterWrite(pc, shards);
    }
    if (refusing.length > 0) {
      const table = refusing[0]!;
      const column = topology.tables[table]!.shardKey!;
      if (demand.keyUnknown)
        return errorPlan(pc.base, 'SCATTER_WRITE_REFUSED', {
          verb: writeVerb(facts, writeFunction),
          table,
          column,
        });
      return errorPlan(pc.base, 'SCATTER_UNSUPPORTED', {
        detail: `a write on ${table} would touch shards ${demand.shards.join(', ')} (${demand.why}) and the table does not allow scatterWrites`,
      });
    }
    pc.base.reasons.push(`scatterWrites allowed -> ${demand.shards.join(', ')} primaries`);
    if (facts.writeTables.length === 0) return scatterRead(pc, shards, null);
    return scatterWrite(pc, shards);
  }
  return scatterRead(pc, shards, level);
}

function writeVerb(facts: StatementFacts, writeFunction: string | null): string {
  if (facts.locking) return 'SELECT ... FOR UPDATE/SHARE';
  if (facts.modifyingCte) return 'a data-modifying WITH';
  if (writeFunction && facts.writeTables.length === 0) return `SELECT ${writeFunction}(...)`;
  return 'UPDATE/DELETE';
}

/** A read on several shards; level null: on the primaries (a locking read allowed to scatter). */
function scatterRead(pc: PlanContext, shards: readonly ShardView[], level: ConsistencyLevel | null): Plan {
  const shardKeys = new Set<string>();
  const sharded = new Set<string>();
  for (const t of pc.input.facts.tables) {
    const key = pc.input.topology.tables[t]?.shardKey;
    if (key) {
      shardKeys.add(key);
      sharded.add(t);
    }
  }
  const merged = mergeFor(pc.input.facts.select, pc.input.resolve, { shardKeys, sharded });
  if ('unsupported' in merged)
    return errorPlan(pc.base, 'SCATTER_UNSUPPORTED', { detail: merged.unsupported });
  const targets = shards.map(
    (s): RouteTarget =>
      level === null ? { shard: s.name, server: s.primary.name, role: 'primary' } : readTarget(pc, s, level),
  );
  if (merged.rewrite) pc.base.reasons.push('per-shard SQL needs a rewrite');
  const plan: ScatterPlan = withBase<ScatterPlan>(pc.base, {
    type: 'scatter',
    targets,
    write: level === null,
    merge: merged.merge,
    rewrittenSql: null,
    rewrite: merged.rewrite,
  });
  return plan;
}

function planReferenceWrite(pc: PlanContext, tables: string[], sharded: string[]): Plan {
  const { facts, topology } = pc.input;
  const others = facts.writeTables.filter((t) => !tables.includes(t));
  if (others.length > 0 || sharded.length > 0) {
    return errorPlan(pc.base, 'SCATTER_UNSUPPORTED', {
      detail: `a statement that writes reference table ${tables.join(', ')} must not also use ${[...new Set([...others, ...sharded])].join(', ')}: every shard would write different rows`,
    });
  }
  pc.base.reasons.push(`reference ${tables.join(', ')} written on every shard`);
  return scatterWrite(pc, topology.shards);
}

/**
 * A write under shard= runs on that shard only, so the shard must own every row it can touch:
 * not a reference table (written on every shard), not an unsharded table away from its shard,
 * sharded keys owned by the forced shard, and without keys only where scatterWrites allows.
 */
function forcedWriteRefusal(pc: PlanContext, forced: ShardView): ErrorPlan | null {
  const { facts, topology } = pc.input;
  const refuse = (detail: string) =>
    errorPlan(pc.base, 'ROUTING_OVERRIDE_REFUSED', { shard: forced.name, detail });
  const sets = classifyTables(facts.tables, topology);
  const referenceWrites = facts.writeTables.filter((t) => sets.reference.includes(t));
  if (referenceWrites.length > 0)
    return refuse(`reference table ${referenceWrites.join(', ')} is written on every shard`);
  if (facts.insert && facts.writeTables.length > 0) {
    const insertPlan = planInsert(
      { ...pc, forcedShard: null, base: { ...pc.base, reasons: [], keys: [] } },
      facts.insert,
    );
    if (insertPlan) {
      if (insertPlan.type === 'error') return insertPlan;
      const shards =
        insertPlan.type === 'single'
          ? [insertPlan.target.shard]
          : [...new Set(insertPlan.keys.map((k) => k.shard))];
      const elsewhere = shards.filter((s) => s !== forced.name);
      if (elsewhere.length > 0) return refuse(`the inserted keys belong to shard ${elsewhere.join(', ')}`);
      return null;
    }
  }
  const demand = shardDemand({ ...pc, base: { ...pc.base, reasons: [], keys: [] } }, sets);
  if ('type' in demand) return demand;
  if (demand.keyUnknown) {
    const written = facts.writeTables.length > 0 ? facts.writeTables : sets.sharded;
    const refusing = written.filter((t) => sets.sharded.includes(t) && !topology.tables[t]!.scatterWrites);
    if (refusing.length > 0)
      return refuse(
        `the write on ${refusing.join(', ')} has no shard-key condition and the table does not allow scatterWrites`,
      );
    return null;
  }
  const elsewhere = demand.shards.filter((s) => s !== forced.name);
  if (elsewhere.length > 0) return refuse(`the rows it writes belong to shard ${elsewhere.join(', ')}`);
  return null;
}
