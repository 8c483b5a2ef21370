// PostgreSQL WAL positions ("16/B374D848") as bigints, so they can be compared and subtracted.

/** Parses "X/Y" (hex halves); throws on anything else. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a WAL position (expected hex "X/Y")`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats as PostgreSQL prints pg_lsn: upper-case hex halves without padding. */
export function formatLsn(value: bigint): string {
  const v = value < 0n ? 0n : value;
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function maxLsn(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
