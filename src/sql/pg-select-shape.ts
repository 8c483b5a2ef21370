// What a scatter-gather merge needs from a SELECT: output columns (names, top-level aggregates),
// ORDER BY and GROUP BY as output positions, LIMIT/OFFSET as value references, and the first
// feature a streaming merge cannot reproduce (`unmergeable`), which the planner refuses to scatter.
import type { AggregateFn, OrderItem, OutputColumn, SelectShape } from './facts.js';
import { programFor } from './pg-aggregate-program.js';
import { MERGEABLE_AGGREGATES, PG_AGGREGATES } from './pg-aggregates.js';
import { isType, lastName, list, type Node, nodeType, str, unwrapCast, walk } from './pg-ast.js';
import { figureName } from './pg-column-name.js';
import { havingCalls, havingExpr } from './pg-having.js';
import { branchSelects, nestedSelects } from './pg-nested-selects.js';
import { setOperationTree } from './pg-set-operations.js';
import { windowProgramFor } from './pg-window-program.js';

/** The nested-select reason of a top-level window whose partitions may span shards. */
export const WINDOW_ACROSS_SHARDS = 'a window function not partitioned by the shard key';

import { type LiteralMap, valueRef } from './pg-values.js';

/** Aggregates that are another's synonym, merged as that one. */
const SYNONYMS: Record<string, AggregateFn> = {
  every: 'bool_and',
  stddev: 'stddev_samp',
  variance: 'var_samp',
};

function isAggregateCall(f: Node): boolean {
  if (f.over) return false;
  const name = lastName(f.funcname) ?? '';
  return PG_AGGREGATES.has(name) || Boolean(f.agg_within_group) || Boolean(f.agg_filter);
}

/** Node text without locations: equal expressions compare equal. */
function shapeKey(node: unknown): string {
  return JSON.stringify(node, (k, v: unknown) => (k === 'location' ? undefined : v));
}

interface Target {
  column: OutputColumn;
  key: string;
}

function outputColumn(rt: Node, problems: string[], windows: Node[], program: boolean): OutputColumn {
  const v = unwrapCast(rt.val);
  const named = typeof rt.name === 'string';
  const col: OutputColumn = { name: named ? (rt.name as string) : figureName(rt.val) };
  if (v?.[0] === 'ColumnRef') {
    const fields = list(v[1].fields);
    if (isType(fields[fields.length - 1], 'A_Star')) {
      col.star = true;
      col.name = '*';
    }
  }
  let topAggregate: Node | null = null;
  if (v?.[0] === 'FuncCall' && isAggregateCall(v[1])) {
    const fname = lastName(v[1].funcname) ?? '';
    const mergeable = MERGEABLE_AGGREGATES.has(fname) && !v[1].agg_within_group && !v[1].agg_order;
    if (!mergeable && !program) problems.push(`aggregate ${fname}() across shards`);
    else {
      col.aggregate = SYNONYMS[fname] ?? (fname as AggregateFn);
      if (v[1].agg_distinct) col.aggregateDistinct = true;
      topAggregate = v[1];
    }
  }
  // Window functions and aggregates buried in expressions (sum(x) + 1) cannot be merged.
  walk(rt.val, (type, body) => {
    if (type === 'FuncCall') {
      if (body.over) windows.push(body.over as Node);
      else if (program) return;
      else if (body !== topAggregate && isAggregateCall(body) && topAggregate === null)
        problems.push('an aggregate inside an expression');
      else if (body !== topAggregate && isAggregateCall(body))
        problems.push('an aggregate inside an aggregate argument');
    }
  });
  return col;
}

/** The leaf SELECTs of a UNION [ALL] of one kind; null when the tree mixes kinds or operators. */
function unionBranches(sel: Node): Node[] | null {
  const leaves: Node[] = [];
  const visit = (n: Node): boolean => {
    if (!n.op || n.op === 'SETOP_NONE') {
      leaves.push(n);
      return true;
    }
    if (n.op !== sel.op || Boolean(n.all) !== Boolean(sel.all)) return false;
    return visit((n.larg ?? {}) as Node) && visit((n.rarg ?? {}) as Node);
  };
  return visit(sel) ? leaves : null;
}

