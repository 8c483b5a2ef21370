// PostgreSQL WAL positions ("16/B374D848") as bigints, so they can be compared and subtracted.
import { parseLsn } from '../router/positions.js';

/** parseLsn for positions that must be valid (a slot's, a stored segment's): throws on anything else. */
export function requireLsn(text: string): bigint {
  const lsn = parseLsn(text);
  if (lsn === null) throw new Error(`"${text}" is not a WAL position (expected hex "X/Y")`);
  return lsn;
}

/** Formats as PostgreSQL prints pg_lsn: upper-case hex halves without padding. */
export function formatLsn(value: bigint): string {
  const v = value < 0n ? 0n : value;
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function maxLsn(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
