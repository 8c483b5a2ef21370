// Evaluates a set operation over the tagged leaf rows every shard returned (the leaf number is
// the last column): UNION / INTERSECT / EXCEPT with set semantics (each distinct row once; NULLs
// equal, as set operations compare them), and the ALL variants with multiset counts (UNION ALL
// adds, INTERSECT ALL takes the smaller count, EXCEPT ALL subtracts). A leaf that reads no
// sharded table holds the same rows on every shard: it is taken from the first shard only.
import type { SetTree } from '../sql/facts.js';
import { groupKey } from './cell-values.js';
import type { ColumnInfo, Row } from './rows.js';

interface Bag {
  /** Row key -> one representative row and how many times it occurs. */
  rows: Map<string, { row: Row; count: number }>;
}

/** Equal keys: rows equal as the set operation compares them (text under its collation). */
function rowKey(row: Row, cols: ColumnInfo[]): string {
  return row
    .map((c, i) => (cols[i] ? groupKey(c, cols[i]!) : c === null ? '\u0000N' : c.toString('latin1')))
    .join('\u0001');
}

function add(bag: Bag, row: Row, count: number, key: string): void {
  const seen = bag.rows.get(key);
  if (seen) seen.count += count;
  else bag.rows.set(key, { row, count });
}

function apply(tree: SetTree, leaves: Bag[]): Bag {
  if ('leaf' in tree) return leaves[tree.leaf] ?? { rows: new Map() };
  const l = apply(tree.left, leaves);
  const r = apply(tree.right, leaves);
  const out: Bag = { rows: new Map() };
  const distinct = !tree.all;
  switch (tree.op) {
    case 'union':
      for (const b of [l, r]) for (const [key, { row, count }] of b.rows) add(out, row, count, key);
      if (distinct) for (const e of out.rows.values()) e.count = 1;
      return out;
    case 'intersect':
      for (const [key, { row, count }] of l.rows) {
        const other = r.rows.get(key)?.count ?? 0;
        const n = distinct ? Math.min(1, other) : Math.min(count, other);
        if (n > 0) out.rows.set(key, { row, count: n });
      }
      return out;
    case 'except':
      for (const [key, { row, count }] of l.rows) {
        const other = r.rows.get(key)?.count ?? 0;
        const n = distinct ? (other > 0 ? 0 : 1) : count - other;
        if (n > 0) out.rows.set(key, { row, count: n });
      }
      return out;
  }
}

/** perShard[i]: shard i's rows, each ending with its leaf number. Rows come back without it. */
export function evaluateSetOperation(
  perShard: Array<Row[] | undefined>,
  tree: SetTree,
  onceLeaves: number[],
  cols: ColumnInfo[] = [],
): Row[] {
  const leaves: Bag[] = [];
  const once = new Set(onceLeaves);
  const firstShard = perShard.findIndex((rows) => rows !== undefined);
  perShard.forEach((rows, shard) => {
    for (const row of rows ?? []) {
      const leaf = Number(row[row.length - 1]?.toString('latin1'));
      if (once.has(leaf) && shard !== firstShard) continue;
      leaves[leaf] ??= { rows: new Map() };
      const values = row.slice(0, -1);
      add(leaves[leaf]!, values, 1, rowKey(values, cols));
    }
  });
  const result = apply(tree, leaves);
  const out: Row[] = [];
  for (const { row, count } of result.rows.values()) for (let i = 0; i < count; i++) out.push(row);
  return out;
}
