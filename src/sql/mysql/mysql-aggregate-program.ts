// The aggregate program of a MySQL SELECT (the twin of src/sql/pg-aggregate-program.ts, same
// AggregateProgram type, evaluated by the same src/executor/aggregate-program.ts under MySQL's
// rules): aggregates inside expressions (round(avg(x), 2), max(x) - min(x), sum(x) / count(*)),
// count(DISTINCT x), GROUP_CONCAT ([DISTINCT] ... ORDER BY ... SEPARATOR ...), STDDEV/VARIANCE,
// and HAVING over any of them. Each hidden column's per-shard SQL is written here from the AST:
// arguments are column references only, so the texts hold no literal and are the same for every
// execution of the fingerprint. Values and keys of GROUP_CONCAT and DISTINCT sets travel as
// JSON_ARRAYAGG arrays; a MIN(key) column beside each gives the key's type and collation.
import type { ValueRef } from '../facts.js';
import type { AggregateProgram, ProgramExpr, ProgramPartial, StatFn } from '../pg-aggregate-program.js';
import {
  asArray,
  columnSource,
  functionName,
  isNode,
  type Node,
  nameOf,
  valueRef,
  walk,
} from './mysql-ast.js';

const SIMPLE = new Set(['count', 'sum', 'min', 'max']);
/** MySQL's STD, STDDEV and VARIANCE are the population statistics. */
const STATS: Record<string, StatFn> = {
  std: 'stddev_pop',
  stddev: 'stddev_pop',
  stddev_pop: 'stddev_pop',
  stddev_samp: 'stddev_samp',
  variance: 'var_pop',
  var_pop: 'var_pop',
  var_samp: 'var_samp',
};
const FUNCTIONS = new Set(['round', 'truncate', 'abs', 'coalesce', 'ifnull', 'nullif', 'greatest', 'least']);
const OPERATORS = new Set(['+', '-', '*', '/', '=', '<>', '!=', '<', '<=', '>', '>=']);

class Unsupported extends Error {}

function refuse(what: string): never {
  throw new Unsupported(what);
}

/** Aggregates the grammar may file as plain functions. */
const FUNCTION_AGGREGATES = new Set(['bit_and', 'bit_or', 'bit_xor', 'json_arrayagg', 'json_objectagg']);

function isAggregateNode(n: Node): boolean {
  if (n.over) return false;
  if (n.type === 'aggr_func') return true;
  const name = n.type === 'function' ? functionName(n) : null;
  return name !== null && (name in STATS || FUNCTION_AGGREGATES.has(name));
}

