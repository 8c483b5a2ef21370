// The segment rule (docs/cutover.md, copying): each key range of a table was copied from one
// snapshot; a streamed change is already inside that snapshot when it committed before the
// snapshot's consistent point. So a change at commit LSN c to key k is applied iff
// c >= lsn of the last segment whose `after` is below k (after = null: from the first key).
// The first segment's LSN is the slot's own consistent point, so its rows take every change.
import type pg from 'pg';
import { requireLsn } from './lsn.js';
import type { TableMeta } from './table-meta.js';
import type { TableCopyState } from './types.js';

export type Segment = TableCopyState['segments'][number];

/** Orders two primary keys (text per column): negative, zero or positive. */
export type KeyCompare = (a: readonly string[], b: readonly string[]) => number | Promise<number>;

/** The LSN a change must reach to apply to `key`; -1 when no segment covers it (apply). */
export async function segmentLsnFor(
  key: readonly string[],
  segments: readonly Segment[],
  compare: KeyCompare,
): Promise<bigint> {
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i]!;
    if (s.after === null || (await compare(s.after, key)) < 0) return requireLsn(s.lsn);
  }
  return -1n;
}

/** Whether a change committed at `commitLsn` to `key` must be applied. */
export async function changeApplies(
  commitLsn: bigint,
  key: readonly string[],
  segments: readonly Segment[],
  compare: KeyCompare,
): Promise<boolean> {
  if (segments.length === 0) return true;
  // Fast path: newer than every snapshot, so no key comparison is needed.
  let newest = -1n;
  for (const s of segments) {
    const l = requireLsn(s.lsn);
    if (l > newest) newest = l;
  }
  if (commitLsn >= newest) return true;
  return commitLsn >= (await segmentLsnFor(key, segments, compare));
}

/** Records a resumed copy: keys after the cursor come from the snapshot at `lsn`. */
export function addResumeSegment(state: TableCopyState, lsn: string): void {
  requireLsn(lsn);
  state.segments.push({ after: state.lastKey ? [...state.lastKey] : null, lsn });
}

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

/** Key comparison in JS for integer keys (exact, as bigints). */
export function compareIntegerKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = BigInt(a[i] ?? '0');
    const y = BigInt(b[i] ?? '0');
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * A comparator for the table's key: JS for integer keys, otherwise PostgreSQL itself compares
 * (collations, numerics, uuids...), which is only asked for changes older than the newest
 * segment, i.e. in the short window between two snapshots.
 */
export function keyCompareFor(meta: TableMeta, client: () => Promise<pg.Client>): KeyCompare {
  if (meta.primaryKey.every((c) => INTEGER_TYPES.has(c.type))) return compareIntegerKeys;
  const n = meta.primaryKey.length;
  const row = (first: number) =>
    `ROW(${meta.primaryKey.map((c, i) => `$${first + i}::${c.type}`).join(', ')})`;
  const sql = `SELECT CASE WHEN ${row(1)} < ${row(n + 1)} THEN -1 WHEN ${row(1)} = ${row(n + 1)} THEN 0 ELSE 1 END AS c`;
  return async (a, b) => {
    const r = await (await client()).query<{ c: string }>(sql, [...a, ...b]);
    return Number(r.rows[0]?.c ?? 0);
  };
}
