// The 64-bit keyspace. Shards own contiguous [start, end) ranges written Vitess-style as hex
// prefixes: "-80" is [0, 0x8000000000000000), "80-" is [0x8000000000000000, 2^64).
export const KEYSPACE_END = 1n << 64n;

export interface KeyRange {
  start: bigint;
  /** Exclusive; 2^64 for the last range. */
  end: bigint;
}

function hexPrefixToId(hex: string): bigint {
  if (hex === '') return 0n;
  return BigInt(`0x${hex.padEnd(16, '0')}`);
}

export function parseKeyRange(text: string): KeyRange {
  const dash = text.indexOf('-');
  if (dash < 0) throw new Error(`key range "${text}" has no "-"`);
  const left = text.slice(0, dash);
  const right = text.slice(dash + 1);
  return { start: hexPrefixToId(left), end: right === '' ? KEYSPACE_END : hexPrefixToId(right) };
}

function idToHexPrefix(id: bigint): string {
  // Shortest even-length hex prefix that still denotes the id exactly.
  let hex = id.toString(16).padStart(16, '0');
  while (hex.length > 2 && hex.endsWith('00')) hex = hex.slice(0, -2);
  return hex;
}

export function formatKeyRange(range: KeyRange): string {
  const left = range.start === 0n ? '' : idToHexPrefix(range.start);
  const right = range.end >= KEYSPACE_END ? '' : idToHexPrefix(range.end);
  return `${left}-${right}`;
}

export function rangeContains(range: KeyRange, id: bigint): boolean {
  return id >= range.start && id < range.end;
}

export function formatKeyspaceId(id: bigint): string {
  return `0x${id.toString(16).padStart(16, '0')}`;
}
