// method: range — raw shard-key values map to shards by [from, to) intervals from the config.
// A numeric bound compares numerically (the value must then be a number); a string bound compares
// by UTF-16 code units, which matches PostgreSQL's "C" collation, not locale collations.
import type { TableConfig } from '../../config/schema.js';

type Bound = number | string | null;

/** -1 / 0 / 1 comparing a value with a bound, or null when they cannot be compared. */
export function compareToBound(value: string, bound: number | string): -1 | 0 | 1 | null {
  if (typeof bound === 'number') {
    const trimmed = value.trim();
    if (trimmed === '') return null;
    const n = Number(trimmed);
    if (!Number.isFinite(n)) return null;
    return n < bound ? -1 : n > bound ? 1 : 0;
  }
  return value < bound ? -1 : value > bound ? 1 : 0;
}

function atOrAbove(value: string, from: Bound): boolean | null {
  if (from === null) return true;
  const c = compareToBound(value, from);
  return c === null ? null : c >= 0;
}

function below(value: string, to: Bound): boolean | null {
  if (to === null) return true;
  const c = compareToBound(value, to);
  return c === null ? null : c < 0;
}

/** Shard whose [from, to) holds the value; null when none does or the value is not comparable. */
export function rangeShard(table: Pick<TableConfig, 'ranges'>, value: string): string | null {
  for (const r of table.ranges) {
    if (atOrAbove(value, r.from) === true && below(value, r.to) === true) return r.shard;
  }
  return null;
}

/** A side of a range condition: the value as text, and whether it is included. */
export interface ValueBound {
  value: string;
  inclusive: boolean;
}

/**
 * Shards whose [from, to) intervals meet the values between `low` and `high` (null: unbounded).
 * Only numeric bounds narrow: text order in the database depends on its collation, which the
 * proxy does not know, so a table with text bounds gets every shard of its ranges.
 */
export function rangeShards(
  table: Pick<TableConfig, 'ranges'>,
  low: ValueBound | null,
  high: ValueBound | null,
): Set<string> {
  const out = new Set<string>();
  const numeric = table.ranges.every((r) => typeof r.from !== 'string' && typeof r.to !== 'string');
  for (const r of table.ranges) {
    if (numeric) {
      if (high && r.from !== null) {
        const c = compareToBound(high.value, r.from);
        if (c !== null && (c < 0 || (c === 0 && !high.inclusive))) continue;
      }
      if (low && r.to !== null) {
        const c = compareToBound(low.value, r.to);
        if (c !== null && c >= 0) continue;
      }
    }
    out.add(r.shard);
  }
  return out;
}
