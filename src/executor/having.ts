// HAVING of the simple merge: comparisons of merged aggregates with constants, combined with
// AND / OR / NOT under SQL's three-valued logic; a group is kept only when the clause is true.
import { ShardgateError } from '../errors.js';
import type { MergeHaving } from '../router/plan.js';
import { compareDecimal, compareValues, decodeCell } from './cell-values.js';
import type { ColumnInfo, Row } from './rows.js';

const NUMERIC = 1700;

export function filterHaving(rows: Row[], having: MergeHaving, columns: ColumnInfo[]): Row[] {
  return rows.filter((r) => havingHolds(having, r, columns) === true);
}

/** HAVING on a merged group: true, false or null (unknown, as SQL's three-valued logic). */
function havingHolds(e: MergeHaving, row: Row, cols: ColumnInfo[]): boolean | null {
  if (e.op === 'compare') {
    const cell = row[e.column] ?? null;
    if (cell === null || e.value === null) return null;
    const col = cols[e.column]!;
    const v = decodeCell(cell, col);
    let c: number;
    if (typeof v === 'bigint' || col.typeOid === NUMERIC) {
      if (!/^[-+]?\d+(\.\d*)?$/.test(e.value.trim()))
        throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: `HAVING compared with ${e.value}` });
      c = compareDecimal(String(v), e.value.trim());
    } else if (typeof v === 'number') c = compareValues(v, Number(e.value), false);
    else c = compareValues(v, e.value, false);
    switch (e.comparison) {
      case '=':
        return c === 0;
      case '<>':
        return c !== 0;
      case '<':
        return c < 0;
      case '<=':
        return c <= 0;
      case '>':
        return c > 0;
      default:
        return c >= 0;
    }
  }
  const args = e.args.map((a) => havingHolds(a, row, cols));
  if (e.op === 'not') return args[0] === null || args[0] === undefined ? null : !args[0];
  if (e.op === 'and') return args.includes(false) ? false : args.includes(null) ? null : true;
  return args.includes(true) ? true : args.includes(null) ? null : false;
}
