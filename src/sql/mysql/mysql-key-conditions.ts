// Shard-key candidates of a MySQL statement: `col = v` and `col IN (v, ...)` in the top-level AND
// of its WHERE and of its inner JOIN ... ON clauses, attributed to real tables through alias
// resolution (lower-cased, backticks stripped, schema dropped). The rules match the PostgreSQL
// side (src/sql/pg-key-conditions.ts): an unqualified column with several tables gives one
// candidate per table, and join equalities (a.k = b.k) carry a known value to the other side.
import type { FromScope, KeyCondition, TableColumn, ValueRef } from '../facts.js';
import { asArray, isNode, isTableRef, type Node, nameOf, valueRef } from './mysql-ast.js';

export type Scope = FromScope;
type Column = TableColumn;

const INNER_JOINS = new Set(['JOIN', 'INNER JOIN', 'CROSS JOIN', 'STRAIGHT_JOIN']);

export function scopeOf(from: unknown, cteNames: ReadonlySet<string>): Scope {
  const aliases = new Map<string, string>();
  const tables: string[] = [];
  for (const item of asArray(from)) {
    if (!isNode(item)) continue;
    const alias = typeof item.as === 'string' ? item.as.toLowerCase() : null;
    if (isTableRef(item)) {
      const name = (item.table as string).toLowerCase();
      if (!item.db && cteNames.has(name)) {
        aliases.set(alias ?? name, '');
        continue;
      }
      tables.push(name);
      aliases.set(alias ?? name, name);
    } else if (alias) aliases.set(alias, '');
  }
  return { aliases, tables };
}

/** ON clauses of inner joins in a FROM list (outer joins do not restrict both sides). */
export function innerJoinQuals(from: unknown): unknown[] {
  const out: unknown[] = [];
  for (const item of asArray(from)) {
    if (!isNode(item) || typeof item.join !== 'string') continue;
    if (INNER_JOINS.has(item.join.toUpperCase()) && item.on) out.push(item.on);
  }
  return out;
}

export function columnsOf(node: unknown, scope: Scope): Column[] {
  if (!isNode(node) || node.type !== 'column_ref') return [];
  const column = nameOf(node.column);
  if (column === null || column === '*') return [];
  const lower = column.toLowerCase();
  const qualifier = nameOf(node.table);
  if (qualifier === null) return scope.tables.map((table) => ({ table, column: lower }));
  const table = scope.aliases.get(qualifier.toLowerCase());
  return table ? [{ table, column: lower }] : [];
}

export function conjuncts(where: unknown[]): Node[] {
  const out: Node[] = [];
  const flatten = (n: unknown) => {
    if (!isNode(n)) return;
    if (n.type === 'binary_expr' && (n.operator === 'AND' || n.operator === '&&')) {
      flatten(n.left);
      flatten(n.right);
    } else out.push(n);
  };
  for (const w of where) flatten(w);
  return out;
}

function push(out: KeyCondition[], cols: Column[], values: ValueRef[]): void {
  for (const c of cols) out.push({ table: c.table, column: c.column, values });
}

/** Equality conditions of the top-level AND of `where` (WHERE and inner-join ON clauses). */
export function keyConditions(where: unknown[], scope: Scope): KeyCondition[] {
  const out: KeyCondition[] = [];
  const joins: Array<[Column, Column]> = [];
  for (const e of conjuncts(where)) {
    if (e.type !== 'binary_expr') continue;
    if (e.operator === '=') {
      const l = columnsOf(e.left, scope);
      const r = columnsOf(e.right, scope);
      const lv = l.length ? null : valueRef(e.left);
      const rv = r.length ? null : valueRef(e.right);
      if (l.length && rv) push(out, l, [rv]);
      else if (r.length && lv) push(out, r, [lv]);
      else if (l.length === 1 && r.length === 1) joins.push([l[0]!, r[0]!]);
    } else if (e.operator === 'IN' && isNode(e.right) && e.right.type === 'expr_list') {
      const cols = columnsOf(e.left, scope);
      const values = asArray(e.right.value).map(valueRef);
      if (cols.length && values.length && values.every((v) => v !== null))
        push(out, cols, values as ValueRef[]);
    }
  }
  // a.k = b.k and a.k = v  =>  b.k = v (chains of joins: repeat until nothing new).
  for (let changed = true; changed; ) {
    changed = false;
    for (const [a, b] of joins) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        const known = out.find((k) => k.table === from.table && k.column === from.column);
        if (known && !out.some((k) => k.table === to.table && k.column === to.column)) {
          push(out, [to], known.values);
          changed = true;
        }
      }
    }
  }
  return out;
}
