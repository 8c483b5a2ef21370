// ColocationFacts from the PostgreSQL parse tree: every occurrence of a real table (FROM items,
// DML targets, subqueries, CTE bodies once per reference), the column equalities that combine
// occurrences, the constants that pin one, and the nested blocks (GROUP BY, LIMIT...) whose
// per-shard answer is right only if they see one shard-key value at a time. The facts name
// columns, not shard keys: the planner, which knows the config, decides co-location.
//
// Only what is certain makes a link: an equality in the top-level AND of a WHERE or JOIN ON,
// USING columns, `x IN (SELECT y ...)`. Anything the walk does not understand (NATURAL joins,
// functions in FROM, set operations under a subquery) adds no link, so the planner refuses
// rather than guesses.
import type { CteEnv, Item, Outputs, Resolved } from './colocation-walk.js';
import { blockKind, FactsBuilder, NO_OUTPUTS, renamed, Scope, selectOutputs } from './colocation-walk.js';
import type { ColocationFacts, ColumnOf, ValueRef } from './facts.js';
import { PG_AGGREGATES } from './pg-aggregates.js';
import { isType, lastName, list, type Node, nodeType, str, unwrapCast } from './pg-ast.js';
import { type LiteralMap, paramNumber, valueRef } from './pg-values.js';
import { walkTree } from './tree-walk.js';

function conjuncts(node: unknown, out: unknown[] = []): unknown[] {
  const b = isType(node, 'BoolExpr');
  if (b && b.boolop === 'AND_EXPR') for (const a of list(b.args)) conjuncts(a, out);
  else if (node) out.push(node);
  return out;
}

/** Typed nodes below `roots`, not entering subqueries (SubLink / SelectStmt are reported, not entered). */
function shallowWalk(roots: unknown[], visit: (type: string, body: Node) => void): void {
  walkTree(roots, (cur) => {
    const t = nodeType(cur);
    if (!t) return 'enter';
    visit(t[0], t[1]);
    return t[0] === 'SubLink' || t[0] === 'SelectStmt' ? 'skip' : t[1];
  });
}

class Builder extends FactsBuilder {
  constructor(private readonly lits: LiteralMap) {
    super(false);
  }

  resolve(node: unknown, scope: Scope): Resolved | null {
    const t = unwrapCast(node);
    if (t?.[0] !== 'ColumnRef') return null;
    const fields = list(t[1].fields).map(str);
    if (fields.length === 0 || fields.some((f) => f === null)) return null;
    const column = fields[fields.length - 1]!.toLowerCase();
    const qualifier = fields.length === 1 ? null : fields[fields.length - 2]!.toLowerCase();
    return this.resolveName(qualifier, column, scope);
  }

  withCtes(withClause: unknown, env: CteEnv): CteEnv {
    const w = withClause as Node | undefined;
    if (!w || !Array.isArray(w.ctes)) return env;
    const next = new Map(env);
    for (const c of list(w.ctes)) {
      const cte = isType(c, 'CommonTableExpr');
      if (typeof cte?.ctename !== 'string') continue;
      const columns = list(cte.aliascolnames).map((n) => (str(n) ?? '').toLowerCase());
      this.addCte(next, cte.ctename, cte.ctequery, Boolean(w.recursive), columns);
    }
    return next;
  }

  /** Any statement that yields rows (SELECT, or DML with RETURNING in a CTE). */
  statement(node: unknown, parent: Scope | null, env: CteEnv, nested: boolean): Outputs {
    const t = nodeType(node);
    if (!t) return NO_OUTPUTS;
    const [type, body] = t;
    if (type === 'SelectStmt') return this.select(body, parent, env, nested);
    if (type === 'InsertStmt' || type === 'UpdateStmt' || type === 'DeleteStmt')
      return this.dml(type, body, parent, env);
    return NO_OUTPUTS;
  }

