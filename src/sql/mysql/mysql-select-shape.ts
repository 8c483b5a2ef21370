// What a scatter-gather merge needs from a MySQL SELECT (see src/sql/pg-select-shape.ts): output
// columns with top-level aggregates, ORDER BY / GROUP BY as output positions, LIMIT [offset,]
// count / LIMIT count OFFSET n as value references, and the first feature a streaming merge
// cannot reproduce. MySQL sorts NULL as the smallest value: first ascending, last descending.
import {
  type AggregateFn,
  columnlessShape,
  type OrderItem,
  type OutputColumn,
  type SelectShape,
  type SetTree,
  type ValueRef,
} from '../facts.js';
import { WINDOW_ACROSS_SHARDS } from '../pg-select-shape.js';
import { mysqlProgramFor } from './mysql-aggregate-program.js';
import {
  asArray,
  columnSource,
  functionName,
  isNode,
  type Node,
  nameOf,
  positionNumber,
  shapeKey,
  valueRef,
  walk,
} from './mysql-ast.js';
import { mysqlHaving } from './mysql-having.js';
import { mysqlWindowProgram } from './mysql-window-program.js';

const MERGEABLE = new Set<string>(['count', 'sum', 'min', 'max', 'avg']);

/**
 * Built-in aggregates (the grammar marks most as aggr_func; some arrive as plain functions). The
 * fallback classifier refuses to merge a statement it could not parse that calls one of them.
 */
export const MYSQL_AGGREGATES: ReadonlySet<string> = new Set([
  ...MERGEABLE,
  'group_concat',
  'json_arrayagg',
  'json_objectagg',
  'bit_and',
  'bit_or',
  'bit_xor',
  'std',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
]);

function isAggregate(n: Node): boolean {
  if (n.type !== 'aggr_func' && n.type !== 'function') return false;
  if (n.over) return false;
  const name = functionName(n);
  return n.type === 'aggr_func' || (name !== null && MYSQL_AGGREGATES.has(name));
}

/** A `/` anywhere in the expression: a DECIMAL quotient whose shown scale is less than its own. */
function hasDivision(expr: unknown): boolean {
  let found = false;
  walk(expr, (n) => {
    if (n.type === 'binary_expr' && n.operator === '/') found = true;
  });
  return found;
}

function isStar(expr: unknown): boolean {
  return (
    isNode(expr) && ((expr.type === 'column_ref' && nameOf(expr.column) === '*') || expr.type === 'star')
  );
}

/** The name the column will have: alias, column name, or the function's name. */
function outputName(col: Node): string {
  const alias = nameOf(col.as);
  if (alias !== null) return alias;
  const e = col.expr;
  if (!isNode(e)) return '?column?';
  if (e.type === 'column_ref') return nameOf(e.column) ?? '?column?';
  return functionName(e) ?? '?column?';
}

interface Target {
  column: OutputColumn;
  key: string;
}

function outputColumn(col: Node, problems: string[], windows: Node[], program: boolean): OutputColumn {
  const e = col.expr;
  const out: OutputColumn = { name: outputName(col) };
  if (isStar(e)) {
    out.star = true;
    out.name = '*';
  }
  let top: Node | null = null;
  if (program) {
    // The aggregate program computes every aggregate; only windows matter here.
    walk(e, (n) => {
      if ((n.type === 'function' || n.type === 'aggr_func') && isNode(n.over)) windows.push(n.over);
    });
    if (isNode(e) && isAggregate(e)) {
      out.aggregate = (functionName(e) ?? 'count') as AggregateFn;
      const args = isNode(e.args) ? e.args : {};
      if (typeof args.distinct === 'string' && args.distinct.toUpperCase() === 'DISTINCT')
        out.aggregateDistinct = true;
    }
    return out;
  }
  if (isNode(e) && isAggregate(e)) {
    const fname = functionName(e) ?? '';
    if (!MERGEABLE.has(fname)) problems.push(`aggregate ${fname}() across shards`);
    else if ((fname === 'sum' || fname === 'avg') && hasDivision(e.args))
      problems.push(
        `${fname}() of a division across shards (MySQL rounds each shard's partial sum to the quotient's scale; cast the argument, e.g. CAST(a / b AS DECIMAL(30, 10)))`,
      );
    else {
      out.aggregate = fname as AggregateFn;
      const args = isNode(e.args) ? e.args : {};
      if (typeof args.distinct === 'string' && args.distinct.toUpperCase() === 'DISTINCT')
        out.aggregateDistinct = true;
      top = e;
    }
  }
  walk(e, (n) => {
    if ((n.type === 'function' || n.type === 'aggr_func') && isNode(n.over)) windows.push(n.over);
    else if (n !== top && isAggregate(n)) {
      problems.push(
        top === null ? 'an aggregate inside an expression' : 'an aggregate inside an aggregate argument',
      );
    }
  });
  return out;
}

