// Range conditions on columns (`k < v`, `k >= v`, `v > k`, `k BETWEEN a AND b`) in the top-level
// AND of a WHERE, attributed to real tables like key conditions (pg-key-conditions.ts). A
// range-sharded table then needs only the shards whose ranges the condition covers.
import type { RangeBound, RangeCondition } from './facts.js';
import { isType, list, str } from './pg-ast.js';
import { columnsOf, conjuncts, type Scope } from './pg-key-conditions.js';
import { type LiteralMap, valueRef } from './pg-values.js';

/** `col op value` as low/high bounds; `flipped` when the column is on the right. */
function bounds(
  op: string,
  bound: RangeBound,
  flipped: boolean,
): Pick<RangeCondition, 'low' | 'high'> | null {
  const o = flipped ? ({ '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as Record<string, string>)[op] : op;
  if (o === '<' || o === '<=') return { low: null, high: { ...bound, inclusive: o === '<=' } };
  if (o === '>' || o === '>=') return { low: { ...bound, inclusive: o === '>=' }, high: null };
  return null;
}

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
      const b = bounds(op, { value, inclusive: false }, left.length === 0);
      if (b) for (const col of cols) out.push({ table: col.table, column: col.column, ...b });
    } else if (e.kind === 'AEXPR_BETWEEN') {
      const cols = columnsOf(e.lexpr, scope);
      const [a, b] = list(isType(e.rexpr, 'List')?.items ?? e.rexpr).map((v) => valueRef(v, lits));
      if (!cols.length || !a || !b) continue;
      for (const col of cols)
        out.push({
          table: col.table,
          column: col.column,
          low: { value: a, inclusive: true },
          high: { value: b, inclusive: true },
        });
    }
  }
  return out;
}
