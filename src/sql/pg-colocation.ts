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
import type { ColocationFacts, ColumnOf, LocalBlock, ValueRef } from './facts.js';
import { isType, lastName, list, type Node, nodeType, str, unwrapCast } from './pg-ast.js';
import { type LiteralMap, paramNumber, valueRef } from './pg-values.js';

/** What a derived table, CTE reference or subquery exposes: its columns by position and name. */
interface Outputs {
  /** By position; null when a `*` hides the positions. */
  list: Array<ColumnOf | null> | null;
  byName(column: string): ColumnOf | null;
}

type Item = { kind: 'ref'; ref: number } | { kind: 'derived'; outputs: Outputs | null };

class Scope {
  readonly items = new Map<string, Item>();
  readonly all: Item[] = [];
  constructor(readonly parent: Scope | null) {}
}

interface Cte {
  query: unknown;
  recursive: boolean;
  expanding: boolean;
  used: boolean;
  columns: string[];
  /** The CTEs visible from its body (itself included, for WITH RECURSIVE). */
  env: CteEnv;
}

type CteEnv = ReadonlyMap<string, Cte>;

interface Resolved {
  of: ColumnOf;
  scope: Scope;
}

const NO_OUTPUTS: Outputs = { list: null, byName: () => null };

/** Built-in aggregates (a FuncCall with agg_* flags is one too, whatever its name). */
const AGGREGATES = new Set([
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'array_agg',
  'string_agg',
  'bool_and',
  'bool_or',
  'every',
  'bit_and',
  'bit_or',
  'bit_xor',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
  'xmlagg',
  'any_value',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
  'percentile_cont',
  'percentile_disc',
  'mode',
]);

function conjuncts(node: unknown, out: unknown[] = []): unknown[] {
  const b = isType(node, 'BoolExpr');
  if (b && b.boolop === 'AND_EXPR') for (const a of list(b.args)) conjuncts(a, out);
  else if (node) out.push(node);
  return out;
}

const keyOf = (of: ColumnOf) => `${of.refs.join(',')}.${of.column}`;

/** Typed nodes below `roots`, not entering subqueries (SubLink / SelectStmt are reported, not entered). */
function shallowWalk(roots: unknown[], visit: (type: string, body: Node) => void): void {
  const stack: unknown[] = [...roots];
  while (stack.length > 0) {
    const cur = stack.pop();
    if (!cur || typeof cur !== 'object') continue;
    if (Array.isArray(cur)) {
      for (const x of cur) stack.push(x);
      continue;
    }
    const t = nodeType(cur);
    if (t) {
      visit(t[0], t[1]);
      if (t[0] === 'SubLink' || t[0] === 'SelectStmt') continue;
      stack.push(t[1]);
      continue;
    }
    for (const k in cur as Node) {
      const v = (cur as Node)[k];
      if (v && typeof v === 'object') stack.push(v);
    }
  }
}

class Builder {
  readonly refs: string[] = [];
  readonly links: Array<[ColumnOf, ColumnOf]> = [];
  /** Links that also carry a pinned value across (same-block WHERE / inner JOIN ON). */
  private readonly strong: Array<[ColumnOf, ColumnOf]> = [];
  readonly pins: ColocationFacts['pins'] = [];
  readonly blocks: LocalBlock[] = [];
  private readonly ctes: Cte[] = [];

  constructor(private readonly lits: LiteralMap) {}

  private range(start: number): number[] {
    const out: number[] = [];
    for (let i = start; i < this.refs.length; i++) out.push(i);
    return out;
  }

  resolve(node: unknown, scope: Scope): Resolved | null {
    const t = unwrapCast(node);
    if (t?.[0] !== 'ColumnRef') return null;
    const fields = list(t[1].fields).map(str);
    if (fields.length === 0 || fields.some((f) => f === null)) return null;
    const column = fields[fields.length - 1]!.toLowerCase();
    if (fields.length === 1) {
      for (let s: Scope | null = scope; s; s = s.parent) {
        if (s.all.length === 0) continue;
        if (s.all.length === 1) {
          const only = s.all[0]!;
          if (only.kind === 'ref') return { of: { refs: [only.ref], column }, scope: s };
          const of = only.outputs?.byName(column) ?? null;
          return of ? { of, scope: s } : null;
        }
        // Several FROM items: each is a candidate; a derived one only under the same name.
        const refs: number[] = [];
        for (const it of s.all) {
          if (it.kind === 'ref') refs.push(it.ref);
          else {
            const of = it.outputs?.byName(column);
            if (of && of.column === column) refs.push(...of.refs);
          }
        }
        return { of: { refs, column }, scope: s };
      }
      return null;
    }
    const qualifier = fields[fields.length - 2]!.toLowerCase();
    for (let s: Scope | null = scope; s; s = s.parent) {
      const it = s.items.get(qualifier);
      if (!it) continue;
      if (it.kind === 'ref') return { of: { refs: [it.ref], column }, scope: s };
      const of = it.outputs?.byName(column) ?? null;
      return of ? { of, scope: s } : null;
    }
    return null;
  }

