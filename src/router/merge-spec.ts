// How to merge a scatter read (MergeSpec) and how each shard's SQL must change (ScatterRewrite),
// from the SELECT's shape. Anything a streaming merge cannot reproduce exactly is refused with
// the reason, never answered approximately.
import type { ResolvedProgram } from '../executor/aggregate-program.js';
import type { HavingExpr, ScatterRewrite, SelectShape, ValueRef } from '../sql/facts.js';
import type { AggregateProgram, ProgramExpr } from '../sql/pg-aggregate-program.js';
import { WINDOW_ACROSS_SHARDS } from '../sql/pg-select-shape.js';
import type { MergeAggregate, MergeHaving, MergeOrder, MergeSpec } from './plan.js';

/** What the planner knows about the tables a statement reads. */
export interface ShardedTables {
  /** Shard-key columns of the sharded tables the statement reads. */
  shardKeys: ReadonlySet<string>;
  /** Names of the sharded tables the statement reads. */
  sharded: ReadonlySet<string>;
}

const STATISTICS = new Set(['stddev_samp', 'stddev_pop', 'var_samp', 'var_pop']);

export type MergeDecision =
  | { merge: MergeSpec | null; rewrite: ScatterRewrite | null }
  | { unsupported: string };

function starBefore(select: SelectShape, position: number): boolean {
  for (let i = 0; i < position - 1 && i < select.outputs.length; i++)
    if (select.outputs[i]!.star) return true;
  return false;
}

/** LIMIT/OFFSET value: a count, null for none (LIMIT ALL / NULL), or a problem. */
function count(
  ref: ValueRef | null,
  resolve: (ref: ValueRef) => string | null,
  what: string,
): number | null | string {
  if (ref === null) return null;
  const text = resolve(ref);
  if (text === null) return null;
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < 0) return `${what} ${text} is not a non-negative integer`;
  return n;
}

/** The statement's LIMIT (null for none) and OFFSET (0 for none), or why they cannot be used. */
function pageOf(
  select: SelectShape,
  resolve: (ref: ValueRef) => string | null,
): { limit: number | null; offset: number } | { unsupported: string } {
  const limit = count(select.limit, resolve, 'LIMIT');
  if (typeof limit === 'string') return { unsupported: limit };
  const offset = count(select.offset, resolve, 'OFFSET');
  if (typeof offset === 'string') return { unsupported: offset };
  return { limit, offset: offset ?? 0 };
}

/** ORDER BY of a set operation (`what`): only positions of its select list can be merged. */
function setOperationOrder(select: SelectShape, what: string): MergeOrder[] | { unsupported: string } {
  const orderBy: MergeOrder[] = [];
  for (const item of select.orderBy) {
    if (item.position === null || starBefore(select, item.position))
      return { unsupported: `ORDER BY of ${what} that is not a column of its select list` };
    orderBy.push({ column: item.position - 1, desc: item.desc, nullsFirst: item.nullsFirst });
  }
  return orderBy;
}

/** The merge of rows the shards return whole (no grouping): order, deduplicate if asked, page. */
function rowMerge(
  orderBy: MergeOrder[],
  offset: number,
  limit: number | null,
  distinct: boolean,
): Pick<MergeSpec, 'orderBy' | 'groupBy' | 'aggregates' | 'offset' | 'limit' | 'distinct'> {
  return { orderBy, groupBy: [], aggregates: [], offset, limit, distinct };
}

export function mergeFor(
  select: SelectShape | null,
  resolve: (ref: ValueRef) => string | null,
  tables: ShardedTables = { shardKeys: new Set(), sharded: new Set() },
): MergeDecision {
  const decision = mergeDecision(select, resolve, tables);
  if (!select || !('merge' in decision) || !decision.merge) return decision;
  const merge = { ...decision.merge };
  if (select.cteSources) merge.cteSources = select.cteSources;
  if (select.branchSources) merge.branchSources = select.branchSources;
  return { ...decision, merge };
}

