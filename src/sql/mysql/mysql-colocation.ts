// ColocationFacts from node-sql-parser's MySQL AST, by the rules of src/sql/pg-colocation.ts:
// every table occurrence (CTE bodies once per reference), the column equalities that combine
// occurrences (WHERE / ON top-level AND, USING, `x IN (SELECT y ...)`), the constants that pin
// one, and the nested blocks that group or limit rows. What the walk does not understand adds
// no link, so the planner refuses rather than guesses.
import type { CteEnv, Item, Outputs, Resolved } from '../colocation-walk.js';
import { blockKind, FactsBuilder, NO_OUTPUTS, Scope, selectOutputs } from '../colocation-walk.js';
import type { ColocationFacts, ColumnOf, ValueRef } from '../facts.js';
import { walkTree } from '../tree-walk.js';
import { asArray, conjuncts, isNode, isTableRef, type Node, nameOf, valueRef } from './mysql-ast.js';

const INNER_JOINS = new Set(['JOIN', 'INNER JOIN', 'CROSS JOIN', 'STRAIGHT_JOIN']);

/** A subquery wrapper (`{ ast: { type: 'select', ... } }`): its statement, else null. */
function subquery(n: unknown): Node | null {
  return isNode(n) && isNode(n.ast) ? n.ast : null;
}

/** Nodes below `roots` without entering subqueries. */
function shallowVisit(roots: unknown[], visit: (n: Node) => void): void {
  walkTree(roots, (cur) => {
    if (subquery(cur)) return 'skip';
    visit(cur as Node);
    return 'enter';
  });
}

class Builder extends FactsBuilder {
  constructor() {
    super(true);
  }

  resolve(node: unknown, scope: Scope): Resolved | null {
    if (!isNode(node) || node.type !== 'column_ref') return null;
    const name = nameOf(node.column);
    if (name === null || name === '*') return null;
    const column = name.toLowerCase();
    const qualifier = nameOf(node.table);
    return this.resolveName(qualifier === null ? null : qualifier.toLowerCase(), column, scope);
  }

  withCtes(withList: unknown, env: CteEnv): CteEnv {
    const list = asArray(withList).filter(isNode);
    if (list.length === 0) return env;
    const next = new Map(env);
    for (const w of list) {
      const name = nameOf(w.name);
      if (!name) continue;
      const columns = asArray(w.columns).map((c) => (nameOf(c) ?? '').toLowerCase());
      this.addCte(next, name, subquery(w.stmt) ?? w.stmt, false, columns);
    }
    return next;
  }

  statement(ast: unknown, parent: Scope | null, env: CteEnv, nested: boolean): Outputs {
    if (!isNode(ast)) return NO_OUTPUTS;
    if (ast.type === 'select') return this.select(ast, parent, env, nested);
    if (ast.type === 'update' || ast.type === 'delete' || ast.type === 'insert' || ast.type === 'replace')
      return this.dml(ast, parent, env);
    return NO_OUTPUTS;
  }

  select(ast: Node, parent: Scope | null, env: CteEnv, nested: boolean): Outputs {
    env = this.withCtes(ast.with, env);
    if (isNode(ast._next)) {
      this.block(ast, parent, env, nested);
      for (let n: unknown = ast._next; isNode(n); n = n._next) this.block(n, parent, env, nested);
      return NO_OUTPUTS;
    }
    return this.block(ast, parent, env, nested);
  }

  /** One SELECT of a (possible) set-operation chain. */
  block(ast: Node, parent: Scope | null, env: CteEnv, nested: boolean): Outputs {
    const start = this.refs.length;
    const scope = new Scope(parent);
    const quals = this.fromList(ast.from, scope, env);
    this.conditions(ast.where, scope, true);
    for (const { q, inner } of quals) this.conditions(q, scope, inner);
    const groupby = isNode(ast.groupby) ? ast.groupby.columns : ast.groupby;
    this.expressions(
      [ast.columns, ast.where, ast.having, groupby, ast.orderby, quals.map((q) => q.q)],
      scope,
      env,
    );
    if (nested) this.localBlock(ast, scope, start);
    return this.outputs(ast.columns, scope);
  }

