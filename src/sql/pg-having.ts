// HAVING across shards, for predicates a merge can evaluate exactly: comparisons of an aggregate
// (count, sum, min, max) with a constant, combined with AND / OR / NOT. Each shard runs the query
// without HAVING and returns the aggregates as hidden columns; the merge filters the merged groups.
// The analyzer (constants as value references) and the rewrite (aggregate call texts) walk the
// clause in the same order, so leaf i is hidden column i of the HAVING.
import type { HavingExpr, ValueRef } from './facts.js';
import { isType, lastName, list, type Node, nodeType, str } from './pg-ast.js';

const HAVING_AGGREGATES = new Set(['count', 'sum', 'min', 'max']);
const COMPARISONS = new Set(['=', '<>', '!=', '<', '<=', '>', '>=']);
const FLIPPED: Record<string, string> = {
  '<': '>',
  '<=': '>=',
  '>': '<',
  '>=': '<=',
  '=': '=',
  '<>': '<>',
  '!=': '<>',
};

function aggregateCall(node: unknown): Node | null {
  const f = isType(node, 'FuncCall');
  if (!f || f.over || f.agg_distinct || f.agg_order || f.agg_within_group) return null;
  return HAVING_AGGREGATES.has(lastName(f.funcname) ?? '') ? f : null;
}

/** The aggregate calls of a supported HAVING clause, left to right; null when unsupported. */
export function havingCalls(having: unknown): Node[] | null {
  const out: Node[] = [];
  const visit = (node: unknown): boolean => {
    const t = nodeType(node);
    if (!t) return false;
    const [type, b] = t;
    if (type === 'BoolExpr') return list(b.args).every(visit);
    if (type !== 'A_Expr' || b.kind !== 'AEXPR_OP') return false;
    const op = str(list(b.name)[0]);
    if (op === null || !COMPARISONS.has(op)) return false;
    const left = aggregateCall(b.lexpr);
    const right = aggregateCall(b.rexpr);
    if ((left === null) === (right === null)) return false;
    out.push((left ?? right)!);
    return true;
  };
  return visit(having) ? out : null;
}

/** The HAVING clause as an expression over hidden columns 0..n-1; null when unsupported. */
export function havingExpr(having: unknown, constant: (node: unknown) => ValueRef | null): HavingExpr | null {
  let next = 0;
  const build = (node: unknown): HavingExpr | null => {
    const t = nodeType(node);
    if (!t) return null;
    const [type, b] = t;
    if (type === 'BoolExpr') {
      const args = list(b.args).map(build);
      if (args.some((a) => a === null)) return null;
      const op = b.boolop === 'AND_EXPR' ? 'and' : b.boolop === 'OR_EXPR' ? 'or' : 'not';
      return { op, args: args as HavingExpr[] };
    }
    const op = str(list(b.name)[0]) ?? '';
    const left = aggregateCall(b.lexpr);
    const value = constant(left ? b.rexpr : b.lexpr);
    if (value === null) return null;
    return {
      op: 'compare',
      comparison: left ? (op === '!=' ? '<>' : op) : FLIPPED[op]!,
      hidden: next++,
      value,
    };
  };
  return havingCalls(having) === null ? null : build(having);
}