  withCtes(withClause: unknown, env: CteEnv): CteEnv {
    const w = withClause as Node | undefined;
    if (!w || !Array.isArray(w.ctes)) return env;
    const next = new Map(env);
    for (const c of list(w.ctes)) {
      const cte = isType(c, 'CommonTableExpr');
      if (typeof cte?.ctename !== 'string') continue;
      const entry: Cte = {
        query: cte.ctequery,
        recursive: Boolean(w.recursive),
        expanding: false,
        used: false,
        columns: list(cte.aliascolnames).map((n) => (str(n) ?? '').toLowerCase()),
        env: next,
      };
      this.ctes.push(entry);
      next.set(cte.ctename.toLowerCase(), entry);
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
        if (left && right) {
          this.links.push([left, right]);
          if (body.jointype === 'JOIN_INNER') this.strong.push([left, right]);
        }
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

  /** The column `column` of one side of a USING join (the one item that has it). */
  private itemColumn(items: Item[], column: string): ColumnOf | null {
    const refs: number[] = [];
    for (const it of items) {
      if (it.kind === 'ref') refs.push(it.ref);
      else {
        const of = it.outputs?.byName(column);
        if (of && of.column === column) refs.push(...of.refs);
      }
    }
    return refs.length ? { refs, column } : null;
  }

  private cteReference(cte: Cte, env: CteEnv): Outputs | null {
    cte.used = true;
    // A recursive CTE's reference to itself inside its own body.
    if (cte.expanding) return null;
    cte.expanding = true;
    const start = this.refs.length;
    const outputs = this.statement(cte.query, null, env, true);
    cte.expanding = false;
    if (cte.recursive && this.refs.length > start)
      this.blocks.push({ refs: this.range(start), what: 'WITH RECURSIVE', keyColumns: [] });
    return cte.recursive ? null : renamed(outputs, cte.columns);
  }

  /** Unreferenced CTEs still run (data-modifying ones): their tables count, one group each. */
  unusedCtes(groups: number[][]): void {
    for (let i = 0; i < this.ctes.length; i++) {
      const cte = this.ctes[i]!;
      if (cte.used) continue;
      const start = this.refs.length;
      this.cteReference(cte, cte.env);
      groups.push(this.range(start));
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
        if (l && r) {
          this.links.push([l.of, r.of]);
          if (pins) this.strong.push([l.of, r.of]);
        } else if (pins && (l || r)) {
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
    return {
      list: star ? null : cols,
      byName: (column) => {
        const i = names.indexOf(column);
        if (i >= 0) return cols[i] ?? null;
        if (!star) return null;
        const r = this.resolve({ ColumnRef: { fields: [{ String: { sval: column } }] } }, scope);
        return r && r.scope === scope ? r.of : null;
      },
    };
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
        AGGREGATES.has(lastName(f.funcname) ?? '') ||
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
    const what = limited
      ? 'LIMIT/OFFSET'
      : window
        ? 'a window function'
        : grouped
          ? 'GROUP BY'
          : aggregate
            ? 'an aggregate'
            : distinct
              ? 'DISTINCT'
              : null;
    if (what === null) return;
    const keyColumns: ColumnOf[] = [];
    // Correlated with the outer query: each evaluation sees the rows of one outer value.
    for (const c of conjuncts(body.whereClause)) {
      const e = isType(c, 'A_Expr');
      if (e?.kind !== 'AEXPR_OP' || str(list(e.name)[0]) !== '=') continue;
      const l = this.resolve(e.lexpr, scope);
      const r = this.resolve(e.rexpr, scope);
      if (!l || !r) continue;
      if (l.scope === scope && r.scope !== scope) keyColumns.push(l.of);
      else if (r.scope === scope && l.scope !== scope) keyColumns.push(r.of);
    }
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

  /** `a.k = b.k AND a.k = v` pins b.k to v too (chains: until nothing new). */
  propagatePins(): void {
    const known = new Map<string, ColocationFacts['pins'][number]>();
    for (const p of this.pins) known.set(keyOf(p.of), p);
    for (let changed = true; changed; ) {
      changed = false;
      for (const [a, b] of this.strong) {
        for (const [from, to] of [
          [a, b],
          [b, a],
        ] as const) {
          const pin = known.get(keyOf(from));
          if (!pin || known.has(keyOf(to))) continue;
          const copy = { ...pin, of: to };
          this.pins.push(copy);
          known.set(keyOf(to), copy);
          changed = true;
        }
      }
    }
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
  b.propagatePins();
  const refs = b.refs;
  if (refs.length < 2 && b.blocks.length === 0) return undefined;
  return { refs, groups: groups.filter((g) => g.length > 0), links: b.links, pins: b.pins, blocks: b.blocks };
}

/** Outputs seen through column aliases (`AS x(a, b)`, `WITH x(a, b)`): renamed by position; other
 *  names are not resolved (no link rather than a wrong one). */
function renamed(outputs: Outputs, names: string[]): Outputs {
  if (names.length === 0) return outputs;
  const cols = outputs.list;
  return {
    list: cols ? cols.map((c, i) => (i < names.length ? c : null)) : null,
    byName: (column) => {
      const i = names.indexOf(column);
      return i >= 0 && cols ? (cols[i] ?? null) : null;
    },
  };
}
