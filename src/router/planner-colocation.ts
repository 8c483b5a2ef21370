// Co-location from the join condition, not from column names. Table occurrences joined (or
// combined by a subquery) through equalities of their shard keys form one component: every row
// combination has one key value, so it lives on one shard and each shard can answer for its own
// rows. Several components can only be answered on one shard, when each is pinned to it by key
// values; anything else is refused (JOIN_NOT_COLOCATED). When the statement runs on several
// shards, a nested block that groups or limits rows must see one key value at a time
// (SUBQUERY_NOT_SHARD_LOCAL). Reference tables join with anything; unsharded tables are handled
// by the caller (they live on the default shard).
import type { TableConfig } from '../config/schema.js';
import type { ColocationFacts, ColumnOf } from '../sql/facts.js';
import type { ErrorPlan } from './plan.js';
import { errorPlan, type PlanContext } from './planner-context.js';
import { resolveShard } from './sharding/resolve.js';
import { classify } from './table-routing.js';

/** Shards the statement needs (null: every shard), or the refusal. */
export type Colocated = { shards: Set<string> | null } | ErrorPlan;

function sameSharding(a: TableConfig, b: TableConfig): boolean {
  if (a.method !== b.method || a.keyType !== b.keyType) return false;
  if (a.method === 'range') return JSON.stringify(a.ranges) === JSON.stringify(b.ranges);
  if (a.method === 'list') return JSON.stringify(a.lists) === JSON.stringify(b.lists);
  return true;
}

export function colocate(pc: PlanContext, col: ColocationFacts): Colocated {
  const { topology } = pc.input;
  const config = (ref: number): TableConfig | null => {
    const c = topology.tables[col.refs[ref]!];
    return c && classify(c) === 'sharded' ? c : null;
  };
  const keyOf = (ref: number) => config(ref)!.shardKey!.toLowerCase();
  /** The one sharded occurrence whose shard key `of` names; null when none (or ambiguous). */
  const keyRef = (of: ColumnOf): number | null => {
    let found: number | null = null;
    for (const r of of.refs) {
      const c = config(r);
      if (!c || c.shardKey!.toLowerCase() !== of.column) continue;
      if (found !== null && found !== r) return null;
      found = r;
    }
    return found;
  };
  // Union-find over occurrences linked by shard-key equalities.
  const parent = col.refs.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  for (const [a, b] of col.links) {
    const ra = keyRef(a);
    const rb = keyRef(b);
    if (ra === null || rb === null || !sameSharding(config(ra)!, config(rb)!)) continue;
    parent[find(ra)] = find(rb);
  }
  // Shards each occurrence is pinned to by key values (intersection of its pins).
  const pinned = new Map<number, Set<string>>();
  for (const pin of col.pins) {
    const r = keyRef(pin.of);
    if (r === null) continue;
    let values: string[] | null = [];
    if (pin.arrayParam !== undefined) values = pc.input.resolveArray(pin.arrayParam);
    else
      for (const v of pin.values) {
        const text = pc.input.resolve(v);
        if (text === null) values = null;
        else values?.push(text);
      }
    if (values === null) continue;
    const shards = new Set<string>();
    let owned = true;
    for (const v of values) {
      const s = resolveShard(config(r)!, v, topology.shards);
      if (s === null) owned = false;
      else shards.add(s);
    }
    if (!owned) continue;
    const before = pinned.get(r);
    pinned.set(r, before ? new Set([...before].filter((s) => shards.has(s))) : shards);
  }
  let all: Set<string> | null = new Set();
  for (const group of col.groups) {
    const components = new Map<number, { refs: number[]; shards: Set<string> | null; pinned: boolean }>();
    for (const r of group) {
      if (!config(r)) continue;
      const root = find(r);
      let c = components.get(root);
      if (!c) components.set(root, (c = { refs: [], shards: null, pinned: false }));
      c.refs.push(r);
      const p = pinned.get(r);
      if (p) {
        c.shards = c.shards ? new Set([...c.shards].filter((s) => p.has(s))) : new Set(p);
        c.pinned = true;
      }
    }
    const list = [...components.values()];
    if (list.length === 0) continue;
    const names = (c: (typeof list)[number]) => c.refs.map((r) => col.refs[r]).join(', ');
    let groupShards: Set<string> | null;
    if (list.length === 1) groupShards = list[0]!.shards;
    else {
      const union = new Set<string>();
      for (const c of list) for (const s of c.shards ?? []) union.add(s);
      const loose = list.find((c) => !c.pinned);
      if ((loose || union.size > 1) && topology.shards.length > 1) {
        const a = loose ?? list[0]!;
        const b = list.find((c) => c !== a)!;
        const ra = a.refs[0]!;
        const rb = b.refs[0]!;
        return errorPlan(pc.base, 'JOIN_NOT_COLOCATED', {
          left: col.refs[ra]!,
          right: col.refs[rb]!,
          detail: `"${col.refs[ra]}.${keyOf(ra)} = ${col.refs[rb]}.${keyOf(rb)}" to the join or subquery condition`,
        });
      }
      groupShards = union;
      pc.base.reasons.push(
        `${list.map(names).join(' / ')}: each pinned to ${[...union].join(', ') || 'no shard'}`,
      );
    }
    if (list.length === 1 && list[0]!.refs.length > 1)
      pc.base.reasons.push(`${names(list[0]!)}: co-located on their shard keys`);
    if (groupShards === null) all = null;
    else if (all) for (const s of groupShards) all.add(s);
  }
  if (topology.shards.length > 1 && (all === null || all.size > 1)) {
    for (const block of col.blocks) {
      const sharded = block.refs.filter((r) => config(r));
      if (sharded.length === 0) continue;
      if (
        block.keyColumns.some((k) => {
          const r = keyRef(k);
          return r !== null && block.refs.includes(r);
        })
      )
        continue;
      const r = sharded[0]!;
      return errorPlan(pc.base, 'SUBQUERY_NOT_SHARD_LOCAL', {
        what: block.what,
        table: col.refs[r]!,
        column: keyOf(r),
      });
    }
  }
  return { shards: all };
}