  private dml(ast: Node, parent: Scope | null, env: CteEnv): Outputs {
    env = this.withCtes(ast.with, env);
    const scope = new Scope(parent);
    if (ast.type === 'insert' || ast.type === 'replace') {
      this.fromList(ast.table, scope, env);
      const values = isNode(ast.values) ? ast.values : null;
      if (values?.type === 'select') this.select(values, null, env, true);
      else this.expressions([ast.values, ast.set, ast.on_duplicate_update], scope, env);
      return NO_OUTPUTS;
    }
    const from = ast.type === 'delete' && asArray(ast.from).length ? ast.from : ast.table;
    const start = this.refs.length;
    const quals = this.fromList(from, scope, env);
    // UPDATE/DELETE ... LIMIT n: each shard would take its own n rows.
    if (isNode(ast.limit) && asArray(ast.limit.value).length > 0)
      this.blocks.push({
        refs: this.range(start),
        what: `${String(ast.type).toUpperCase()} ... LIMIT`,
        keyColumns: [],
      });
    this.conditions(ast.where, scope, true);
    for (const { q, inner } of quals) this.conditions(q, scope, inner);
    this.expressions([ast.where, ast.set, ast.orderby, quals.map((q) => q.q)], scope, env);
    return NO_OUTPUTS;
  }

  /** A FROM list (joins are flat: each item after the first may carry `join` and `on`/`using`). */
  private fromList(from: unknown, scope: Scope, env: CteEnv): Array<{ q: unknown; inner: boolean }> {
    const quals: Array<{ q: unknown; inner: boolean }> = [];
    for (const item of asArray(from)) {
      if (!isNode(item)) continue;
      const before = scope.all.slice();
      const alias = typeof item.as === 'string' ? item.as.toLowerCase() : null;
      let added: Item | null = null;
      const sub = subquery(item.expr);
      if (isTableRef(item)) {
        const name = (item.table as string).toLowerCase();
        const cte = item.db ? undefined : env.get(name);
        added = cte
          ? { kind: 'derived', outputs: this.cteReference(cte, cte.env) }
          : { kind: 'ref', ref: this.refs.push(name) - 1 };
        scope.items.set(alias ?? name, added);
      } else if (sub) {
        const lateral = Boolean(item.lateral);
        added = { kind: 'derived', outputs: this.statement(sub, lateral ? scope : scope.parent, env, true) };
        if (alias) scope.items.set(alias, added);
      } else {
        added = { kind: 'derived', outputs: null };
        if (alias) scope.items.set(alias, added);
      }
      scope.all.push(added);
      const join = typeof item.join === 'string' ? item.join.toUpperCase() : null;
      const inner = join === null || INNER_JOINS.has(join);
      if (item.on) quals.push({ q: item.on, inner });
      for (const u of asArray(item.using)) {
        const column = nameOf(u)?.toLowerCase();
        if (!column) continue;
        const left = this.itemColumn(before, column);
        const right = this.itemColumn([added], column);
        if (!left || !right) continue;
        this.link(left, right, inner);
      }
    }
    return quals;
  }

  private conditions(where: unknown, scope: Scope, pins: boolean): void {
    for (const e of conjuncts(where)) {
      if (e.type !== 'binary_expr') continue;
      if (e.operator === '=') {
        const l = this.resolve(e.left, scope);
        const r = this.resolve(e.right, scope);
        if (l && r) this.link(l.of, r.of, pins);
        else if (pins && (l || r)) {
          const v = valueRef(l ? e.right : e.left);
          if (v) this.pins.push({ of: (l ?? r)!.of, values: [v] });
        }
      } else if (pins && e.operator === 'IN' && isNode(e.right) && e.right.type === 'expr_list') {
        const l = this.resolve(e.left, scope);
        const values = asArray(e.right.value).map(valueRef);
        if (l && values.length && values.every((v) => v !== null))
          this.pins.push({ of: l.of, values: values as ValueRef[] });
      }
    }
  }