/** The window_specification a window uses: its own, or the WINDOW clause's of that name. */
function windowSpec(over: Node, sel: Node): Node | null {
  const own = over.as_window_specification;
  if (isNode(own)) return isNode(own.window_specification) ? own.window_specification : null;
  if (typeof own !== 'string') return null;
  const clause = isNode(sel.window) ? asArray(sel.window.expr) : [];
  const def = clause.filter(isNode).find((w) => nameOf(w.name)?.toLowerCase() === own.toLowerCase());
  const spec = isNode(def?.as_window_specification) ? def.as_window_specification.window_specification : null;
  return isNode(spec) ? spec : null;
}

/** Column names a window's PARTITION BY uses: per shard it is exact when the shard key is one. */
function partitionKeys(over: Node, sel: Node): string[] {
  const keys: string[] = [];
  for (const p of asArray(windowSpec(over, sel)?.partitionby).filter(isNode)) {
    const e = isNode(p.expr) ? p.expr : p;
    const name = e.type === 'column_ref' ? nameOf(e.column) : null;
    if (name !== null) keys.push(name.toLowerCase());
  }
  return keys;
}

function columnsOf(sel: Node): Node[] {
  const cols = sel.columns;
  if (cols === '*') return [{ expr: { type: 'star', value: '*' }, as: null }];
  return asArray(cols).filter(isNode);
}

/** LIMIT as [count, offset] value nodes. */
function limitNodes(limit: unknown): [unknown, unknown] {
  if (!isNode(limit)) return [undefined, undefined];
  const v = asArray(limit.value);
  if (v.length === 0) return [undefined, undefined];
  if (v.length === 1) return [v[0], undefined];
  return limit.seperator === ',' ? [v[1], v[0]] : [v[0], v[1]];
}

function refused(why: string): SelectShape {
  return columnlessShape(why);
}

/**
 * A top-level UNION [ALL] of plain SELECTs: each branch runs per shard, the merge deduplicates
 * (UNION) and applies the ORDER BY / LIMIT the grammar files under the last branch. Branches that
 * group, deduplicate or window rows themselves, parenthesized branches, INTERSECT / EXCEPT and
 * mixed UNION / UNION ALL are refused.
 */
function unionShape(sel: Node): SelectShape {
  const branches: Node[] = [];
  const ops: string[] = [];
  for (let b: unknown = sel; isNode(b); b = b._next) {
    branches.push(b);
    if (typeof b.set_op === 'string' && isNode(b._next))
      ops.push(b.set_op.toLowerCase().replace(' distinct', ''));
  }
  const tree = setTree(ops);
  if (typeof tree === 'string') return refused(tree);
  const last = branches.at(-1)!;
  const branchTables: string[][] = [];
  const ctes = new Set(
    asArray(sel.with)
      .filter(isNode)
      .map((w) => nameOf(w.name)?.toLowerCase()),
  );
  const sources: Array<Array<{ table: string; column: string }> | null> = [];
  for (const b of branches) {
    if (b.parentheses_symbol) return refused('a parenthesized UNION branch');
    const alone = {
      ...b,
      _next: null,
      set_op: null,
      orderby: null,
      _orderby: null,
      limit: null,
      _limit: null,
    };
    const shape = selectShape(alone);
    if (shape.unmergeable) return refused(shape.unmergeable);
    if (shape.hasAggregates || shape.groupBy.length > 0 || shape.distinct || shape.having || shape.nested)
      return refused('a UNION branch that groups, deduplicates or windows rows itself');
    const tables: string[] = [];
    for (const f of asArray(b.from).filter(isNode)) {
      if (typeof f.table !== 'string') return refused('a UNION branch reading a subquery');
      tables.push(f.table.toLowerCase());
    }
    branchTables.push(tables);
    columnsOf(b).forEach((c, i) => {
      const source = columnSource(c.expr, b);
      const plain = source && !ctes.has(source.table.toLowerCase()) ? source : null;
      if (sources.length <= i) sources.push(plain ? [] : null);
      if (!plain) sources[i] = null;
      else sources[i]?.push(plain);
    });
  }
  const branchSources = sources.some((s) => s !== null) ? { branchSources: sources } : {};
  const head = selectShape({
    ...sel,
    _next: null,
    set_op: null,
    orderby: last.orderby ?? last._orderby,
    limit: last.limit ?? last._limit,
  });
  const setOps = { tree, branchTables };
  // Only UNION or only UNION ALL: the plain union merge; otherwise the proxy evaluates the tree.
  const kinds = new Set(ops);
  if (kinds.size === 1 && (kinds.has('union') || kinds.has('union all')))
    return { ...head, union: { all: kinds.has('union all'), branchTables }, setOps, ...branchSources };
  return { ...head, setOps, ...branchSources };
}