  select(body: Node, parent: Scope | null, env: CteEnv, nested: boolean): Outputs {
    env = this.withCtes(body.withClause, env);
    if (body.op && body.op !== 'SETOP_NONE') {
      this.select(body.larg as Node, parent, env, nested);
      this.select(body.rarg as Node, parent, env, nested);
      return NO_OUTPUTS;
    }
    const start = this.refs.length;
    const scope = new Scope(parent);
    const quals: Array<{ q: unknown; inner: boolean }> = [];
    for (const f of list(body.fromClause)) this.from(f, scope, env, quals);
    this.conditions(body.whereClause, scope, true);
    for (const { q, inner } of quals) this.conditions(q, scope, inner);
    this.sublinks(
      [
        body.targetList,
        body.whereClause,
        body.havingClause,
        body.groupClause,
        body.sortClause,
        body.distinctClause,
        body.valuesLists,
        body.limitCount,
        body.limitOffset,
        quals.map((q) => q.q),
      ],
      scope,
      env,
    );
    if (nested) this.localBlock(body, scope, start);
    return this.outputs(body.targetList, scope);
  }

  private dml(type: string, body: Node, parent: Scope | null, env: CteEnv): Outputs {
    env = this.withCtes(body.withClause, env);
    const scope = new Scope(parent);
    this.from({ RangeVar: body.relation }, scope, env, []);
    if (type === 'InsertStmt') {
      const sel = isType(body.selectStmt, 'SelectStmt');
      // INSERT ... SELECT: the rows are computed as a query of their own.
      if (sel && sel.valuesLists === undefined) this.select(sel, null, env, true);
      else if (sel) this.sublinks([sel.valuesLists], new Scope(null), env);
      const conflict = body.onConflictClause as Node | undefined;
      if (conflict) this.sublinks([conflict.targetList, conflict.whereClause], scope, env);
    } else {
      const quals: Array<{ q: unknown; inner: boolean }> = [];
      for (const f of list(body.fromClause ?? body.usingClause)) this.from(f, scope, env, quals);
      this.conditions(body.whereClause, scope, true);
      for (const { q, inner } of quals) this.conditions(q, scope, inner);
      this.sublinks([body.whereClause, body.targetList, quals.map((q) => q.q)], scope, env);
    }
    this.sublinks([body.returningList], scope, env);
    return this.outputs(body.returningList, scope);
  }

  /** Adds a FROM item to the scope; join conditions are collected in `quals`. */
  private from(node: unknown, scope: Scope, env: CteEnv, quals: Array<{ q: unknown; inner: boolean }>): void {
    const t = nodeType(node);
    if (!t) return;
    const [type, body] = t;
    const alias = (body.alias as { aliasname?: string } | undefined)?.aliasname?.toLowerCase();
    const colnames = list((body.alias as { colnames?: unknown } | undefined)?.colnames).map((n) =>
      (str(n) ?? '').toLowerCase(),
    );
    const add = (name: string | undefined, item: Item) => {
      if (name) scope.items.set(name, item);
      scope.all.push(item);
    };
    if (type === 'RangeVar') {
      if (typeof body.relname !== 'string') return;
      const name = body.relname.toLowerCase();
      const cte = body.schemaname ? undefined : env.get(name);
      if (cte) {
        add(alias ?? name, { kind: 'derived', outputs: this.cteReference(cte, env) });
        return;
      }
      add(alias ?? name, { kind: 'ref', ref: this.refs.push(name) - 1 });
    } else if (type === 'JoinExpr') {
      const a = scope.all.length;
      this.from(body.larg, scope, env, quals);
      const b = scope.all.length;
      this.from(body.rarg, scope, env, quals);
      if (body.quals) quals.push({ q: body.quals, inner: body.jointype === 'JOIN_INNER' });
      for (const u of list(body.usingClause)) {
        const column = str(u)?.toLowerCase();
        if (!column) continue;
        const left = this.itemColumn(scope.all.slice(a, b), column);
        const right = this.itemColumn(scope.all.slice(b), column);
        if (left && right) this.link(left, right, body.jointype === 'JOIN_INNER');
      }
      if (alias) scope.items.set(alias, { kind: 'derived', outputs: null });
    } else if (type === 'RangeSubselect') {
      const outputs = this.statement(body.subquery, body.lateral ? scope : scope.parent, env, true);
      add(alias, { kind: 'derived', outputs: renamed(outputs, colnames) });
    } else if (type === 'RangeFunction') {
      this.sublinks([body.functions], scope, env);
      add(alias, { kind: 'derived', outputs: null });
    }
  }

