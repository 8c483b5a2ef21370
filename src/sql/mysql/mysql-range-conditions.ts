// Range conditions on columns (`k < v`, `k >= v`, `v > k`, `k BETWEEN a AND b`) in the top-level
// AND of a MySQL WHERE, the counterpart of src/sql/pg-range-conditions.ts.
import type { RangeCondition } from '../facts.js';
import { betweenBounds, comparisonBounds, rangesOn } from '../range-bounds.js';
import { asArray, isNode, valueRef } from './mysql-ast.js';
import { columnsOf, conjuncts, type Scope } from './mysql-key-conditions.js';

const COMPARISONS = new Set(['<', '<=', '>', '>=']);

export function mysqlRangeConditions(where: unknown[], scope: Scope): RangeCondition[] {
  const out: RangeCondition[] = [];
  for (const e of conjuncts(where)) {
    if (e.type !== 'binary_expr' || typeof e.operator !== 'string') continue;
    if (e.operator === 'BETWEEN' && isNode(e.right)) {
      const cols = columnsOf(e.left, scope);
      const [a, b] = asArray(e.right.value).map(valueRef);
      if (!cols.length || !a || !b) continue;
      out.push(...rangesOn(cols, betweenBounds(a, b)));
      continue;
    }
    if (!COMPARISONS.has(e.operator)) continue;
    const left = columnsOf(e.left, scope);
    const cols = left.length ? left : columnsOf(e.right, scope);
    const value = valueRef(left.length ? e.right : e.left);
    if (!cols.length || !value) continue;
    const bounds = comparisonBounds(e.operator, value, left.length === 0);
    if (bounds) out.push(...rangesOn(cols, bounds));
  }
  return out;
}
