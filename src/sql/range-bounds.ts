// The bounds a comparison or BETWEEN puts on a column, for both dialects' range conditions
// (pg-range-conditions.ts, mysql/mysql-range-conditions.ts): each parses its own AST, the
// reading of `<`, `<=`, `>`, `>=` and BETWEEN is this one.
import type { RangeCondition, ValueRef } from './facts.js';

type Bounds = Pick<RangeCondition, 'low' | 'high'>;

const FLIPPED: Readonly<Record<string, string>> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/** `col op value` as low/high bounds, null for another operator; `flipped`: `value op col`. */
export function comparisonBounds(op: string, value: ValueRef, flipped: boolean): Bounds | null {
  const o = flipped ? FLIPPED[op] : op;
  if (o === '<' || o === '<=') return { low: null, high: { value, inclusive: o === '<=' } };
  if (o === '>' || o === '>=') return { low: { value, inclusive: o === '>=' }, high: null };
  return null;
}

/** `col BETWEEN low AND high`: both ends inclusive. */
export function betweenBounds(low: ValueRef, high: ValueRef): Bounds {
  return { low: { value: low, inclusive: true }, high: { value: high, inclusive: true } };
}

/** The bounds on each column the expression may name. */
export function rangesOn(
  cols: ReadonlyArray<{ table: string; column: string }>,
  bounds: Bounds,
): RangeCondition[] {
  return cols.map((c) => ({ table: c.table, column: c.column, ...bounds }));
}