/**
 * The operator tree of a flat MySQL set operation (`ops[i]` joins leaves i and i + 1):
 * INTERSECT binds tighter than UNION and EXCEPT, which associate to the left.
 */
function setTree(ops: string[]): SetTree | string {
  const parsed: Array<{ op: 'union' | 'intersect' | 'except'; all: boolean }> = [];
  for (const o of ops) {
    const m = /^(union|intersect|except)( all)?$/.exec(o);
    if (!m) return `the set operation ${o.toUpperCase()} across shards`;
    parsed.push({ op: m[1] as 'union' | 'intersect' | 'except', all: m[2] !== undefined });
  }
  // Runs of INTERSECT first, then the rest left to right.
  const terms: SetTree[] = [{ leaf: 0 }];
  const between: Array<{ op: 'union' | 'except'; all: boolean }> = [];
  parsed.forEach((p, i) => {
    const leaf: SetTree = { leaf: i + 1 };
    if (p.op === 'intersect') terms.push({ op: 'intersect', all: p.all, left: terms.pop()!, right: leaf });
    else {
      between.push({ op: p.op, all: p.all });
      terms.push(leaf);
    }
  });
  let tree = terms[0]!;
  between.forEach((b, i) => {
    tree = { op: b.op, all: b.all, left: tree, right: terms[i + 1]! };
  });
  return tree;
}

/** min()/max() of a plain table column: the column (its collation orders text partials). */
function minMaxSource(e: unknown, sel: Node): { table: string; column: string } | undefined {
  const fn = isNode(e) && isAggregate(e) ? functionName(e) : null;
  if (!isNode(e) || (fn !== 'min' && fn !== 'max') || !isNode(e.args)) return undefined;
  return columnSource(e.args.expr, sel);
}

/**
 * Per CTE of a SELECT, the table column behind each plain-column output: MariaDB names a CTE's
 * result columns by the CTE, so their collation is looked up through this.
 */
