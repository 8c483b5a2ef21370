// HAVING across MySQL shards, for predicates a merge evaluates exactly (the twin of
// src/sql/pg-having.ts): count() or sum() compared with a number, combined with AND / OR / NOT.
// Each shard runs the query without HAVING and returns those aggregates as hidden columns; the
// merge filters the merged groups. Only numbers as constants: MySQL compares strings under the
// column's collation, which the merge does not reproduce. Leaf i is the i-th count/sum call of
// the clause's text, the order the scatter rewrite appends them in.
import type { AggregateFn, HavingExpr } from '../facts.js';
import { functionName, isNode, type Node, valueRef } from './mysql-ast.js';

export const HAVING_AGGREGATES: ReadonlySet<string> = new Set(['count', 'sum']);
const COMPARISONS = new Set(['=', '<>', '!=', '<', '<=', '>', '>=']);
const FLIPPED: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '=', '<>': '<>' };

function havingAggregate(node: unknown): AggregateFn | null {
  if (!isNode(node) || node.type !== 'aggr_func' || node.over) return null;
  const args = isNode(node.args) ? node.args : {};
  if (typeof args.distinct === 'string' && args.distinct !== '') return null;
  const name = functionName(node);
  return name !== null && HAVING_AGGREGATES.has(name) ? (name as AggregateFn) : null;
}

function isNumber(node: unknown): boolean {
  if (!isNode(node)) return false;
  if (node.type === 'number') return true;
  return (
    node.type === 'unary_expr' && node.operator === '-' && isNode(node.expr) && node.expr.type === 'number'
  );
}

/** The HAVING clause as an expression over hidden columns 0..n-1; null when the merge cannot. */
export function mysqlHaving(having: unknown): { expr: HavingExpr; aggregates: AggregateFn[] } | null {
  const aggregates: AggregateFn[] = [];
  const build = (n: unknown): HavingExpr | null => {
    if (!isNode(n)) return null;
    const op = typeof n.operator === 'string' ? n.operator.toUpperCase() : '';
    if (n.type === 'unary_expr' && (op === 'NOT' || op === '!')) {
      const arg = build(n.expr);
      return arg ? { op: 'not', args: [arg] } : null;
    }
    // NOT (...) arrives as a function call.
    const args = isNode(n.args) && Array.isArray(n.args.value) ? n.args.value : [];
    if (n.type === 'function' && functionName(n) === 'not' && args.length === 1) {
      const arg = build(args[0]);
      return arg ? { op: 'not', args: [arg] } : null;
    }
    if (n.type !== 'binary_expr') return null;
    if (op === 'AND' || op === '&&' || op === 'OR' || op === '||') {
      const left = build(n.left);
      const right = left && build(n.right);
      return left && right ? { op: op === 'AND' || op === '&&' ? 'and' : 'or', args: [left, right] } : null;
    }
    if (!COMPARISONS.has(op)) return null;
    const left = havingAggregate(n.left);
    const right = havingAggregate(n.right);
    if ((left === null) === (right === null)) return null;
    const constant = left ? n.right : n.left;
    const value = isNumber(constant) ? valueRef(constant as Node) : null;
    if (value === null) return null;
    const comparison = op === '!=' ? '<>' : op;
    aggregates.push((left ?? right)!);
    return {
      op: 'compare',
      comparison: left ? comparison : FLIPPED[comparison]!,
      hidden: aggregates.length - 1,
      value,
    };
  };
  const expr = build(having);
  return expr ? { expr, aggregates } : null;
}
