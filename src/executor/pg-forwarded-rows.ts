// The scatter merge that needs no cell of a row but its ORDER BY key: plain concatenation, ORDER
// BY, OFFSET and LIMIT. The shards' DataRow messages are kept whole and forwarded to the client
// as they came (no split into cells, no re-encoding); only the sort columns are decoded, once per
// row. Same order as ResultMerger.finish(): concatenation in shard order, then a stable sort, so
// ties keep shard order. With numeric sort keys each shard's rows arrive in that order already and
// are merged by their heads instead of sorted again. Everything else (aggregates, DISTINCT,
// HAVING, hidden columns) goes through ResultMerger.
import { ShardgateError } from '../errors.js';
import type { MergeSpec } from '../router/plan.js';
import { type Comparable, decodeCell } from './cell-values.js';
import { compareSortKeys } from './merge-sort.js';
import type { ColumnInfo } from './rows.js';

/** True when `spec` only orders and pages rows (or is a plain concatenation). */
export function forwardsWholeRows(spec: MergeSpec | null): boolean {
  if (spec === null) return true;
  return (
    spec.aggregates.length === 0 &&
    spec.groupBy.length === 0 &&
    !spec.distinct &&
    !spec.having &&
    !spec.distinctOn &&
    // Evaluated at the proxy over decoded cells (set operations, windows, aggregate programs).
    !spec.setOps &&
    !spec.windows &&
    !spec.program &&
    spec.visibleColumns === null &&
    spec.orderBy.every((o) => o.column >= 0)
  );
}

/** Cell `column` of a whole DataRow message ('D', length, count, cells), or null for NULL. */
function cellOf(message: Buffer, column: number): Buffer | null {
  let pos = 7;
  for (let i = 0; i < column; i++) {
    const len = message.readInt32BE(pos);
    pos += 4 + Math.max(0, len);
  }
  const len = message.readInt32BE(pos);
  return len < 0 ? null : message.subarray(pos + 4, pos + 4 + len);
}

interface Keyed {
  r: Buffer;
  k: Comparable[];
}

/** Numeric sort keys: every shard sorts them exactly as compareSortKeys does (no collation). */
const NUMERIC_KEY_TYPES = new Set([20, 21, 23, 26, 700, 701, 1700]);

/**
 * The shards' rows, each shard's already in ORDER BY order, merged by taking the smallest head
 * (ties to the lower shard: what a stable sort of the concatenation gives), up to `want` rows.
 * Null when a shard's rows are not in order after all (the caller sorts instead).
 */
function mergeSortedShards(
  shards: Keyed[][],
  orders: MergeSpec['orderBy'],
  columns: readonly ColumnInfo[],
  want: number,
): Buffer[] | null {
  for (const list of shards)
    for (let i = 1; i < list.length; i++)
      if (compareSortKeys(list[i - 1]!.k, list[i]!.k, orders, columns) > 0) return null;
  const at = new Array<number>(shards.length).fill(0);
  const out: Buffer[] = [];
  while (out.length < want) {
    let best = -1;
    for (let s = 0; s < shards.length; s++) {
      const head = shards[s]![at[s]!];
      if (head === undefined) continue;
      if (best < 0 || compareSortKeys(head.k, shards[best]![at[best]!]!.k, orders, columns) < 0) best = s;
    }
    if (best < 0) break;
    out.push(shards[best]![at[best]!++]!.r);
  }
  return out;
}

/**
 * Rows of every shard (whole DataRow messages) in the order and page `spec` asks for; more than
 * `maxRows` rows in all fail with MERGE_ROW_LIMIT, as ResultMerger does.
 */
export function mergeWholeRows(
  perShard: ReadonlyArray<readonly Buffer[]>,
  columns: readonly ColumnInfo[],
  spec: MergeSpec | null,
  maxRows: number,
): Buffer[] {
  let total = 0;
  for (const list of perShard) total += list.length;
  if (total > maxRows) throw new ShardgateError('MERGE_ROW_LIMIT', { limit: maxRows });
  let rows: Buffer[] = [];
  if (spec === null || spec.orderBy.length === 0) {
    for (const list of perShard) for (const r of list) rows.push(r);
    if (spec === null) return rows;
  } else {
    const orders = spec.orderBy;
    const key = (r: Buffer): Keyed => {
      const k: Comparable[] = new Array(orders.length);
      for (let j = 0; j < orders.length; j++) {
        const c = orders[j]!.column;
        k[j] = decodeCell(cellOf(r, c), columns[c]!);
      }
      return { r, k };
    };
    const shards = perShard.map((list) => list.map(key));
    const want = spec.limit === null ? total : Math.min(total, spec.offset + spec.limit);
    const numeric = orders.every((o) => NUMERIC_KEY_TYPES.has(columns[o.column]!.typeOid));
    const merged = numeric ? mergeSortedShards(shards, orders, columns, want) : null;
    if (merged) rows = merged;
    else {
      const keyed = shards.flat().map((x, i) => ({ ...x, i }));
      keyed.sort((a, b) => compareSortKeys(a.k, b.k, orders, columns) || a.i - b.i);
      rows = keyed.map((x) => x.r);
    }
  }
  const start = Math.min(spec.offset, rows.length);
  return spec.limit === null ? rows.slice(start) : rows.slice(start, start + spec.limit);
}
