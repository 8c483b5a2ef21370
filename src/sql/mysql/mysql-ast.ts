// Small helpers over node-sql-parser's JSON AST (MySQL grammar): a stack-based walk, names, and
// the ValueRef of a constant through the markers of parse-text.ts. The tree is untyped JSON on
// purpose: every access is guarded, so an unexpected shape degrades to "no fact", never a throw.
import type { ValueRef } from '../facts.js';
import { walkTree } from '../tree-walk.js';
import { MAX_MARKED, NUMBER_MARKER, PARAM_MARKER, stringMarkerIndex } from './parse-text.js';

export type Node = Record<string, unknown>;

export const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The AND-ed terms of a condition (`a AND (b && c)`: a, b, c). */
export function conjuncts(node: unknown, out: Node[] = []): Node[] {
  if (!isNode(node)) return out;
  if (node.type === 'binary_expr' && (node.operator === 'AND' || node.operator === '&&')) {
    conjuncts(node.left, out);
    conjuncts(node.right, out);
  } else out.push(node);
  return out;
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Visits every object below root (arrays entered, not visited). */
export function walk(root: unknown, visit: (node: Node) => void): void {
  walkTree([root], (cur) => {
    visit(cur as Node);
    return 'enter';
  });
}

/** A name that the grammar gives as a string, `{ value }` or `{ expr: { value } }`. */
export function nameOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (!isNode(v)) return null;
  if (typeof v.value === 'string') return v.value;
  if (isNode(v.expr) && typeof v.expr.value === 'string') return v.expr.value;
  return null;
}

/** A FROM / INSERT / UPDATE table reference: `{ db, table, as }` (not a column_ref). */
export function isTableRef(n: Node): boolean {
  return 'db' in n && typeof n.table === 'string' && n.type !== 'column_ref';
}

/** Lower-cased function name (last part, schema dropped) of a function or aggregate node. */
export function functionName(n: Node): string | null {
  if (n.type === 'aggr_func') return typeof n.name === 'string' ? n.name.toLowerCase() : null;
  if (n.type !== 'function') return null;
  if (typeof n.name === 'string') return n.name.toLowerCase();
  const parts = isNode(n.name) ? asArray(n.name.name) : [];
  const last = nameOf(parts[parts.length - 1]);
  return last === null ? null : last.toLowerCase();
}

/** A marked number back to its reference: a literal, a placeholder, or null for a real number. */
function markedNumber(v: number, negate: boolean): ValueRef | null {
  if (v >= NUMBER_MARKER && v < NUMBER_MARKER + MAX_MARKED && Number.isInteger(v)) {
    const index = v - NUMBER_MARKER;
    return negate ? { kind: 'literal', index, negate: true } : { kind: 'literal', index };
  }
  if (v > PARAM_MARKER && v < PARAM_MARKER + MAX_MARKED && Number.isInteger(v) && !negate) {
    return { kind: 'param', index: v - PARAM_MARKER };
  }
  return null;
}

/** The constant or placeholder a value node stands for; null for an expression. */
export function valueRef(node: unknown): ValueRef | null {
  if (!isNode(node)) return null;
  switch (node.type) {
    case 'number': {
      const v = typeof node.value === 'string' ? Number(node.value) : node.value;
      if (typeof v !== 'number') return null;
      return v < 0 ? markedNumber(-v, true) : markedNumber(v, false);
    }
    case 'unary_expr': {
      if (node.operator !== '-' || !isNode(node.expr) || node.expr.type !== 'number') return null;
      const inner = valueRef(node.expr);
      if (inner?.kind !== 'literal') return null;
      return inner.negate ? { kind: 'literal', index: inner.index } : { ...inner, negate: true };
    }
    case 'null':
      return { kind: 'const', value: null };
    case 'bool':
      return { kind: 'const', value: node.value ? '1' : '0' };
    default: {
      if (typeof node.type !== 'string' || !node.type.endsWith('string')) return null;
      const index = stringMarkerIndex(node.value);
      return index === null ? null : { kind: 'literal', index };
    }
  }
}

/** A plain integer constant of the shape itself (ORDER BY 2): its value, else null. */
export function positionNumber(node: unknown): number | null {
  if (!isNode(node) || node.type !== 'number' || typeof node.value !== 'number') return null;
  const v = node.value;
  return Number.isInteger(v) && v >= 0 && v < PARAM_MARKER ? v : null;
}

/** JSON of a node without locations: equal expressions compare equal. */
export function shapeKey(node: unknown): string {
  return JSON.stringify(node, (k, v: unknown) => (k === 'loc' ? undefined : v));
}

/**
 * The table column a column reference reads, by the SELECT's FROM list: for min()/max() of text,
 * whose merge compares the shards' results under that column's own collation. Undefined when
 * the FROM holds a derived or schema-qualified table, or the reference is not plain.
 */
export function columnSource(arg: unknown, sel: Node): { table: string; column: string } | undefined {
  const column = isNode(arg) && arg.type === 'column_ref' && !arg.collate ? nameOf(arg.column) : null;
  if (!isNode(arg) || !column || column === '*') return undefined;
  const from = asArray(sel.from);
  const tables = from.filter((t): t is Node => isNode(t) && isTableRef(t));
  if (tables.length !== from.length || tables.some((t) => t.db)) return undefined;
  const q = nameOf(arg.table);
  const named = (t: Node) => String(typeof t.as === 'string' ? t.as : t.table);
  const hit = q === null ? (tables.length === 1 ? tables[0] : undefined) : tables.find((t) => named(t) === q);
  return hit ? { table: String(hit.table), column } : undefined;
}
