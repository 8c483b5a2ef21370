// Aggregates the simple merge cannot combine column by column: aggregates inside expressions
// (round(avg(x), 2), max(x) - min(x), sum(a) / count(*)), DISTINCT aggregates, array_agg and
// string_agg (ordered or not), and HAVING over any of them. Each shard returns the partials of
// every aggregate call as hidden columns; the proxy combines the partials per group and evaluates
// the expressions over the combined values (src/executor/aggregate-program.ts). The analyzer
// (constants as value references, cached by fingerprint) and the per-shard rewrite (call texts of
// the real statement) both call programFor, so hidden column i means the same thing to both.
import type { ValueRef } from './facts.js';
import { isType, lastName, list, type Node, nodeType, str } from './pg-ast.js';
import { havingCalls } from './pg-having.js';

/** How one aggregate call is computed from its hidden per-shard columns. */
export type ProgramPartial<C = ValueRef> =
  | {
      fn: 'count' | 'sum' | 'min' | 'max' | 'bool_and' | 'bool_or';
      column: number;
      /** MySQL min()/max() of a plain table column: whose collation compares text partials. */
      source?: { table: string; column: string };
    }
  /** A group key or other per-group value used inside an expression: any shard's value. */
  | { fn: 'value'; column: number }
  | { fn: 'avg'; sum: number; count: number }
  /** stddev/variance: `type` holds the call itself (for its result type only). */
  | { fn: 'stat'; stat: StatFn; type: number; count: number; sum: number; sumSquares: number }
  /** count/sum/avg(DISTINCT x): array_agg(DISTINCT x) per shard, `type` the call itself. */
  | {
      fn: 'distinct';
      of: 'count' | 'sum' | 'avg' | 'array_agg';
      type: number;
      values: number;
      /** MySQL: a column of the argument's own type (its MIN), typing the JSON array's elements. */
      valueType?: number;
      /** MySQL, a plain table column argument: whose collation compares the values. */
      source?: { table: string; column: string };
    }
  /** array_agg / string_agg: the values and each ORDER BY key as arrays in the same order. */
  | {
      fn: 'array_agg' | 'string_agg';
      values: number;
      keys: number[];
      order: Array<{ desc: boolean; nullsFirst: boolean }>;
      /** string_agg's delimiter (a constant; null: none). */
      delimiter?: C;
      /** MySQL: per key, a column of the key's own type and collation (its MIN). */
      keyTypes?: number[];
      /** MySQL: per key, the plain table column it is (whose collation compares it), or null. */
      keySources?: Array<{ table: string; column: string } | null>;
      /** GROUP_CONCAT(DISTINCT x ORDER BY x): equal neighbours after the merge are dropped. */
      distinct?: boolean;
    };

export type StatFn = 'stddev_samp' | 'stddev_pop' | 'var_samp' | 'var_pop';

/** An expression over the combined partials; C is the constant's form (ValueRef, then text). */
export type ProgramExpr<C> =
  | { k: 'partial'; i: number }
  | { k: 'const'; value: C; literal: 'int' | 'num' | 'text' | 'null' | 'bool' }
  | { k: 'op'; op: string; args: Array<ProgramExpr<C>> }
  | { k: 'fn'; name: string; args: Array<ProgramExpr<C>> }
  | { k: 'cast'; to: string; typmod: number[]; arg: ProgramExpr<C> }
  | { k: 'bool'; op: 'and' | 'or' | 'not'; args: Array<ProgramExpr<C>> }
  | { k: 'isnull'; not: boolean; arg: ProgramExpr<C> };

export interface AggregateProgram<C = ValueRef> {
  /** Per output column: an expression evaluated at the proxy, or null (a group key, passed). */
  outputs: Array<ProgramExpr<C> | null>;
  having: ProgramExpr<C> | null;
  partials: Array<ProgramPartial<C>>;
  /** Hidden columns appended after the outputs (sum of every partial's columns). */
  hiddenColumns: number;
  /** Whose rules evaluate it (result types, division, array cells); PostgreSQL's by default. */
  dialect?: 'postgres' | 'mysql';
}

