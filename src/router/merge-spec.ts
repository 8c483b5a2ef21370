// How to merge a scatter read (MergeSpec) and how each shard's SQL must change (ScatterRewrite),
// from the SELECT's shape. Anything a streaming merge cannot reproduce exactly is refused with
// the reason, never answered approximately.
import type { SelectShape, ValueRef } from '../sql/facts.js';
import type { MergeAggregate, MergeOrder, MergeSpec, ScatterRewrite } from './plan.js';

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

export function mergeFor(
  select: SelectShape | null,
  resolve: (ref: ValueRef) => string | null,
): MergeDecision {
  if (select === null) return { merge: null, rewrite: null };
  if (select.unmergeable) return { unsupported: select.unmergeable };
  const orderBy: MergeOrder[] = [];
  for (const item of select.orderBy) {
    const label = item.name ?? 'an expression';
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
  const grouped = select.hasAggregates || groupBy.length > 0;
  for (let i = 0; i < select.outputs.length; i++) {
    const out = select.outputs[i]!;
    if (out.aggregate) {
      if (out.aggregateDistinct) return { unsupported: `${out.aggregate}(DISTINCT ...) across shards` };
      if (starBefore(select, i + 1)) return { unsupported: 'aggregates with * in the select list' };
      const agg: MergeAggregate = { column: i, fn: out.aggregate };
      if (out.aggregate === 'avg') {
        // Each shard returns sum at this column and count appended after the visible columns.
        agg.countColumn = select.outputs.length + avgColumns.length;
        avgColumns.push(i);
      }
      aggregates.push(agg);
    } else if (grouped) {
      if (out.star) return { unsupported: '* in a grouped or aggregated select list' };
      if (!groupBy.includes(i)) {
        return { unsupported: `column ${out.name} is neither an aggregate nor a GROUP BY key` };
      }
    }
  }
  const limit = count(select.limit, resolve, 'LIMIT');
  if (typeof limit === 'string') return { unsupported: limit };
  const offsetValue = count(select.offset, resolve, 'OFFSET');
  if (typeof offsetValue === 'string') return { unsupported: offsetValue };
  const offset = offsetValue ?? 0;

  const limitsChange = grouped ? limit !== null || offset > 0 : offset > 0;
  const rewrite: ScatterRewrite | null =
    limitsChange || avgColumns.length > 0
      ? { limit: grouped || limit === null ? null : limit + offset, avgColumns }
      : null;
  const needsMerge = orderBy.length > 0 || grouped || limit !== null || offset > 0 || select.distinct;
  if (!needsMerge) return { merge: null, rewrite };
  return {
    merge: {
      orderBy,
      groupBy,
      aggregates,
      offset,
      limit,
      distinct: select.distinct,
      visibleColumns: avgColumns.length > 0 ? select.outputs.length : null,
    },
    rewrite,
  };
}
