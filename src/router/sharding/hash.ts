// Keyspace ids for shard-key values, bit for bit PostgreSQL's own hashes:
//   int keys:  hashint8extended(value, 0)   text keys: hashtextextended(value, 0)
// (Jenkins lookup3 as in src/common/hashfn.c, little-endian byte order). Being identical lets
// the live split compute shard membership inside PostgreSQL with these immutable built-ins.
// PostgreSQL returns a signed int64; the keyspace id is the same 64 bits read as unsigned.
//
// Hot path: the mixing runs on 32-bit ints (`| 0`, `>>> 0`); a bigint is built once at the end.

// Internal state of one hash computation (module-level so mix/final need no allocation).
let a = 0;
let b = 0;
let c = 0;

function rot(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function mix(): void {
  a = (a - c) | 0;
  a ^= rot(c, 4);
  c = (c + b) | 0;
  b = (b - a) | 0;
  b ^= rot(a, 6);
  a = (a + c) | 0;
  c = (c - b) | 0;
  c ^= rot(b, 8);
  b = (b + a) | 0;
  a = (a - c) | 0;
  a ^= rot(c, 16);
  c = (c + b) | 0;
  b = (b - a) | 0;
  b ^= rot(a, 19);
  a = (a + c) | 0;
  c = (c - b) | 0;
  c ^= rot(b, 4);
  b = (b + a) | 0;
}

function final(): void {
  c ^= b;
  c = (c - rot(b, 14)) | 0;
  a ^= c;
  a = (a - rot(c, 11)) | 0;
  b ^= a;
  b = (b - rot(a, 25)) | 0;
  c ^= b;
  c = (c - rot(b, 16)) | 0;
  a ^= c;
  a = (a - rot(c, 4)) | 0;
  b ^= a;
  b = (b - rot(a, 14)) | 0;
  c ^= b;
  c = (c - rot(b, 24)) | 0;
}

const TWO_32 = 4294967296;

/** The 64-bit result (b << 32 | c) as an unsigned bigint. */
function result(): bigint {
  return (BigInt(b >>> 0) << 32n) | BigInt(c >>> 0);
}

function seedState(len: number, seed: bigint): void {
  a = b = c = (0x9e3779b9 + len + 3923095) | 0;
  if (seed !== 0n) {
    // The seed is hashed as one 12-byte chunk: high half, low half, four zero bytes.
    a = (a + Number((seed >> 32n) & 0xffffffffn)) | 0;
    b = (b + Number(seed & 0xffffffffn)) | 0;
    mix();
  }
}

/** PostgreSQL hash_bytes_uint32_extended(k, seed). */
export function hashUint32Extended(k: number, seed = 0n): bigint {
  seedState(4, seed);
  a = (a + k) | 0;
  final();
  return result();
}

function word(k: Uint8Array, i: number): number {
  return k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24);
}

/** PostgreSQL hash_bytes_extended(k, keylen, seed) over the bytes `k[0, len)`. */
export function hashBytesExtended(k: Uint8Array, len = k.length, seed = 0n): bigint {
  seedState(len, seed);
  let i = 0;
  let rest = len;
  while (rest >= 12) {
    a = (a + word(k, i)) | 0;
    b = (b + word(k, i + 4)) | 0;
    c = (c + word(k, i + 8)) | 0;
    mix();
    i += 12;
    rest -= 12;
  }
  // The last 0..11 bytes (the C switch falls through from the highest case down).
  if (rest >= 11) c = (c + (k[i + 10]! << 24)) | 0;
  if (rest >= 10) c = (c + (k[i + 9]! << 16)) | 0;
  if (rest >= 9) c = (c + (k[i + 8]! << 8)) | 0;
  if (rest >= 8) b = (b + (k[i + 7]! << 24)) | 0;
  if (rest >= 7) b = (b + (k[i + 6]! << 16)) | 0;
  if (rest >= 6) b = (b + (k[i + 5]! << 8)) | 0;
  if (rest >= 5) b = (b + k[i + 4]!) | 0;
  if (rest >= 4) a = (a + (k[i + 3]! << 24)) | 0;
  if (rest >= 3) a = (a + (k[i + 2]! << 16)) | 0;
  if (rest >= 2) a = (a + (k[i + 1]! << 8)) | 0;
  if (rest >= 1) a = (a + k[i]!) | 0;
  final();
  return result();
}

