// Shard-key candidates of a statement: equality conditions in the top-level AND of its WHERE and
// of its inner JOIN ... ON clauses, each attributed to a real table through alias resolution.
//
// Unqualified columns: with one table in FROM the column is that table's. With several, one
// condition per table of the FROM list is emitted. That is sound for routing because the router
// only uses a condition on a table's own shard-key column: if that table has the column, the
// reference either is that column or is ambiguous (the server rejects the query anyway).
// Equalities between columns (a.k = b.k) propagate a known value to the other side.
import type { FromScope, KeyCondition, TableColumn, ValueRef } from './facts.js';
import { isType, list, type Node, nodeType, str, unwrapCast } from './pg-ast.js';
import { type LiteralMap, paramNumber, valueRef } from './pg-values.js';

export type Scope = FromScope;
type Column = TableColumn;

export function scopeOf(from: unknown[], cteNames: ReadonlySet<string>): Scope {
  const aliases = new Map<string, string>();
  const tables: string[] = [];
  const visit = (n: unknown) => {
    const t = nodeType(n);
    if (!t) return;
    const [type, body] = t;
    if (type === 'RangeVar') {
      if (typeof body.relname !== 'string') return;
      const name = body.relname.toLowerCase();
      const alias = (body.alias as { aliasname?: string } | undefined)?.aliasname?.toLowerCase();
      if (!body.schemaname && cteNames.has(name)) {
        // A CTE reference hides any table of that name: its alias must not resolve to one.
        aliases.set(alias ?? name, '');
        return;
      }
      tables.push(name);
      aliases.set(alias ?? name, name);
    } else if (type === 'JoinExpr') {
      visit(body.larg);
      visit(body.rarg);
    } else if (type === 'RangeSubselect' || type === 'RangeFunction') {
      const alias = (body.alias as { aliasname?: string } | undefined)?.aliasname?.toLowerCase();
      if (alias) aliases.set(alias, '');
    }
  };
  for (const f of from) visit(f);
  return { aliases, tables };
}

/** Inner join ON clauses of a FROM list (outer joins do not restrict both sides). */
export function innerJoinQuals(from: unknown[]): unknown[] {
  const out: unknown[] = [];
  const visit = (n: unknown) => {
    const j = isType(n, 'JoinExpr');
    if (!j) return;
    if (j.jointype === 'JOIN_INNER' && j.quals) out.push(j.quals);
    visit(j.larg);
    visit(j.rarg);
  };
  for (const f of from) visit(f);
  return out;
}

export function columnsOf(node: unknown, scope: Scope): Column[] {
  const t = unwrapCast(node);
  if (t?.[0] !== 'ColumnRef') return [];
  const fields = list(t[1].fields).map(str);
  if (fields.length === 0 || fields.some((f) => f === null)) return [];
  const column = fields[fields.length - 1]!.toLowerCase();
  if (fields.length === 1) return scope.tables.map((table) => ({ table, column }));
  const table = scope.aliases.get(fields[fields.length - 2]!.toLowerCase());
  return table ? [{ table, column }] : [];
}

export function conjuncts(where: unknown[]): unknown[] {
  const out: unknown[] = [];
  const flatten = (n: unknown) => {
    const b = isType(n, 'BoolExpr');
    if (b && b.boolop === 'AND_EXPR') for (const a of list(b.args)) flatten(a);
    else if (n) out.push(n);
  };
  for (const w of where) flatten(w);
  return out;
}

function push(out: KeyCondition[], cols: Column[], values: ValueRef[], arrayParam?: number): void {
  for (const c of cols) {
    const cond: KeyCondition = { table: c.table, column: c.column, values };
    if (arrayParam !== undefined) cond.arrayParam = arrayParam;
    out.push(cond);
  }
}

function equality(e: Node, scope: Scope, lits: LiteralMap, out: KeyCondition[], joins: Column[][]): void {
  const l = columnsOf(e.lexpr, scope);
  const r = columnsOf(e.rexpr, scope);
  const lv = l.length ? null : valueRef(e.lexpr, lits);
  const rv = r.length ? null : valueRef(e.rexpr, lits);
  if (l.length && rv) push(out, l, [rv]);
  else if (r.length && lv) push(out, r, [lv]);
  else if (l.length === 1 && r.length === 1) joins.push([l[0]!, r[0]!]);
}

function inList(e: Node, scope: Scope, lits: LiteralMap, out: KeyCondition[]): void {
  const cols = columnsOf(e.lexpr, scope);
  if (!cols.length) return;
  const items = isType(e.rexpr, 'List')?.items ?? e.rexpr;
  const values = list(items).map((v) => valueRef(v, lits));
  if (values.length === 0 || values.some((v) => v === null)) return;
  push(out, cols, values as ValueRef[]);
}

function anyArray(e: Node, scope: Scope, lits: LiteralMap, out: KeyCondition[]): void {
  const cols = columnsOf(e.lexpr, scope);
  if (!cols.length) return;
  const param = paramNumber(e.rexpr);
  if (param !== null) {
    push(out, cols, [], param);
    return;
  }
  const arr = unwrapCast(e.rexpr);
  if (arr?.[0] !== 'A_ArrayExpr') return;
  const values = list(arr[1].elements).map((v) => valueRef(v, lits));
  if (values.length === 0 || values.some((v) => v === null)) return;
  push(out, cols, values as ValueRef[]);
}

/** Equality conditions of the top-level AND of `where` (WHERE and inner-join ON clauses). */
export function keyConditions(where: unknown[], scope: Scope, lits: LiteralMap): KeyCondition[] {
  const out: KeyCondition[] = [];
  const joins: Column[][] = [];
  for (const c of conjuncts(where)) {
    const e = isType(c, 'A_Expr');
    if (!e || str(list(e.name)[0]) !== '=' || list(e.name).length !== 1) continue;
    if (e.kind === 'AEXPR_OP') equality(e, scope, lits, out, joins);
    else if (e.kind === 'AEXPR_IN') inList(e, scope, lits, out);
    else if (e.kind === 'AEXPR_OP_ANY') anyArray(e, scope, lits, out);
  }
  // a.k = b.k and a.k = v  =>  b.k = v (chains of joins: repeat until nothing new).
  for (let changed = true; changed; ) {
    changed = false;
    for (const [a, b] of joins) {
      for (const [from, to] of [
        [a!, b!],
        [b!, a!],
      ] as const) {
        const known = out.find((k) => k.table === from.table && k.column === from.column);
        if (known && !out.some((k) => k.table === to.table && k.column === to.column)) {
          push(out, [to], known.values, known.arrayParam);
          changed = true;
        }
      }
    }
  }
  return out;
}
