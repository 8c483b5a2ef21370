// Seeded random numbers for workloads: a Zipf(s) sampler over ranks 1..n by inverse CDF (binary
// search over cumulative weights 1 / rank^s), drawn from mulberry32 (seeded-random.ts, re-exported
// for callers). test/support/zipf.ts re-exports this file (bench/ is built without test/).
import { mulberry32 } from './seeded-random.js';

export { mulberry32 };

export class Zipf {
  private readonly cdf: Float64Array;
  private readonly random: () => number;

  constructor(
    readonly n: number,
    readonly s: number,
    seed: number,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('Zipf needs n >= 1 keys');
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 1; k <= n; k++) {
      sum += 1 / k ** s;
      this.cdf[k - 1] = sum;
    }
    for (let i = 0; i < n; i++) this.cdf[i] = (this.cdf[i] as number) / sum;
    this.random = mulberry32(seed);
  }

  /** A rank in 1..n (1 is the most frequent). */
  next(): number {
    const u = this.random();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
}