  /** Links and (when `pins`) pinned values of the top-level AND of a WHERE / ON. */
  private conditions(where: unknown, scope: Scope, pins: boolean): void {
    for (const c of conjuncts(where)) {
      const e = isType(c, 'A_Expr');
      if (!e || list(e.name).length !== 1 || str(list(e.name)[0]) !== '=') continue;
      const l = this.resolve(e.lexpr, scope);
      if (e.kind === 'AEXPR_OP') {
        const r = this.resolve(e.rexpr, scope);
        if (l && r) this.link(l.of, r.of, pins);
        else if (pins && (l || r)) {
          const v = valueRef(l ? e.rexpr : e.lexpr, this.lits);
          if (v) this.pins.push({ of: (l ?? r)!.of, values: [v] });
        }
        continue;
      }
      if (!pins || !l) continue;
      if (e.kind === 'AEXPR_IN') {
        const items = isType(e.rexpr, 'List')?.items ?? e.rexpr;
        const values = list(items).map((v) => valueRef(v, this.lits));
        if (values.length && values.every((v) => v !== null))
          this.pins.push({ of: l.of, values: values as ValueRef[] });
      } else if (e.kind === 'AEXPR_OP_ANY') {
        const param = paramNumber(e.rexpr);
        if (param !== null) {
          this.pins.push({ of: l.of, values: [], arrayParam: param });
          continue;
        }
        const arr = unwrapCast(e.rexpr);
        if (arr?.[0] !== 'A_ArrayExpr') continue;
        const values = list(arr[1].elements).map((v) => valueRef(v, this.lits));
        if (values.length && values.every((v) => v !== null))
          this.pins.push({ of: l.of, values: values as ValueRef[] });
      }
    }
  }

  /** Subqueries in expressions: nested blocks; `x IN (SELECT y ...)` links x and y. */
  private sublinks(roots: unknown[], scope: Scope, env: CteEnv): void {
    shallowWalk(roots, (type, body) => {
      if (type === 'SelectStmt') {
        this.select(body, scope, env, true);
        return;
      }
      if (type !== 'SubLink') return;
      const sub = this.statement(body.subselect, scope, env, true);
      const op = list(body.operName);
      if (body.subLinkType !== 'ANY_SUBLINK' || (op.length > 0 && str(op[op.length - 1]) !== '=')) return;
      const test = this.resolve(body.testexpr, scope);
      const out = sub.list;
      if (test && out && out.length === 1 && out[0]) this.links.push([test.of, out[0]]);
    });
  }

  private outputs(targets: unknown, scope: Scope): Outputs {
    const names: string[] = [];
    const cols: Array<ColumnOf | null> = [];
    let star = false;
    for (const t of list(targets)) {
      const rt = isType(t, 'ResTarget');
      const ref = isType(rt?.val, 'ColumnRef');
      const fields = list(ref?.fields);
      if (ref && isType(fields[fields.length - 1], 'A_Star')) {
        star = true;
        continue;
      }
      const r = rt ? this.resolve(rt.val, scope) : null;
      const own = r && r.scope === scope ? r.of : null;
      const name = typeof rt?.name === 'string' ? rt.name : (str(fields[fields.length - 1]) ?? '');
      names.push(name.toLowerCase());
      cols.push(own);
    }
    return selectOutputs(names, cols, star, (column) => {
      const r = this.resolve({ ColumnRef: { fields: [{ String: { sval: column } }] } }, scope);
      return r && r.scope === scope ? r.of : null;
    });
  }