/** The SQL a shard runs for one partial: the call's node and how to write each hidden column. */
export interface PartialCall {
  node: Node;
  /** 'call': the call as written; 'array': array_agg(<arg> <order>) FILTER; 'sum', 'count',
   *  'sumx', 'sumxx': the aggregate over the call's argument (with its FILTER); 'key': array_agg
   *  of ORDER BY key j in the call's order; 'column': the node is an expression written as is. */
  columns: Array<
    { kind: 'call' | 'array' | 'sum' | 'count' | 'sumx' | 'sumxx' | 'column' } | { kind: 'key'; key: number }
  >;
}

const SIMPLE = new Set(['count', 'sum', 'min', 'max', 'bool_and', 'bool_or', 'every']);
const STATS: Record<string, StatFn> = {
  stddev: 'stddev_samp',
  stddev_samp: 'stddev_samp',
  stddev_pop: 'stddev_pop',
  variance: 'var_samp',
  var_samp: 'var_samp',
  var_pop: 'var_pop',
};
const FUNCTIONS = new Set([
  'round',
  'trunc',
  'abs',
  'coalesce',
  'nullif',
  'greatest',
  'least',
  'ceil',
  'floor',
]);
const OPERATORS = new Set(['+', '-', '*', '/', '%', '=', '<>', '!=', '<', '<=', '>', '>=', '||']);
const CASTS = new Set(['numeric', 'int2', 'int4', 'int8', 'float4', 'float8', 'text', 'bool', 'varchar']);

class Unsupported extends Error {}

function refuse(what: string): never {
  throw new Unsupported(what);
}

function isAggregate(f: Node): boolean {
  if (f.over) return false;
  const name = lastName(f.funcname) ?? '';
  return SIMPLE.has(name) || name === 'avg' || name in STATS || name === 'array_agg' || name === 'string_agg';
}

/** Does this expression tree hold an aggregate call (not under a window)? */
function holdsAggregate(node: unknown): boolean {
  let found = false;
  const visit = (n: unknown): void => {
    if (found || !n || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const x of n) visit(x);
      return;
    }
    const t = nodeType(n);
    if (t?.[0] === 'FuncCall' && !t[1].over && (isAggregate(t[1]) || t[1].agg_star)) {
      found = true;
      return;
    }
    if (t?.[0] === 'SubLink') return;
    for (const v of Object.values(t ? t[1] : (n as Node))) visit(v);
  };
  visit(node);
  return found;
}

/** Whether a SELECT needs the program (the simple merge cannot combine it). */
export function needsProgram(sel: Node): boolean {
  // HAVING beyond comparisons of count/sum/min/max with constants (pg-having.ts).
  if (sel.havingClause && havingCalls(sel.havingClause) === null) return true;
  for (const t of list(sel.targetList)) {
    const val = isType(t, 'ResTarget')?.val;
    if (!holdsAggregate(val)) continue;
    const f = isType(val, 'FuncCall');
    const name = f ? (lastName(f.funcname) ?? '') : '';
    const plain =
      f &&
      !f.agg_distinct &&
      !f.agg_order &&
      !f.agg_within_group &&
      (SIMPLE.has(name) || name === 'avg' || name in STATS);
    if (!plain) return true;
  }
  return false;
}

type Constant = (node: unknown) => ValueRef | null;

/**
 * The program of a grouped SELECT, with the calls each shard runs; null when the SELECT is not
 * aggregated or the simple merge suffices; a string says what cannot be computed.
 */
