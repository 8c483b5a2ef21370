// ORDER BY over merged rows: each row's sort keys decoded once, compared item by item (NULLS
// FIRST/LAST, DESC), ties kept in shard order so the result is what one server's stable sort of
// the same rows would give. `SELECT * ... ORDER BY col` finds col among the columns by name.
import { ShardgateError } from '../errors.js';
import type { MergeOrder } from '../router/plan.js';
import { type Comparable, compareValues, decodeCell } from './cell-values.js';
import type { ColumnInfo, Row } from './rows.js';

const NUMERIC = 1700;

/** Two rows' ORDER BY keys (decoded cells, one per order item) compared as the merge orders them. */
export function compareSortKeys(
  a: readonly Comparable[],
  b: readonly Comparable[],
  orders: readonly MergeOrder[],
  cols: readonly ColumnInfo[],
): number {
  for (let j = 0; j < orders.length; j++) {
    const o = orders[j]!;
    const va = a[j]!;
    const vb = b[j]!;
    if (va === null || vb === null) {
      if (va === vb) continue;
      return (va === null) === o.nullsFirst ? -1 : 1;
    }
    const c = compareValues(va, vb, cols[o.column]?.typeOid === NUMERIC);
    if (c !== 0) return o.desc ? -c : c;
  }
  return 0;
}

/** The one column of the result called `name` (ORDER BY a column of `*`). */
function columnNamed(name: string, columns: readonly ColumnInfo[]): number {
  const found = columns.flatMap((c, i) => (c.name === name ? [i] : []));
  if (found.length !== 1)
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail: `ORDER BY ${name} with * in the select list matches ${found.length} result columns; list the columns explicitly`,
    });
  return found[0]!;
}

/** Rows sorted by `orders`, stable (equal keys keep their order: shard order, then arrival). */
export function sortRows(rows: Row[], orders: readonly MergeOrder[], columns: readonly ColumnInfo[]): Row[] {
  const resolved = orders.map((o) =>
    o.column >= 0 ? o : { ...o, column: columnNamed(o.name ?? '', columns) },
  );
  const keyed = rows.map((r, i) => ({
    r,
    i,
    k: resolved.map((o) => decodeCell(r[o.column] ?? null, columns[o.column]!)),
  }));
  keyed.sort((a, b) => compareSortKeys(a.k, b.k, resolved, columns) || a.i - b.i);
  return keyed.map((k) => k.r);
}
