// Small helpers over libpg-query's JSON parse tree: typed-node access, a stack-based walk, and
// constant text. The tree is untyped JSON here on purpose: we read a few fields of many node
// types, and every access is guarded so an unexpected shape degrades to "unknown", never throws.

import { walkTree } from './tree-walk.js';

export type Node = Record<string, unknown>;

/** `{ TypeName: body }` -> [TypeName, body]; null for anything else. */
export function nodeType(node: unknown): [string, Node] | null {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return null;
  let key: string | undefined;
  for (const k in node) {
    if (key !== undefined) return null;
    key = k;
  }
  if (key === undefined) return null;
  const c = key.charCodeAt(0);
  if (c < 65 || c > 90) return null;
  const body = (node as Node)[key];
  if (!body || typeof body !== 'object' || Array.isArray(body)) return null;
  return [key, body as Node];
}

export function isType(node: unknown, type: string): Node | null {
  const t = nodeType(node);
  return t && t[0] === type ? t[1] : null;
}

/** `{ String: { sval } }` -> sval. */
export function str(node: unknown): string | null {
  const s = isType(node, 'String');
  return typeof s?.sval === 'string' ? s.sval : null;
}

export function list(node: unknown): unknown[] {
  return Array.isArray(node) ? node : [];
}

/** Looks through casts (`x::int`, `CAST(x AS int)`) and COLLATE. */
export function unwrapCast(node: unknown): [string, Node] | null {
  let t = nodeType(node);
  while (t && (t[0] === 'TypeCast' || t[0] === 'CollateClause')) t = nodeType(t[1].arg);
  return t;
}

/** Last name of a qualified name list (function, type), lower-cased. */
export function lastName(names: unknown): string | null {
  const l = list(names);
  const s = str(l[l.length - 1]);
  return s === null ? null : s.toLowerCase();
}

/**
 * Visits every typed node below `root`. Statement targets (INSERT INTO t, COPY t, CREATE TABLE t,
 * VACUUM t...) are bare RangeVar bodies without the type wrapper: they are visited as 'RangeVar'.
 */
export function walk(root: unknown, visit: (type: string, body: Node) => void): void {
  walkTree([root], (cur) => {
    const t = nodeType(cur);
    if (t) {
      visit(t[0], t[1]);
      return t[1];
    }
    const o = cur as Node;
    if (typeof o.relname === 'string' && 'relpersistence' in o) visit('RangeVar', o);
    return 'enter';
  });
}

/** Text of a constant (`'x'`, 5, 1.5, true), through casts; null for anything else. */
export function constText(node: unknown): string | null {
  const t = unwrapCast(node);
  if (!t) return null;
  if (t[0] === 'String') return typeof t[1].sval === 'string' ? t[1].sval : null;
  if (t[0] === 'Integer') return String((t[1].ival as number | undefined) ?? 0);
  if (t[0] !== 'A_Const') return null;
  const b = t[1];
  if (b.isnull) return null;
  if (b.sval) return (b.sval as { sval?: string }).sval ?? '';
  if (b.ival) return String((b.ival as { ival?: number }).ival ?? 0);
  if (b.fval) return (b.fval as { fval?: string }).fval ?? '';
  if (b.boolval) return (b.boolval as { boolval?: boolean }).boolval ? 'on' : 'off';
  if (b.bsval) return (b.bsval as { bsval?: string }).bsval ?? '';
  return null;
}

/** The relation name of a (bare or wrapped) RangeVar, lower-cased... as the parser already folds. */
export function relName(node: unknown): string | null {
  const body = isType(node, 'RangeVar') ?? (node as Node | undefined);
  return body && typeof body.relname === 'string' ? body.relname.toLowerCase() : null;
}
