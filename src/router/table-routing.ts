// Which shards a statement's tables need: tables are sharded (a shardKey), reference (same rows
// on every shard) or unsharded (on its home: the default shard unless the config names one); key conditions on a sharded table's key
// resolve to owning shards. Pure helpers for planner.ts.
import type { TableConfig } from '../config/schema.js';
import type { KeyCondition, StatementFacts, ValueRef } from '../sql/facts.js';
import type { TopologyView } from './inputs.js';
import type { PlanBase } from './plan.js';
import { rangeShards } from './sharding/range.js';
import { resolveShard } from './sharding/resolve.js';

export type TableClass = 'sharded' | 'reference' | 'unsharded';

export function classify(config: TableConfig | undefined): TableClass {
  if (!config) return 'unsharded';
  if (config.reference) return 'reference';
  return config.shardKey ? 'sharded' : 'unsharded';
}

export interface TableSets {
  sharded: string[];
  reference: string[];
  unsharded: string[];
}

export function classifyTables(tables: readonly string[], topology: TopologyView): TableSets {
  const sets: TableSets = { sharded: [], reference: [], unsharded: [] };
  for (const t of tables) sets[classify(topology.tables[t])].push(t);
  return sets;
}

/** The shard an unsharded table lives on: its configured home, else the default shard. */
export function homeOf(table: string, topology: TopologyView): string {
  return topology.tables[table]?.home ?? topology.defaultShard;
}

/** The homes of unsharded tables, in first-seen order. */
export function homesOf(tables: readonly string[], topology: TopologyView): string[] {
  return [...new Set(tables.map((t) => homeOf(t, topology)))];
}

export interface ValueSource {
  resolve(ref: ValueRef): string | null;
  resolveArray(paramIndex: number): string[] | null;
}

/** Owning shards of one sharded table from its key conditions; null shards = cannot tell. */
export interface TableShards {
  shards: Set<string> | null;
  /** Why the shards are unknown (no condition, unresolvable value, value owned by no shard). */
  unknown: string | null;
}

function conditionValues(cond: KeyCondition, values: ValueSource): string[] | null {
  if (cond.arrayParam !== undefined) return values.resolveArray(cond.arrayParam);
  const out: string[] = [];
  for (const ref of cond.values) {
    const v = values.resolve(ref);
    if (v === null) return null;
    out.push(v);
  }
  return out;
}

/**
 * Shards of `table` from the statement's key conditions on its shard key. Several conditions on
 * the same table (e.g. the outer query and a subquery) are united: each may read other rows.
 */
export function shardsOfTable(
  table: string,
  config: TableConfig,
  facts: StatementFacts,
  values: ValueSource,
  topology: TopologyView,
  keys: PlanBase['keys'],
): TableShards {
  const column = config.shardKey!.toLowerCase();
  let shards: Set<string> | null = null;
  for (const cond of facts.keyConditions) {
    if (cond.table !== table || cond.column !== column) continue;
    const list = conditionValues(cond, values);
    if (list === null) return { shards: null, unknown: `${table}.${column}: value not known` };
    shards ??= new Set();
    for (const v of list) {
      const shard = resolveShard(config, v, topology.shards);
      if (shard === null) return { shards: null, unknown: `${table}.${column} = ${v}: owned by no shard` };
      shards.add(shard);
      keys.push({ shard, table, value: v });
    }
  }
  if (shards === null && config.method === 'range' && facts.ranges) {
    // Key ranges (BETWEEN, <, >): only the shards whose ranges they meet; several conditions
    // on the key all hold (AND), so their shard sets intersect.
    let ranged: Set<string> | null = null;
    for (const r of facts.ranges) {
      if (r.table !== table || r.column !== column) continue;
      const low = r.low && values.resolve(r.low.value);
      const high = r.high && values.resolve(r.high.value);
      if ((r.low && low === null) || (r.high && high === null)) continue;
      const met = rangeShards(
        config,
        r.low && low !== null ? { value: low, inclusive: r.low.inclusive } : null,
        r.high && high !== null ? { value: high, inclusive: r.high.inclusive } : null,
      );
      ranged =
        ranged === null ? met : new Set([...(ranged as Set<string>)].filter((s: string) => met.has(s)));
    }
    if (ranged !== null) return { shards: ranged, unknown: null };
  }
  if (shards === null) return { shards: null, unknown: `${table}: no condition on ${column}` };
  return { shards, unknown: null };
}

/** Shard names in topology order, keeping those in `wanted`. */
export function inTopologyOrder(wanted: ReadonlySet<string>, topology: TopologyView): string[] {
  const out: string[] = [];
  for (const s of topology.shards) if (wanted.has(s.name)) out.push(s.name);
  return out;
}