/** Tables a SELECT reads in its FROM clause (relation names, unqualified). */
function fromTables(sel: Node): string[] {
  const out = new Set<string>();
  walk(sel.fromClause, (type, b) => {
    if (type === 'RangeVar' && typeof b.relname === 'string') out.add(b.relname);
  });
  return [...out];
}

/** Column names a window's PARTITION BY uses (through a named window of the WINDOW clause). */
function partitionKeys(over: Node, windowClause: unknown): string[] {
  const defs = [over];
  const ref =
    typeof over.refname === 'string' ? over.refname : typeof over.name === 'string' ? over.name : null;
  if (ref !== null)
    for (const w of list(windowClause)) {
      const def = isType(w, 'WindowDef');
      if (def?.name === ref) defs.push(def);
    }
  const keys: string[] = [];
  for (const d of defs)
    for (const p of list(d.partitionClause)) {
      const ref = isType(p, 'ColumnRef');
      const name = str(list(ref?.fields).at(-1));
      if (name) keys.push(name);
    }
  return keys;
}

export function selectShape(sel: Node, lits: LiteralMap): SelectShape {
  const problems: string[] = [];
  const windows: Node[] = [];
  const setOp = sel.op && sel.op !== 'SETOP_NONE';
  const branches = setOp ? unionBranches(sel) : null;
  const setTree = setOp ? setOperationTree(sel) : null;
  // A set operation's columns are its first branch's.
  const head = branches?.[0] ?? (setTree && typeof setTree === 'object' ? setTree.leaves[0]! : sel);
  // Aggregates the column-wise merge cannot combine: the proxy evaluates them from partials.
  const planned = setOp ? null : programFor(sel, (n) => valueRef(n, lits));
  if (typeof planned === 'string') problems.push(planned);
  const program = planned !== null && typeof planned === 'object' ? planned.program : undefined;
  const targets: Target[] = list(head.targetList).map((t) => {
    const rt = isType(t, 'ResTarget') ?? {};
    return { column: outputColumn(rt, problems, windows, program !== undefined), key: shapeKey(rt.val) };
  });
  const outputs = targets.map((t) => t.column);
  const firstStar = outputs.findIndex((o) => o.star);
  const hasStar = firstStar >= 0;
  // 1-based output position a sort/group key refers to, or null.
  const positionOf = (node: unknown): number | null => {
    const t = nodeType(node);
    if (t?.[0] === 'A_Const' && t[1].ival !== undefined) {
      const n = (t[1].ival as { ival?: number }).ival ?? 0;
      // With * the result has more columns than the list: the executor checks the range.
      return n >= 1 && (hasStar || n <= outputs.length) ? n : null;
    }
    const fields = t?.[0] === 'ColumnRef' ? list(t[1].fields).map(str) : [];
    if (fields.length === 1 && fields[0]) {
      const name = fields[0];
      const i = outputs.findIndex((o) => !o.star && o.name === name);
      if (i >= 0 && (!hasStar || i < firstStar)) return i + 1;
    }
    const key = shapeKey(node);
    const i = targets.findIndex((x) => x.key === key);
    return i >= 0 && (!hasStar || i < firstStar) ? i + 1 : null;
  };
  const orderBy: OrderItem[] = list(sel.sortClause).map((s) => {
    const b = isType(s, 'SortBy') ?? {};
    const desc = b.sortby_dir === 'SORTBY_DESC';
    if (b.sortby_dir === 'SORTBY_USING') problems.push('ORDER BY ... USING');
    const position = positionOf(b.node);
    const out = position !== null ? outputs[position - 1] : undefined;
    const fields = list(isType(b.node, 'ColumnRef')?.fields);
    const bare = fields.length === 1 ? str(fields[0]) : null;
    return {
      position,
      name: out && !out.star ? out.name : null,
      ...(bare ? { columnName: bare } : {}),
      desc,
      nullsFirst:
        b.sortby_nulls === 'SORTBY_NULLS_FIRST'
          ? true
          : b.sortby_nulls === 'SORTBY_NULLS_LAST'
            ? false
            : desc,
    };
  });
  const groupBy = list(sel.groupClause).map((g) => {
    const t = nodeType(g);
    if (t?.[0] === 'GroupingSet') problems.push('GROUPING SETS / ROLLUP / CUBE');
    return positionOf(g);
  });
  const distinctClause = Array.isArray(sel.distinctClause) ? (sel.distinctClause as unknown[]) : null;
  let distinct = distinctClause !== null;
  let distinctOn: Array<number | null> | undefined;
  if (distinctClause?.some((d) => nodeType(d) !== null)) {
    distinct = false;
    const on = distinctClause.map(positionOf);
    distinctOn = on;
    if (on.includes(null)) problems.push('DISTINCT ON an expression that is not in the select list');
  }
  let having: SelectShape['having'];
  if (sel.havingClause && !program) {
    const expr = havingExpr(sel.havingClause, (n) => valueRef(n, lits));
    const calls = havingCalls(sel.havingClause);
    if (expr === null || calls === null)
      problems.push('HAVING other than comparisons of count/sum/min/max with constants');
    else having = { expr, aggregates: calls.map((c) => (lastName(c.funcname) ?? 'count') as AggregateFn) };
  }
  const nested = nestedSelects(sel);
  let union: SelectShape['union'];
  let setOps: SelectShape['setOps'];
  if (setOp) {
    if (sel.op === 'SETOP_UNION' && branches)
      union = { all: Boolean(sel.all), branchTables: branches.map(fromTables) };
    if (typeof setTree === 'string') {
      if (!union) problems.push(setTree);
    } else if (setTree) {
      setOps = { tree: setTree.tree, branchTables: setTree.leaves.map(fromTables) };
      // Each branch runs per shard: it must not combine rows itself, unless by the shard key.
      for (const b of setTree.leaves) nested.push(...branchSelects(b));
    }
  }
  if (sel.limitOption === 'LIMIT_OPTION_WITH_TIES') problems.push('FETCH ... WITH TIES');
  const grouped = outputs.some((o) => o.aggregate !== undefined) || groupBy.length > 0;
  if (windows.length > 0 && grouped) problems.push('window functions over grouped rows');
  for (const w of windows)
    nested.push({
      what: WINDOW_ACROSS_SHARDS,
      keys: partitionKeys(w, sel.windowClause),
    });
  // Windows whose partitions span shards: the proxy can evaluate them over the gathered rows.
  const windowPlan = windows.length > 0 && !grouped && !setOp ? windowProgramFor(sel) : null;
  const windowProgram =
    windowPlan !== null && typeof windowPlan === 'object' ? windowPlan.program : undefined;
  const limit = sel.limitCount ? valueRef(sel.limitCount, lits) : null;
  const offset = sel.limitOffset ? valueRef(sel.limitOffset, lits) : null;
  // An expression as LIMIT/OFFSET would read as "none": refuse instead of returning too much.
  if (sel.limitCount && !limit) problems.push('a LIMIT expression');
  if (sel.limitOffset && !offset) problems.push('an OFFSET expression');
  if (sel.valuesLists) problems.push('VALUES');
  return {
    outputs,
    orderBy,
    limit,
    offset,
    groupBy,
    distinct,
    ...(distinctOn ? { distinctOn } : {}),
    ...(union ? { union } : {}),
    ...(setOps ? { setOps } : {}),
    ...(windowProgram ? { windowProgram } : {}),
    ...(having ? { having } : {}),
    ...(program ? { program } : {}),
    hasAggregates:
      program !== undefined ||
      outputs.some((o) => o.aggregate !== undefined) ||
      problems.some((p) => p.includes('aggregate')),
    unmergeable: problems[0] ?? null,
    nested,
  };
}
