// Which destination owns a row: the keyspace id of its shard key (the router's own hash, equal to
// PostgreSQL's hashint8extended/hashtextextended) inside one of the destinations' ranges. The same
// membership as SQL, for verification and cleanup inside the database: keyspace ids are unsigned
// 64-bit, PostgreSQL's hash functions return them as signed int8, so an unsigned range maps to
// one or two signed intervals.

import { KEYSPACE_END, type KeyRange, rangeContains } from '../domain/keyspace.js';
import { keyspaceIdFor } from '../router/sharding/hash.js';
import { quoteIdent } from './table-meta.js';
import type { MovedTable } from './types.js';

/** A row as decoded: column name -> text value (null = SQL NULL, undefined = not sent). */
export type TextRow = Readonly<Record<string, string | null | undefined>>;

/** Destination index owning a row, 'all' (a reference table's row), or null when none owns it. */
export type RowOwner = number | 'all' | null;

/** Destination owning a row of a table. */
export type RowRoute = (table: string, row: TextRow) => RowOwner;

export function tableKind(t: MovedTable): NonNullable<MovedTable['kind']> {
  return t.kind ?? 'sharded';
}

/** Indexes of the destinations that hold a table at all: an unsharded table lives on the first only. */
export function holders(t: MovedTable, destinations: number): number[] {
  return tableKind(t) === 'unsharded' ? [0] : [...Array(destinations).keys()];
}

/** Owner of a row of `t` whose shard key is `keyValue` (ignored for reference and unsharded tables). */
export function rowOwner(
  t: MovedTable,
  keyValue: string | null | undefined,
  ranges: readonly KeyRange[],
): RowOwner {
  const kind = tableKind(t);
  if (kind === 'reference') return 'all';
  if (kind === 'unsharded') return 0;
  return keyOwner(keyValue, t.keyType, ranges);
}

/** Index of the range holding the key's keyspace id; null for a NULL or non-integer int key. */
export function keyOwner(
  value: string | null | undefined,
  keyType: MovedTable['keyType'],
  ranges: readonly KeyRange[],
): number | null {
  if (value === null || value === undefined) return null;
  const id = keyspaceIdFor(value, keyType);
  if (id === null) return null;
  for (let i = 0; i < ranges.length; i++) if (rangeContains(ranges[i]!, id)) return i;
  return null;
}

/**
 * Routes rows of the moved tables: sharded ones by shard key to the destination owning ranges[i],
 * reference ones to every destination, unsharded ones to the first.
 */
export function routeByShardKey(tables: readonly MovedTable[], ranges: readonly KeyRange[]): RowRoute {
  const byName = new Map(tables.map((t) => [t.name, t]));
  return (table, row) => {
    const t = byName.get(table);
    if (!t) return null;
    return rowOwner(t, t.shardKey ? row[t.shardKey] : null, ranges);
  };
}

/** Every row to destination 0 (reverse capture T -> S). */
export const routeToFirst: RowRoute = () => 0;

const TWO_63 = 1n << 63n;

/** The signed int8 PostgreSQL prints for an unsigned 64-bit keyspace id. */
export function toSignedInt8(id: bigint): bigint {
  return id >= TWO_63 ? id - KEYSPACE_END : id;
}

/** Inclusive signed intervals covering exactly the unsigned range [start, end). */
export function signedIntervals(range: KeyRange): Array<{ lo: bigint; hi: bigint }> {
  const start = range.start < 0n ? 0n : range.start;
  let last = range.end - 1n;
  if (last >= KEYSPACE_END) last = KEYSPACE_END - 1n;
  if (last < start) return [];
  const out: Array<{ lo: bigint; hi: bigint }> = [];
  if (start < TWO_63) out.push({ lo: start, hi: last < TWO_63 ? last : TWO_63 - 1n });
  if (last >= TWO_63) {
    const lo = start > TWO_63 ? start : TWO_63;
    out.push({ lo: toSignedInt8(lo), hi: toSignedInt8(last) });
  }
  return out;
}

/** The keyspace id of a column as PostgreSQL computes it (signed int8). */
export function shardHashSql(column: string, keyType: MovedTable['keyType'], alias?: string): string {
  const col = `${alias ? `${alias}.` : ''}${quoteIdent(column)}`;
  return keyType === 'text' ? `hashtextextended(${col}::text, 0)` : `hashint8extended(${col}::int8, 0)`;
}

/**
 * A predicate true for rows whose shard key lies in any of the ranges ("false" for none). Bounds
 * are quoted: -9223372036854775808 unquoted parses as minus an out-of-range bigint.
 */
export function inRangesSql(
  column: string,
  keyType: MovedTable['keyType'],
  ranges: readonly KeyRange[],
  alias?: string,
): string {
  const hash = shardHashSql(column, keyType, alias);
  const parts = ranges
    .flatMap(signedIntervals)
    .map(({ lo, hi }) => `(${hash} BETWEEN '${lo}'::int8 AND '${hi}'::int8)`);
  return parts.length ? `(${parts.join(' OR ')})` : 'false';
}
