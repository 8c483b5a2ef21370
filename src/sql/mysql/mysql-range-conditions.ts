// Range conditions on columns (`k < v`, `k >= v`, `v > k`, `k BETWEEN a AND b`) in the top-level
// AND of a MySQL WHERE, the counterpart of src/sql/pg-range-conditions.ts.
import type { RangeCondition } from '../facts.js';
import { asArray, isNode, valueRef } from './mysql-ast.js';
import { columnsOf, conjuncts, type Scope } from './mysql-key-conditions.js';

const FLIP: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

export function mysqlRangeConditions(where: unknown[], scope: Scope): RangeCondition[] {
  const out: RangeCondition[] = [];
  for (const e of conjuncts(where)) {
    if (e.type !== 'binary_expr' || typeof e.operator !== 'string') continue;
    if (e.operator === 'BETWEEN' && isNode(e.right)) {
      const cols = columnsOf(e.left, scope);
      const [a, b] = asArray(e.right.value).map(valueRef);
      if (!cols.length || !a || !b) continue;
      for (const c of cols)
        out.push({
          table: c.table,
          column: c.column,
          low: { value: a, inclusive: true },
          high: { value: b, inclusive: true },
        });
      continue;
    }
    if (!(e.operator in FLIP)) continue;
    const left = columnsOf(e.left, scope);
    const cols = left.length ? left : columnsOf(e.right, scope);
    const value = valueRef(left.length ? e.right : e.left);
    if (!cols.length || !value) continue;
    const op = left.length ? e.operator : FLIP[e.operator]!;
    const bound = { value, inclusive: op.endsWith('=') };
    const low = op.startsWith('>') ? bound : null;
    const high = op.startsWith('<') ? bound : null;
    for (const c of cols) out.push({ table: c.table, column: c.column, low, high });
  }
  return out;
}