  /** Records a nested block that combines rows (grouping, DISTINCT, window, LIMIT). */
  private localBlock(body: Node, scope: Scope, start: number): void {
    if (this.refs.length === start) return;
    let window = list(body.windowClause).length > 0;
    let aggregate = false;
    shallowWalk([body.targetList, body.havingClause, body.sortClause], (type, f) => {
      if (type !== 'FuncCall') return;
      if (f.over) window = true;
      else if (
        PG_AGGREGATES.has(lastName(f.funcname) ?? '') ||
        f.agg_star ||
        f.agg_distinct ||
        f.agg_within_group ||
        f.agg_filter
      )
        aggregate = true;
    });
    const limited = body.limitCount !== undefined || body.limitOffset !== undefined;
    const grouped = list(body.groupClause).length > 0;
    const distinct = body.distinctClause !== undefined;
    const what = blockKind({ limited, window, grouped, aggregate, distinct });
    if (what === null) return;
    // Correlated with the outer query: each evaluation sees the rows of one outer value.
    const equalities: Array<[Resolved | null, Resolved | null]> = [];
    for (const c of conjuncts(body.whereClause)) {
      const e = isType(c, 'A_Expr');
      if (e?.kind !== 'AEXPR_OP' || str(list(e.name)[0]) !== '=') continue;
      equalities.push([this.resolve(e.lexpr, scope), this.resolve(e.rexpr, scope)]);
    }
    const keyColumns = this.correlated(equalities, scope);
    // Only grouping: a group holding one key value is whole on its shard.
    if (!limited && !window) {
      const groupBy = list(body.groupClause);
      const plain = groupBy.some((g) => nodeType(g)?.[0] === 'GroupingSet') ? [] : groupBy;
      const distinctOn = list(body.distinctClause).filter((d) => nodeType(d) !== null);
      const targets =
        distinct && distinctOn.length === 0 && !grouped && !aggregate
          ? list(body.targetList).map((t) => isType(t, 'ResTarget')?.val)
          : [];
      for (const g of [...plain, ...distinctOn, ...targets]) {
        const r = this.resolve(g, scope);
        if (r && r.scope === scope) keyColumns.push(r.of);
      }
    }
    this.blocks.push({ refs: this.range(start), what: `${what} in a subquery`, keyColumns });
  }
}

/** Leaves of a top-level set operation, each analyzed as a statement of its own. */
function setOpBranches(body: Node, out: Node[] = []): Node[] {
  if (body.op && body.op !== 'SETOP_NONE') {
    setOpBranches(body.larg as Node, out);
    setOpBranches(body.rarg as Node, out);
  } else out.push(body);
  return out;
}

/** Colocation facts of a SELECT / INSERT / UPDATE / DELETE; undefined when there is nothing to
 *  decide (one table occurrence and no nested block). */
export function colocationFacts(type: string, body: Node, lits: LiteralMap): ColocationFacts | undefined {
  const b = new Builder(lits);
  const groups: number[][] = [];
  if (type === 'SelectStmt' && body.op && body.op !== 'SETOP_NONE') {
    // Branches of a top-level set operation are answered per shard independently.
    const env = b.withCtes(body.withClause, new Map());
    for (const branch of setOpBranches(body)) {
      const start = b.refs.length;
      b.select(branch, null, env, false);
      groups.push(b.refs.map((_, i) => i).slice(start));
    }
  } else {
    b.statement({ [type]: body }, null, new Map(), false);
    groups.push(b.refs.map((_, i) => i));
  }
  b.unusedCtes(groups);
  return b.facts(groups);
}
