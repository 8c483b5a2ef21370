// DISTINCT (equal under each column's collation) and DISTINCT ON (the first row of each key in
// the merged order) over merged rows.
import { groupKey } from './cell-values.js';
import type { ColumnInfo, Row } from './rows.js';

export function distinctRows(rows: Row[], columns: readonly ColumnInfo[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = r.map((c, i) => groupKey(c, columns[i]!)).join('\u0001');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** DISTINCT ON: the first row (in the merged order) of each key. */
export function firstPerKey(rows: Row[], keyColumns: readonly number[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = keyColumns.map((c) => (r[c] === null ? '\u0000N' : r[c]!.toString('latin1'))).join('\u0001');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
