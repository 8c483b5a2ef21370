// The scatter merge that needs no cell of a row but its ORDER BY key: plain concatenation, ORDER
// BY, OFFSET and LIMIT. The shards' DataRow messages are kept whole and forwarded to the client
// as they came (no split into cells, no re-encoding); only the sort columns are decoded, once per
// row. Same order as ResultMerger.finish(): concatenation in shard order, then a stable sort, so
// ties keep shard order. Everything else (aggregates, DISTINCT, HAVING, hidden columns) goes
// through ResultMerger.
import { ShardgateError } from '../errors.js';
import type { MergeSpec } from '../router/plan.js';
import { type ColumnInfo, type Comparable, compareSortKeys, decodeCell } from './merger.js';

/** True when `spec` only orders and pages rows (or is a plain concatenation). */
export function forwardsWholeRows(spec: MergeSpec | null): boolean {
  if (spec === null) return true;
  return (
    spec.aggregates.length === 0 &&
    spec.groupBy.length === 0 &&
    !spec.distinct &&
    !spec.having &&
    !spec.distinctOn &&
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
  let rows: Buffer[] = [];
  for (const list of perShard) for (const r of list) rows.push(r);
  if (rows.length > maxRows) throw new ShardgateError('MERGE_ROW_LIMIT', { limit: maxRows });
  if (spec === null) return rows;
  const orders = spec.orderBy;
  if (orders.length > 0) {
    const keyed = rows.map((r, i) => {
      const k: Comparable[] = new Array(orders.length);
      for (let j = 0; j < orders.length; j++) {
        const c = orders[j]!.column;
        k[j] = decodeCell(cellOf(r, c), columns[c]!);
      }
      return { r, i, k };
    });
    keyed.sort((a, b) => compareSortKeys(a.k, b.k, orders, columns) || a.i - b.i);
    rows = keyed.map((x) => x.r);
  }
  const start = Math.min(spec.offset, rows.length);
  return spec.limit === null ? rows.slice(start) : rows.slice(start, start + spec.limit);
}