export function programFor(
  sel: Node,
  constant: Constant,
): { program: AggregateProgram; calls: PartialCall[] } | string | null {
  if (!needsProgram(sel)) return null;
  const partials: ProgramPartial[] = [];
  const calls: PartialCall[] = [];
  const outputsCount = list(sel.targetList).length;
  let next = outputsCount;
  const byKey = new Map<string, number>();
  const take = (n: number) => {
    const first = next;
    next += n;
    return first;
  };
  const partial = (node: Node, make: () => { p: ProgramPartial; c: PartialCall }): number => {
    const key = JSON.stringify(node, (k, v: unknown) => (k === 'location' ? undefined : v));
    const known = byKey.get(key);
    if (known !== undefined) return known;
    const { p, c } = make();
    partials.push(p);
    calls.push(c);
    byKey.set(key, partials.length - 1);
    return partials.length - 1;
  };

  const aggregate = (f: Node): ProgramExpr<ValueRef> => {
    const name = lastName(f.funcname) ?? '';
    if (f.agg_within_group) refuse(`${name}() WITHIN GROUP across shards`);
    for (const a of list(f.args)) if (holdsAggregate(a)) refuse('an aggregate inside an aggregate argument');
    const i = partial({ FuncCall: f }, () => {
      const call = (columns: PartialCall['columns']): PartialCall => ({ node: f, columns });
      if (f.agg_distinct) {
        if (f.agg_order) refuse(`${name}(DISTINCT ... ORDER BY ...) across shards`);
        if (name === 'min' || name === 'max')
          return { p: { fn: name, column: take(1) }, c: call([{ kind: 'call' }]) };
        if (name !== 'count' && name !== 'sum' && name !== 'avg' && name !== 'array_agg')
          refuse(`${name}(DISTINCT ...) across shards`);
        if (list(f.args).length !== 1) refuse(`${name}(DISTINCT ...) of several arguments`);
        const first = take(2);
        return {
          p: { fn: 'distinct', of: name, type: first, values: first + 1 },
          c: call([{ kind: 'call' }, { kind: 'array' }]),
        };
      }
      if (name === 'array_agg' || name === 'string_agg') {
        const order = list(f.agg_order).map((s) => {
          const b = isType(s, 'SortBy') ?? {};
          if (b.sortby_dir === 'SORTBY_USING') refuse('ORDER BY ... USING inside an aggregate');
          const desc = b.sortby_dir === 'SORTBY_DESC';
          const nulls = b.sortby_nulls;
          return {
            desc,
            nullsFirst: nulls === 'SORTBY_NULLS_FIRST' ? true : nulls === 'SORTBY_NULLS_LAST' ? false : desc,
          };
        });
        const first = take(1 + order.length);
        const keys = order.map((_, j) => first + 1 + j);
        const columns: PartialCall['columns'] = [
          { kind: 'array' },
          ...order.map((_, j) => ({ kind: 'key' as const, key: j })),
        ];
        if (name === 'array_agg') {
          if (list(f.args).length !== 1) refuse('array_agg of several arguments');
          return { p: { fn: 'array_agg', values: first, keys, order }, c: call(columns) };
        }
        const args = list(f.args);
        if (args.length !== 2) refuse('string_agg without a delimiter');
        const delimiter = expr(args[1]);
        if (delimiter.k !== 'const') return refuse('string_agg with a delimiter that is not a constant');
        return {
          p: { fn: 'string_agg', values: first, keys, order, delimiter: delimiter.value },
          c: call(columns),
        };
      }
      if (f.agg_order) refuse(`${name}(... ORDER BY ...) across shards`);
      if (name === 'avg') {
        const first = take(2);
        return {
          p: { fn: 'avg', sum: first, count: first + 1 },
          c: call([{ kind: 'sum' }, { kind: 'count' }]),
        };
      }
      const stat = STATS[name];
      if (stat) {
        const first = take(4);
        return {
          p: { fn: 'stat', stat, type: first, count: first + 1, sum: first + 2, sumSquares: first + 3 },
          c: call([{ kind: 'call' }, { kind: 'count' }, { kind: 'sumx' }, { kind: 'sumxx' }]),
        };
      }
      if (SIMPLE.has(name)) {
        const fn =
          name === 'every' ? 'bool_and' : (name as 'count' | 'sum' | 'min' | 'max' | 'bool_and' | 'bool_or');
        return { p: { fn, column: take(1) }, c: call([{ kind: 'call' }]) };
      }
      return refuse(`aggregate ${name}() across shards`);
    });
    return { k: 'partial', i };
  };

  const expr = (node: unknown): ProgramExpr<ValueRef> => {
    const t = nodeType(node);
    if (!t) return refuse('an expression the proxy cannot evaluate');
    const [type, b] = t;
    switch (type) {
      case 'FuncCall': {
        if (b.over) return refuse('a window function over grouped rows');
        if (isAggregate(b) || b.agg_star) return aggregate(b);
        const name = lastName(b.funcname) ?? '';
        if (!FUNCTIONS.has(name) || b.agg_distinct || b.agg_order || b.agg_filter)
          return refuse(`${name}() over aggregates across shards`);
        return { k: 'fn', name, args: list(b.args).map(expr) };
      }
      case 'CoalesceExpr':
        return { k: 'fn', name: 'coalesce', args: list(b.args).map(expr) };
      case 'MinMaxExpr':
        return { k: 'fn', name: b.op === 'IS_GREATEST' ? 'greatest' : 'least', args: list(b.args).map(expr) };
      case 'NullIfExpr':
        return { k: 'fn', name: 'nullif', args: list(b.args).map(expr) };
      case 'A_Expr': {
        const op = str(list(b.name)[0]) ?? '';
        if (b.kind === 'AEXPR_NULLIF')
          return { k: 'fn', name: 'nullif', args: [expr(b.lexpr), expr(b.rexpr)] };
        if (b.kind !== 'AEXPR_OP' || !OPERATORS.has(op)) return refuse(`operator ${op} over aggregates`);
        if (!b.lexpr) return { k: 'op', op: op === '-' ? 'neg' : op, args: [expr(b.rexpr)] };
        return { k: 'op', op: op === '!=' ? '<>' : op, args: [expr(b.lexpr), expr(b.rexpr)] };
      }
      case 'BoolExpr': {
        const op = b.boolop === 'AND_EXPR' ? 'and' : b.boolop === 'OR_EXPR' ? 'or' : 'not';
        return { k: 'bool', op, args: list(b.args).map(expr) };
      }
      case 'NullTest':
        return { k: 'isnull', not: b.nulltesttype === 'IS_NOT_NULL', arg: expr(b.arg) };
      case 'TypeCast': {
        const typeName = isType(b.typeName, 'TypeName') ?? (b.typeName as Node | undefined) ?? {};
        const to = lastName(typeName.names) ?? '';
        if (!CASTS.has(to) || list(typeName.arrayBounds).length > 0)
          return refuse(`a cast to ${to} over aggregates`);
        const typmod = list(typeName.typmods).map((m) => {
          const c = isType(m, 'A_Const');
          const v = (c?.ival as { ival?: number } | undefined)?.ival;
          return typeof v === 'number' ? v : c?.ival ? 0 : refuse('a type modifier that is not a constant');
        });
        const inner = nodeType(b.arg);
        // '1.5'::numeric and 5::int are constants of that type.
        if (inner?.[0] === 'A_Const') return { k: 'cast', to, typmod, arg: constantExpr(inner[1], b.arg) };
        return { k: 'cast', to, typmod, arg: expr(b.arg) };
      }
      case 'A_Const':
        return constantExpr(b, node);
      case 'ColumnRef':
      case 'ParamRef':
        if (type === 'ParamRef') {
          const ref = constant(node);
          if (!ref) return refuse('a parameter the proxy cannot read');
          return { k: 'const', value: ref, literal: 'text' };
        }
        return {
          k: 'partial',
          i: partial(node as Node, () => ({
            p: { fn: 'value', column: take(1) },
            c: { node: node as Node, columns: [{ kind: 'column' }] },
          })),
        };
      default:
        return refuse(`${type} over aggregates across shards`);
    }
  };

  const constantExpr = (b: Node, node: unknown): ProgramExpr<ValueRef> => {
    if (b.isnull) return { k: 'const', value: { kind: 'const', value: null }, literal: 'null' };
    if (b.boolval !== undefined) {
      const v = (b.boolval as { boolval?: boolean }).boolval;
      return { k: 'const', value: { kind: 'const', value: v ? 't' : 'f' }, literal: 'bool' };
    }
    const ref = constant(node);
    if (!ref) return refuse('a constant the proxy cannot read');
    const literal = b.ival !== undefined ? 'int' : b.fval !== undefined ? 'num' : 'text';
    return { k: 'const', value: ref, literal };
  };

  try {
    const outputs = list(sel.targetList).map((t) => {
      const rt = isType(t, 'ResTarget') ?? {};
      if (!holdsAggregate(rt.val)) return null;
      return expr(rt.val);
    });
    const having = sel.havingClause ? expr(sel.havingClause) : null;
    return { program: { outputs, having, partials, hiddenColumns: next - outputsCount }, calls };
  } catch (err) {
    if (err instanceof Unsupported) return err.message;
    throw err;
  }
}