function mergeDecision(
  select: SelectShape | null,
  resolve: (ref: ValueRef) => string | null,
  tables: ShardedTables,
): MergeDecision {
  if (select === null) return { merge: null, rewrite: null };
  if (select.unmergeable) return { unsupported: select.unmergeable };
  let proxyWindows = false;
  for (const n of select.nested ?? []) {
    if (!n.keys.some((k) => tables.shardKeys.has(k))) {
      if (n.what === WINDOW_ACROSS_SHARDS && select.windowProgram) {
        proxyWindows = true;
        continue;
      }
      return {
        unsupported: `${n.what} would run on each shard's rows only (group, partition or correlate it by the shard key)`,
      };
    }
  }
  const referenceBranch = (t: string[]) => !t.some((name) => tables.sharded.has(name));
  if (select.union && !(select.union.all && select.union.branchTables.some(referenceBranch)))
    return unionMerge(select, resolve, tables);
  if (select.setOps) return setOpsMerge(select, select.setOps, resolve, tables);
  if (select.union) return unionMerge(select, resolve, tables);
  if (select.program) return programMerge(select, select.program, resolve);
  const orderBy: MergeOrder[] = [];
  const star = select.outputs.some((o) => o.star);
  const plain = !select.hasAggregates && select.groupBy.length === 0;
  for (const item of select.orderBy) {
    const label = item.name ?? 'an expression';
    // SELECT * ... ORDER BY col: the merge finds col among the result's columns by name.
    if (star && plain && item.columnName && (item.position === null || starBefore(select, item.position))) {
      orderBy.push({ column: -1, name: item.columnName, desc: item.desc, nullsFirst: item.nullsFirst });
      continue;
    }
    if (item.position === null)
      return { unsupported: `ORDER BY ${label} is not a column of the select list` };
    if (starBefore(select, item.position)) {
      return { unsupported: `ORDER BY ${label} follows * in the select list; list the columns explicitly` };
    }
    orderBy.push({ column: item.position - 1, desc: item.desc, nullsFirst: item.nullsFirst });
  }
  const groupBy: number[] = [];
  for (const position of select.groupBy) {
    if (position === null) return { unsupported: 'GROUP BY an expression that is not in the select list' };
    if (starBefore(select, position)) return { unsupported: 'GROUP BY with * in the select list' };
    groupBy.push(position - 1);
  }
  const aggregates: MergeAggregate[] = [];
  const avgColumns: number[] = [];
  const statColumns: number[] = [];
  const grouped = select.hasAggregates || groupBy.length > 0 || select.having !== undefined;
  for (let i = 0; i < select.outputs.length; i++) {
    const out = select.outputs[i]!;
    if (out.aggregate) {
      if (out.aggregateDistinct) return { unsupported: `${out.aggregate}(DISTINCT ...) across shards` };
      if (starBefore(select, i + 1)) return { unsupported: 'aggregates with * in the select list' };
      aggregates.push(
        out.source ? { column: i, fn: out.aggregate, source: out.source } : { column: i, fn: out.aggregate },
      );
      if (out.aggregate === 'avg') avgColumns.push(i);
      else if (STATISTICS.has(out.aggregate)) statColumns.push(i);
    } else if (grouped) {
      if (out.star) return { unsupported: '* in a grouped or aggregated select list' };
      if (!groupBy.includes(i)) {
        return { unsupported: `column ${out.name} is neither an aggregate nor a GROUP BY key` };
      }
    }
  }
  // Hidden partials after the visible columns: avg's counts, then count, sum, sum of squares per
  // statistic (the order scatter-rewrite appends them in).
  const hidden = select.outputs.length;
  for (const a of aggregates) {
    const avg = avgColumns.indexOf(a.column);
    if (avg >= 0) a.countColumn = hidden + avg;
    const stat = statColumns.indexOf(a.column);
    if (stat >= 0) {
      const base = hidden + avgColumns.length + 3 * stat;
      a.countColumn = base;
      a.sumColumn = base + 1;
      a.sumSquaresColumn = base + 2;
    }
  }
  // HAVING's aggregates are hidden after the statistics' partials, one column each.
  let having: MergeHaving | undefined;
  let hiddenCount = avgColumns.length + 3 * statColumns.length;
  if (select.having) {
    const first = hidden + hiddenCount;
    select.having.aggregates.forEach((fn, i) => {
      aggregates.push({ column: first + i, fn });
    });
    hiddenCount += select.having.aggregates.length;
    const resolveHaving = (e: HavingExpr): MergeHaving =>
      e.op === 'compare'
        ? { op: 'compare', comparison: e.comparison, column: first + e.hidden, value: resolve(e.value) }
        : { op: e.op, args: e.args.map(resolveHaving) };
    having = resolveHaving(select.having.expr);
  }
  const page = pageOf(select, resolve);
  if ('unsupported' in page) return page;
  const { limit, offset } = page;

  const limitsChange = grouped ? limit !== null || offset > 0 : offset > 0;
  const rewrite: ScatterRewrite | null =
    limitsChange || hiddenCount > 0
      ? {
          limit: grouped || limit === null ? null : limit + offset,
          avgColumns,
          ...(statColumns.length > 0 ? { statColumns } : {}),
          ...(having ? { having: true } : {}),
        }
      : null;
  let distinctOn: number[] | undefined;
  if (select.distinctOn) {
    if (grouped) return { unsupported: 'DISTINCT ON with GROUP BY or aggregates' };
    distinctOn = select.distinctOn.map((p) => (p ?? 0) - 1);
    if (distinctOn.some((c) => c < 0 || starBefore(select, c + 1)))
      return { unsupported: 'DISTINCT ON an expression that is not in the select list' };
  }
  if (proxyWindows && select.windowProgram)
    return {
      merge: {
        ...rowMerge(orderBy, offset, limit, false),
        windows: select.windowProgram,
        visibleColumns: select.outputs.length,
      },
      rewrite: { limit: null, avgColumns: [], windows: true },
    };
  const needsMerge =
    orderBy.length > 0 ||
    grouped ||
    limit !== null ||
    offset > 0 ||
    select.distinct ||
    distinctOn !== undefined;
  if (!needsMerge) return { merge: null, rewrite };
  return {
    merge: {
      orderBy,
      groupBy,
      aggregates,
      offset,
      limit,
      distinct: select.distinct,
      ...(distinctOn ? { distinctOn } : {}),
      ...(having ? { having } : {}),
      visibleColumns: hiddenCount > 0 ? select.outputs.length : null,
    },
    rewrite,
  };
}