function cteSources(sel: Node): SelectShape['cteSources'] {
  const out: NonNullable<SelectShape['cteSources']> = {};
  const ctes = asArray(sel.with).filter(isNode);
  // A CTE reading another CTE (which shadows a table of its name) is not looked up.
  const names = new Set(ctes.map((w) => nameOf(w.name)?.toLowerCase()));
  for (const w of ctes) {
    const name = nameOf(w.name);
    const body = isNode(w.stmt) && isNode(w.stmt.ast) ? w.stmt.ast : null;
    if (!name || !body || body._next || asArray(w.columns).length > 0 || body.with) continue;
    const columns: Record<string, { table: string; column: string }> = {};
    for (const c of asArray(body.columns).filter(isNode)) {
      const source = columnSource(c.expr, body);
      const as = nameOf(c.as) ?? (isNode(c.expr) ? nameOf(c.expr.column) : null);
      if (source && as && !names.has(source.table.toLowerCase())) columns[as.toLowerCase()] = source;
    }
    out[name] = columns;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function selectShape(sel: Node): SelectShape {
  const shape = selectShapeOf(sel);
  const ctes = isNode(sel) ? cteSources(sel) : undefined;
  return ctes ? { ...shape, cteSources: ctes } : shape;
}

function selectShapeOf(sel: Node): SelectShape {
  if (sel._next || sel.set_op) return unionShape(sel);
  const problems: string[] = [];
  const windows: Node[] = [];
  const having = sel.having ? mysqlHaving(sel.having) : null;
  const planned = sel.columns === '*' ? null : mysqlProgramFor(sel, having !== null);
  if (typeof planned === 'string') problems.push(planned);
  const program = planned !== null && typeof planned === 'object' ? planned : undefined;
  const targets: Target[] = columnsOf(sel).map((c) => {
    const column = outputColumn(c, problems, windows, program !== undefined);
    const source = minMaxSource(c.expr, sel);
    if (source) column.source = source;
    return { column, key: shapeKey(c.expr) };
  });
  const outputs = targets.map((t) => t.column);
  const firstStar = outputs.findIndex((o) => o.star);
  const hasStar = firstStar >= 0;
  const positionOf = (node: unknown): number | null => {
    const n = positionNumber(node);
    if (n !== null) return n >= 1 && (hasStar || n <= outputs.length) ? n : null;
    if (isNode(node) && node.type === 'column_ref' && nameOf(node.table) === null) {
      const name = nameOf(node.column)?.toLowerCase();
      const i = outputs.findIndex((o) => !o.star && o.name.toLowerCase() === name);
      if (i >= 0 && (!hasStar || i < firstStar)) return i + 1;
    }
    const key = shapeKey(node);
    const i = targets.findIndex((t) => t.key === key);
    return i >= 0 && (!hasStar || i < firstStar) ? i + 1 : null;
  };
  // With a WINDOW clause the grammar files ORDER BY and LIMIT under _orderby and _limit.
  const orderBy: OrderItem[] = asArray(sel.orderby ?? sel._orderby)
    .filter(isNode)
    .map((o) => {
      const desc = typeof o.type === 'string' && o.type.toUpperCase() === 'DESC';
      const position = positionOf(o.expr);
      const out = position !== null ? outputs[position - 1] : undefined;
      return { position, name: out && !out.star ? out.name : null, desc, nullsFirst: !desc };
    });
  const group = isNode(sel.groupby) ? sel.groupby : null;
  const groupItems = group ? asArray(group.columns) : asArray(sel.groupby);
  if (group && asArray(group.modifiers).some((m) => m !== null)) problems.push('GROUP BY ... WITH ROLLUP');
  const groupBy = groupItems.map(positionOf);
  const distinct =
    typeof sel.distinct === 'string' ? sel.distinct.toUpperCase() === 'DISTINCT' : isNode(sel.distinct);
  if (sel.having && !having && !program)
    problems.push('HAVING other than count()/sum() compared with numbers');
  const grouped =
    outputs.some((o) => o.aggregate !== undefined) || groupBy.length > 0 || program !== undefined;
  if (windows.length > 0 && (grouped || problems.some((p) => p.includes('aggregate'))))
    problems.push('window functions over grouped rows');
  const nested = windows.map((w) => ({
    what: WINDOW_ACROSS_SHARDS,
    keys: partitionKeys(w, sel),
  }));
  // Used by the merge only when a window's partitions span shards (see merge-spec.ts).
  const windowProgram = windows.length > 0 && problems.length === 0 ? mysqlWindowProgram(sel) : null;
  if (asArray(sel.options).some((o) => String(o).toUpperCase() === 'SQL_CALC_FOUND_ROWS'))
    problems.push('SQL_CALC_FOUND_ROWS');
  const [limitNode, offsetNode] = limitNodes(sel.limit ?? sel._limit);
  const limit: ValueRef | null = limitNode === undefined ? null : valueRef(limitNode);
  const offset: ValueRef | null = offsetNode === undefined ? null : valueRef(offsetNode);
  if (limitNode !== undefined && !limit) problems.push('a LIMIT expression');
  if (offsetNode !== undefined && !offset) problems.push('an OFFSET expression');
  return {
    outputs,
    orderBy,
    limit,
    offset,
    groupBy,
    distinct,
    hasAggregates:
      outputs.some((o) => o.aggregate !== undefined) || problems.some((p) => p.includes('aggregate')),
    unmergeable: problems[0] ?? null,
    ...(nested.length > 0 ? { nested } : {}),
    ...(having && !program ? { having } : {}),
    ...(program ? { program: program.program, programColumns: program.columns } : {}),
    ...(windowProgram !== null && typeof windowProgram === 'object' ? { windowProgram } : {}),
  };
}