/** PostgreSQL hashint8extended(val, 0) for val given as a safe integer. */
function hashInt8Number(val: number): bigint {
  const hi = Math.floor(val / TWO_32);
  const lo = val - hi * TWO_32; // 0 <= lo < 2^32
  // lohalf ^= (val >= 0) ? hihalf : ~hihalf
  const folded = val >= 0 ? (lo ^ hi) >>> 0 : (lo ^ ~hi) >>> 0;
  return hashUint32Extended(folded);
}

const INT8_MIN = -(1n << 63n);
const INT8_MAX = (1n << 63n) - 1n;

/** PostgreSQL hashint8extended(val, 0) for any int64 (also hashint2/4extended: same result). */
export function hashInt8(val: bigint | number): bigint {
  if (typeof val === 'number') return hashInt8Number(val);
  if (val >= -9007199254740991n && val <= 9007199254740991n) return hashInt8Number(Number(val));
  const lo = Number(val & 0xffffffffn);
  const hi = Number((val >> 32n) & 0xffffffffn);
  const folded = val >= 0n ? (lo ^ hi) >>> 0 : (lo ^ ~hi) >>> 0;
  return hashUint32Extended(folded);
}

// Reused scratch for UTF-8 encoding of non-ASCII text.
const encoder = new TextEncoder();
let scratch = new Uint8Array(256);
let asciiScratch = new Uint8Array(256);

/** PostgreSQL hashtextextended(value, 0) for a deterministic collation: hash of the UTF-8 bytes. */
export function hashText(value: string): bigint {
  const n = value.length;
  if (asciiScratch.length < n) asciiScratch = new Uint8Array(n * 2);
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const ch = value.charCodeAt(i);
    if (ch > 0x7f) {
      ascii = false;
      break;
    }
    asciiScratch[i] = ch;
  }
  if (ascii) return hashBytesExtended(asciiScratch, n);
  if (scratch.length < n * 3) scratch = new Uint8Array(n * 3);
  const { written } = encoder.encodeInto(value, scratch);
  return hashBytesExtended(scratch, written);
}

/**
 * Parses an int8 key value as PostgreSQL's int8in accepts it: optional sign, surrounding
 * whitespace, and (PostgreSQL 16+) 0x/0o/0b prefixes and underscores between digits; also "12.0"
 * (a numeric literal compared with an integer column). Returns null for anything that is not an
 * integer in int8 range: such a value owns no definite shard.
 */
export function parseInt8(text: string): bigint | number | null {
  const fast = plainInteger(text);
  if (fast !== null) return fast;
  const s = text.trim();
  const dec = DECIMAL_RE.exec(s);
  if (dec) {
    const digits = dec[2]!.includes('_') ? dec[2]!.replaceAll('_', '') : dec[2]!;
    if (digits.length <= 15) {
      const v = Number(digits);
      return dec[1] === '-' ? -v : v;
    }
    return checkedInt8(BigInt(digits), dec[1] === '-');
  }
  const other = NON_DECIMAL_RE.exec(s);
  if (!other) return null;
  const base = other[2]!.toLowerCase();
  const digits = other[3]!.replaceAll('_', '');
  if (base === 'o' && /[^0-7]/.test(digits)) return null;
  if (base === 'b' && /[^01]/.test(digits)) return null;
  const big = checkedInt8(BigInt(`0${base}${digits}`), other[1] === '-');
  if (big === null) return null;
  return big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big;
}

/** Fast path for the common case: up to 15 decimal digits, optional leading '-'. */
function plainInteger(text: string): number | null {
  const n = text.length;
  const start = n > 0 && text.charCodeAt(0) === 45 ? 1 : 0;
  if (n === start || n - start > 15) return null;
  let v = 0;
  for (let i = start; i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  return start === 1 ? -v : v;
}

const DECIMAL_RE = /^([+-]?)(\d+(?:_\d+)*)(?:\.0*)?$/;
const NON_DECIMAL_RE = /^([+-]?)0([xXoObB])([0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)$/;

function checkedInt8(magnitude: bigint, negative: boolean): bigint | null {
  const v = negative ? -magnitude : magnitude;
  return v < INT8_MIN || v > INT8_MAX ? null : v;
}

/** Keyspace id of a shard-key value given as text; null when an int key is not an integer. */
export function keyspaceIdFor(value: string, keyType: 'int' | 'text'): bigint | null {
  if (keyType === 'text') return hashText(value);
  const v = parseInt8(value);
  return v === null ? null : hashInt8(v);
}