/** Resolves the program's constants (literals and parameters of this execution). */
function resolveExpr(
  e: ProgramExpr<ValueRef>,
  resolve: (ref: ValueRef) => string | null,
): ProgramExpr<string | null> {
  switch (e.k) {
    case 'partial':
      return e;
    case 'const':
      return { ...e, value: resolve(e.value) };
    case 'cast':
    case 'isnull':
      return { ...e, arg: resolveExpr(e.arg, resolve) };
    default:
      return { ...e, args: e.args.map((a) => resolveExpr(a, resolve)) } as ProgramExpr<string | null>;
  }
}

/**
 * Aggregates the proxy computes: each shard groups as asked and returns every aggregate's
 * partials after the client's columns (per-shard LIMIT, ORDER BY and HAVING removed); the merge
 * combines them per group, evaluates the outputs and HAVING, then orders, deduplicates and pages.
 */
function programMerge(
  select: SelectShape,
  program: AggregateProgram,
  resolve: (ref: ValueRef) => string | null,
): MergeDecision {
  if (select.outputs.some((o) => o.star)) return { unsupported: '* in a grouped or aggregated select list' };
  if (select.distinctOn) return { unsupported: 'DISTINCT ON with GROUP BY or aggregates' };
  const groupBy: number[] = [];
  for (const position of select.groupBy) {
    if (position === null) return { unsupported: 'GROUP BY an expression that is not in the select list' };
    groupBy.push(position - 1);
  }
  for (let i = 0; i < select.outputs.length; i++)
    if (program.outputs[i] === null && !groupBy.includes(i))
      return { unsupported: `column ${select.outputs[i]!.name} is neither an aggregate nor a GROUP BY key` };
  const orderBy: MergeOrder[] = [];
  for (const item of select.orderBy) {
    if (item.position === null)
      return { unsupported: `ORDER BY ${item.name ?? 'an expression'} is not a column of the select list` };
    orderBy.push({ column: item.position - 1, desc: item.desc, nullsFirst: item.nullsFirst });
  }
  const page = pageOf(select, resolve);
  if ('unsupported' in page) return page;
  const { limit, offset } = page;
  const resolved: ResolvedProgram = {
    outputs: program.outputs.map((e) => (e === null ? null : resolveExpr(e, resolve))),
    having: program.having === null ? null : resolveExpr(program.having, resolve),
    partials: program.partials.map((p) =>
      p.fn === 'string_agg' ? { ...p, delimiter: p.delimiter ? resolve(p.delimiter) : null } : p,
    ) as ResolvedProgram['partials'],
    ...(program.dialect ? { dialect: program.dialect } : {}),
  };
  return {
    merge: {
      orderBy,
      groupBy,
      aggregates: [],
      offset,
      limit,
      distinct: select.distinct,
      program: resolved,
      visibleColumns: select.outputs.length,
    },
    rewrite: {
      limit: null,
      avgColumns: [],
      program: true,
      ...(select.programColumns ? { programColumns: select.programColumns } : {}),
    },
  };
}