  /** Subqueries in expressions: nested blocks; `x IN (SELECT y ...)` links x and y. */
  private expressions(roots: unknown[], scope: Scope, env: CteEnv): void {
    const visit = (n: unknown): void => {
      if (Array.isArray(n)) {
        for (const x of n) visit(x);
        return;
      }
      if (!isNode(n)) return;
      const sub = subquery(n);
      if (sub) {
        this.statement(sub, scope, env, true);
        return;
      }
      if (n.type === 'binary_expr' && (n.operator === 'IN' || n.operator === 'NOT IN') && isNode(n.right)) {
        const only = asArray(n.right.value);
        const inner = only.length === 1 ? subquery(only[0]) : null;
        if (inner) {
          const out = this.statement(inner, scope, env, true);
          const test = this.resolve(n.left, scope);
          const first = out.list?.length === 1 ? out.list[0] : null;
          if (test && first) this.links.push([test.of, first]);
          visit(n.left);
          return;
        }
      }
      for (const k in n) {
        if (k === 'loc') continue;
        const v = n[k];
        if (v && typeof v === 'object') visit(v);
      }
    };
    for (const r of roots) visit(r);
  }

  private outputs(columns: unknown, scope: Scope): Outputs {
    const names: string[] = [];
    const cols: Array<ColumnOf | null> = [];
    let star = columns === '*';
    for (const c of asArray(columns)) {
      if (!isNode(c)) continue;
      const expr = isNode(c.expr) ? c.expr : null;
      if (expr?.type === 'column_ref' && nameOf(expr.column) === '*') {
        star = true;
        continue;
      }
      const r = this.resolve(expr, scope);
      const own = r && r.scope === scope ? r.of : null;
      const name = nameOf(c.as) ?? (expr?.type === 'column_ref' ? nameOf(expr.column) : null) ?? '';
      names.push(name.toLowerCase());
      cols.push(own);
    }
    return selectOutputs(names, cols, star, (column) => {
      const r = this.resolve({ type: 'column_ref', table: null, column }, scope);
      return r && r.scope === scope ? r.of : null;
    });
  }

  private localBlock(ast: Node, scope: Scope, start: number): void {
    if (this.refs.length === start) return;
    let window = isNode(ast.window) || Array.isArray(ast.window);
    let aggregate = false;
    shallowVisit([ast.columns, ast.having, ast.orderby], (n) => {
      if (n.over) window = true;
      else if (n.type === 'aggr_func') aggregate = true;
    });
    const limit = isNode(ast.limit) ? asArray(ast.limit.value) : [];
    const limited = limit.length > 0;
    const groupby = asArray(isNode(ast.groupby) ? ast.groupby.columns : ast.groupby);
    const grouped = groupby.length > 0;
    const distinct = ast.distinct !== null && ast.distinct !== undefined;
    const what = blockKind({ limited, window, grouped, aggregate, distinct });
    if (what === null) return;
    const equalities: Array<[Resolved | null, Resolved | null]> = [];
    for (const e of conjuncts(ast.where)) {
      if (e.type !== 'binary_expr' || e.operator !== '=') continue;
      equalities.push([this.resolve(e.left, scope), this.resolve(e.right, scope)]);
    }
    const keyColumns = this.correlated(equalities, scope);
    if (!limited && !window) {
      const rollup = isNode(ast.groupby) && asArray(ast.groupby.modifiers).some((m) => m);
      const targets =
        distinct && !grouped && !aggregate
          ? asArray(ast.columns).map((c) => (isNode(c) ? c.expr : null))
          : [];
      for (const g of [...(rollup ? [] : groupby), ...targets]) {
        const r = this.resolve(g, scope);
        if (r && r.scope === scope) keyColumns.push(r.of);
      }
    }
    this.blocks.push({ refs: this.range(start), what: `${what} in a subquery`, keyColumns });
  }
}

/** Colocation facts of a parsed data statement; undefined when there is nothing to decide. */
export function mysqlColocationFacts(ast: Node): ColocationFacts | undefined {
  const b = new Builder();
  const groups: number[][] = [];
  if (ast.type === 'select' && isNode(ast._next)) {
    // Branches of a top-level set operation are answered per shard independently.
    const env = b.withCtes(ast.with, new Map());
    for (let n: unknown = ast; isNode(n); n = n._next) {
      const start = b.refs.length;
      b.block(n, null, env, false);
      groups.push(b.refs.map((_, i) => i).slice(start));
    }
  } else {
    b.statement(ast, null, new Map(), false);
    groups.push(b.refs.map((_, i) => i));
  }
  b.unusedCtes(groups);
  return b.facts(groups);
}