function holdsAggregate(node: unknown): boolean {
  let found = false;
  walk(node, (n) => {
    if ((n.type === 'aggr_func' || n.type === 'function') && isAggregateNode(n)) found = true;
  });
  return found;
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/** A column reference's SQL (`t`.`c`); anything else is refused (no literal may reach the text). */
function columnSql(node: unknown): string {
  if (!isNode(node) || node.type !== 'column_ref') return refuse('an aggregate argument other than a column');
  const column = nameOf(node.column);
  if (column === null || column === '*') return refuse('an aggregate argument other than a column');
  const table = nameOf(node.table);
  return table === null ? quote(column) : `${quote(table)}.${quote(column)}`;
}

function aggregateArgs(n: Node): { args: Node; distinct: boolean } {
  const args = isNode(n.args) ? n.args : {};
  return { args, distinct: typeof args.distinct === 'string' && args.distinct.toUpperCase() === 'DISTINCT' };
}

/** Whether the simple column-wise merge cannot combine this SELECT's aggregates. */
function needsProgram(sel: Node, simpleHaving: boolean): boolean {
  if (sel.having && !simpleHaving) return true;
  const cols = asArray(sel.columns).filter(isNode);
  for (const c of cols) {
    const e = c.expr;
    if (!holdsAggregate(e)) continue;
    if (!isNode(e) || !isAggregateNode(e)) return true;
    const name = functionName(e) ?? '';
    if (!SIMPLE.has(name) && name !== 'avg') return true;
    if (aggregateArgs(e).distinct) return true;
  }
  return false;
}

/**
 * The program of a grouped MySQL SELECT with each hidden column's per-shard SQL; null when the
 * simple merge suffices or the SELECT is not aggregated; a string says what cannot be computed.
 */
export function mysqlProgramFor(
  sel: Node,
  simpleHaving: boolean,
): { program: AggregateProgram; columns: string[] } | string | null {
  if (!needsProgram(sel, simpleHaving)) return null;
  const outputsCount = asArray(sel.columns).filter(isNode).length;
  const partials: ProgramPartial[] = [];
  const columns: string[] = [];
  const byKey = new Map<string, number>();
  const add = (sql: string[]): number => {
    const first = outputsCount + columns.length;
    columns.push(...sql);
    return first;
  };
  const partial = (node: Node, make: () => ProgramPartial): number => {
    const key = JSON.stringify(node, (k, v: unknown) => (k === 'loc' ? undefined : v));
    const known = byKey.get(key);
    if (known !== undefined) return known;
    partials.push(make());
    byKey.set(key, partials.length - 1);
    return partials.length - 1;
  };

  const aggregate = (f: Node): ProgramExpr<ValueRef> => {
    const name = functionName(f) ?? '';
    const i = partial(f, (): ProgramPartial => {
      const stat = STATS[name];
      if (stat) {
        const values = asArray(isNode(f.args) ? f.args.value : undefined);
        if (values.length !== 1) refuse(`${name}() of several arguments`);
        const x = columnSql(values[0]);
        const first = add([`${name}(${x})`, `count(${x})`, `sum(${x})`, `sum(${x} * ${x})`]);
        return { fn: 'stat', stat, type: first, count: first + 1, sum: first + 2, sumSquares: first + 3 };
      }
      if (f.type !== 'aggr_func') refuse(`aggregate ${name}() across shards`);
      const { args, distinct } = aggregateArgs(f);
      const star = isNode(args.expr) && args.expr.type === 'star';
      if (name === 'group_concat') return groupConcat(args, distinct);
      if (asArray(args.orderby).length > 0) refuse(`${name}(... ORDER BY ...) across shards`);
      if (distinct) {
        if (name === 'min' || name === 'max') {
          const column = add([`${name}(${columnSql(args.expr)})`]);
          const source = columnSource(args.expr, sel);
          return source ? { fn: name, column, source } : { fn: name, column };
        }
        if (name !== 'count') refuse(`${name}(DISTINCT ...) across shards`);
        const x = columnSql(args.expr);
        const first = add([`count(DISTINCT ${x})`, `JSON_ARRAYAGG(DISTINCT ${x})`, `min(${x})`]);
        const source = columnSource(args.expr, sel);
        const partial: ProgramPartial = {
          fn: 'distinct',
          of: 'count',
          type: first,
          values: first + 1,
          valueType: first + 2,
        };
        return source ? { ...partial, source } : partial;
      }
      const x = star ? '*' : columnSql(args.expr);
      if (star && name !== 'count') refuse(`${name}(*)`);
      if (name === 'avg') {
        const first = add([`sum(${x})`, `count(${x})`]);
        return { fn: 'avg', sum: first, count: first + 1 };
      }
      if (SIMPLE.has(name)) {
        const fn = name as 'count' | 'sum' | 'min' | 'max';
        const column = add([`${name}(${x})`]);
        const source = fn === 'min' || fn === 'max' ? columnSource(args.expr, sel) : undefined;
        return source ? { fn, column, source } : { fn, column };
      }
      return refuse(`aggregate ${name}() across shards`);
    });
    return { k: 'partial', i };
  };

  /** GROUP_CONCAT: values as text (what GROUP_CONCAT prints), each ORDER BY key with its type. */
  const groupConcat = (args: Node, distinct: boolean): ProgramPartial => {
    const x = columnSql(args.expr);
    const order = asArray(args.orderby)
      .filter(isNode)
      .map((o) => ({
        sql: columnSql(o.expr),
        source: columnSource(o.expr, sel) ?? null,
        desc: typeof o.type === 'string' && o.type.toUpperCase() === 'DESC',
      }));
    // DISTINCT keeps one of equal values: exact only when they sort by the value itself.
    if (distinct && !(order.length === 1 && order[0]!.sql === x))
      refuse('GROUP_CONCAT(DISTINCT ...) ordered by anything but its value');
    const by =
      order.length > 0 ? ` ORDER BY ${order.map((o) => `${o.sql}${o.desc ? ' DESC' : ''}`).join(', ')}` : '';
    const values = add([`JSON_ARRAYAGG(CAST(${x} AS CHAR)${by})`]);
    const keys = order.map((o) => add([`JSON_ARRAYAGG(${o.sql}${by})`]));
    const keyTypes = order.map((o) => add([`min(${o.sql})`]));
    const separator = isNode(args.separator) ? args.separator.value : undefined;
    let delimiter: ValueRef = { kind: 'const', value: ',' };
    if (separator !== undefined) {
      const ref = valueRef(separator);
      if (ref === null) refuse('a GROUP_CONCAT SEPARATOR that is not a string');
      delimiter = ref;
    }
    return {
      fn: 'string_agg',
      values,
      keys,
      keyTypes,
      keySources: order.map((o) => o.source),
      // MySQL sorts NULL first ascending, last descending.
      order: order.map((o) => ({ desc: o.desc, nullsFirst: !o.desc })),
      delimiter,
      ...(distinct ? { distinct: true } : {}),
    };
  };

  const constant = (node: Node): ProgramExpr<ValueRef> => {
    if (node.type === 'null') return { k: 'const', value: { kind: 'const', value: null }, literal: 'null' };
    const ref = valueRef(node);
    if (!ref) return refuse('a constant the proxy cannot read');
    // MySQL compares a string with a number as a number (with warnings) or under a collation.
    if (node.type !== 'number' && node.type !== 'unary_expr') refuse('a string constant over aggregates');
    return { k: 'const', value: ref, literal: 'num' };
  };

  const expr = (node: unknown): ProgramExpr<ValueRef> => {
    if (!isNode(node)) return refuse('an expression the proxy cannot evaluate');
    if (node.parentheses === true && node.type !== 'binary_expr')
      return expr({ ...node, parentheses: false });
    switch (node.type) {
      case 'aggr_func':
        return aggregate(node);
      case 'function': {
        if (node.over) return refuse('a window function over grouped rows');
        const name = functionName(node) ?? '';
        if (isAggregateNode(node)) return aggregate(node);
        if (!FUNCTIONS.has(name)) return refuse(`${name}() over aggregates across shards`);
        const args = asArray(isNode(node.args) ? node.args.value : undefined).map(expr);
        return { k: 'fn', name: name === 'ifnull' ? 'coalesce' : name, args };
      }
      case 'binary_expr': {
        const op = typeof node.operator === 'string' ? node.operator.toUpperCase() : '';
        if (op === 'AND' || op === 'OR' || op === '&&' || op === '||') {
          return {
            k: 'bool',
            op: op === 'AND' || op === '&&' ? 'and' : 'or',
            args: [expr(node.left), expr(node.right)],
          };
        }
        if (op === 'IS' || op === 'IS NOT') {
          if (!isNode(node.right) || node.right.type !== 'null') return refuse(`${op} over aggregates`);
          return { k: 'isnull', not: op === 'IS NOT', arg: expr(node.left) };
        }
        if (!OPERATORS.has(op)) return refuse(`operator ${op} over aggregates`);
        return { k: 'op', op: op === '!=' ? '<>' : op, args: [expr(node.left), expr(node.right)] };
      }
      case 'unary_expr': {
        const op = typeof node.operator === 'string' ? node.operator.toUpperCase() : '';
        if (op === '-' && isNode(node.expr) && node.expr.type === 'number') return constant(node);
        if (op === '-') return { k: 'op', op: 'neg', args: [expr(node.expr)] };
        if (op === 'NOT' || op === '!') return { k: 'bool', op: 'not', args: [expr(node.expr)] };
        return refuse(`operator ${op} over aggregates`);
      }
      case 'column_ref': {
        const sql = columnSql(node);
        return { k: 'partial', i: partial(node, () => ({ fn: 'value', column: add([sql]) })) };
      }
      case 'number':
      case 'null':
      case 'single_quote_string':
      case 'double_quote_string':
      case 'string':
        return constant(node);
      default:
        // node-sql-parser gives a subquery as { ast } with no type: name it, never "undefined".
        return refuse(
          `${typeof node.type === 'string' ? node.type : 'ast' in node ? 'a subquery' : 'an expression'} over aggregates across shards`,
        );
    }
  };

  try {
    const outputs = asArray(sel.columns)
      .filter(isNode)
      .map((c) => (holdsAggregate(c.expr) ? expr(c.expr) : null));
    const having = sel.having ? expr(sel.having) : null;
    return {
      program: { outputs, having, partials, hiddenColumns: columns.length, dialect: 'mysql' },
      columns,
    };
  } catch (err) {
    if (err instanceof Unsupported) return err.message;
    throw err;
  }
}