/**
 * INTERSECT/EXCEPT [ALL], mixed UNION and UNION ALL, UNION ALL with a reference branch: the
 * proxy evaluates the operators over every shard's tagged leaf rows, then orders and pages.
 */
function setOpsMerge(
  select: SelectShape,
  setOps: NonNullable<SelectShape['setOps']>,
  resolve: (ref: ValueRef) => string | null,
  tables: ShardedTables,
): MergeDecision {
  const orderBy = setOperationOrder(select, 'a set operation');
  if ('unsupported' in orderBy) return orderBy;
  const page = pageOf(select, resolve);
  if ('unsupported' in page) return page;
  const { limit, offset } = page;
  const onceLeaves: number[] = [];
  setOps.branchTables.forEach((t, i) => {
    if (!t.some((name) => tables.sharded.has(name))) onceLeaves.push(i);
  });
  return {
    merge: {
      ...rowMerge(orderBy, offset, limit, false),
      setOps: { tree: setOps.tree, onceLeaves },
      visibleColumns: null,
    },
    rewrite: { limit: null, avgColumns: [], setOps: setOps.branchTables.length },
  };
}

/**
 * A top-level UNION [ALL] of plain SELECTs: every shard runs the whole statement; the merge
 * concatenates (UNION ALL) or deduplicates (UNION), then orders and pages. A UNION ALL branch
 * that reads no sharded table would return its rows once per shard, so it is refused.
 */
function unionMerge(
  select: SelectShape,
  resolve: (ref: ValueRef) => string | null,
  tables: ShardedTables,
): MergeDecision {
  const union = select.union!;
  if (union.all && union.branchTables.some((t) => !t.some((name) => tables.sharded.has(name))))
    return {
      unsupported:
        'UNION ALL with a branch that reads no sharded table (it would repeat once per shard; use UNION or run it separately)',
    };
  const orderBy = setOperationOrder(select, 'a UNION');
  if ('unsupported' in orderBy) return orderBy;
  const page = pageOf(select, resolve);
  if ('unsupported' in page) return page;
  const { limit, offset } = page;
  const rewrite: ScatterRewrite | null =
    offset > 0 ? { limit: limit === null ? null : limit + offset, avgColumns: [] } : null;
  if (union.all && orderBy.length === 0 && limit === null && offset === 0) return { merge: null, rewrite };
  return {
    merge: {
      ...rowMerge(orderBy, offset, limit, !union.all),
      visibleColumns: null,
    },
    rewrite,
  };
}
