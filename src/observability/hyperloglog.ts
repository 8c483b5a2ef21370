// A small HyperLogLog (Flajolet et al. 2007) for the number of distinct shard-key values: 2^p
// one-byte registers (p = 10: 1 KiB, ~3.3 % standard error), a 32-bit hash, linear counting
// for small cardinalities. Mergeable by register-wise max, so time buckets combine into a window.

/** FNV-1a over UTF-16 code units, then the murmur3 finalizer for avalanche. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HyperLogLog {
  readonly registers: Uint8Array;
  private readonly m: number;

  constructor(readonly precision = 10) {
    if (precision < 4 || precision > 16) throw new RangeError('precision must be in 4..16');
    this.m = 1 << precision;
    this.registers = new Uint8Array(this.m);
  }

  add(text: string): void {
    const h = hash32(text);
    const index = h >>> (32 - this.precision);
    // Rank = position of the first 1 bit in the remaining bits (capped when they are all zero).
    const rest = (h << this.precision) >>> 0;
    const rank = rest === 0 ? 32 - this.precision + 1 : Math.clz32(rest) + 1;
    if (rank > this.registers[index]!) this.registers[index] = rank;
  }

  /** Register-wise max: afterwards this sketch estimates the union. */
  merge(other: HyperLogLog): void {
    if (other.precision !== this.precision) throw new RangeError('precision mismatch');
    const r = this.registers;
    const o = other.registers;
    for (let i = 0; i < r.length; i++) if (o[i]! > r[i]!) r[i] = o[i]!;
  }

  estimate(): number {
    const m = this.m;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < m; i++) {
      const v = this.registers[i]!;
      sum += 2 ** -v;
      if (v === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    if (raw <= 2.5 * m && zeros > 0) return m * Math.log(m / zeros);
    // Large-range correction for a 32-bit hash.
    const two32 = 4294967296;
    if (raw > two32 / 30) return -two32 * Math.log(1 - raw / two32);
    return raw;
  }

  clear(): void {
    this.registers.fill(0);
  }
}
