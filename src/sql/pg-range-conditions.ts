// Range conditions on columns (`k < v`, `k >= v`, `v > k`, `k BETWEEN a AND b`) in the top-level
// AND of a WHERE, attributed to real tables like key conditions (pg-key-conditions.ts). A
// range-sharded table then needs only the shards whose ranges the condition covers.
import type { RangeCondition } from './facts.js';
import { isType, list, str } from './pg-ast.js';
import { columnsOf, conjuncts, type Scope } from './pg-key-conditions.js';
import { type LiteralMap, valueRef } from './pg-values.js';
import { betweenBounds, comparisonBounds, rangesOn } from './range-bounds.js';

export function rangeConditions(where: unknown[], scope: Scope, lits: LiteralMap): RangeCondition[] {
  const out: RangeCondition[] = [];
  for (const c of conjuncts(where)) {
    const e = isType(c, 'A_Expr');
    if (!e) continue;
    if (e.kind === 'AEXPR_OP' && list(e.name).length === 1) {
      const op = str(list(e.name)[0]) ?? '';
      const left = columnsOf(e.lexpr, scope);
      const cols = left.length ? left : columnsOf(e.rexpr, scope);
      const value = valueRef(left.length ? e.rexpr : e.lexpr, lits);
      if (!cols.length || !value) continue;
      const bounds = comparisonBounds(op, value, left.length === 0);
      if (bounds) out.push(...rangesOn(cols, bounds));
    } else if (e.kind === 'AEXPR_BETWEEN') {
      const cols = columnsOf(e.lexpr, scope);
      const [a, b] = list(isType(e.rexpr, 'List')?.items ?? e.rexpr).map((v) => valueRef(v, lits));
      if (!cols.length || !a || !b) continue;
      out.push(...rangesOn(cols, betweenBounds(a, b)));
    }
  }
  return out;
}
