// Client-side latency percentiles over hdr-histogram-js. Values are recorded in microseconds
// (integers, 3 significant digits) and reported in milliseconds.
import { build, type Histogram } from 'hdr-histogram-js';

export interface LatencyPercentiles {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export class LatencyRecorder {
  private readonly histogram: Histogram;

  constructor() {
    this.histogram = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
    });
  }

  /** Records one latency in milliseconds (fractions allowed; negatives and NaN are ignored). */
  recordMs(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** Times an async call and records it; returns the call's result. */
  async time<T>(fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.recordMs(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }

  /** Adds another recorder's values (e.g. one recorder per client, merged at the end). */
  add(other: LatencyRecorder): void {
    this.histogram.add(other.histogram);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  percentileMs(p: number): number {
    return this.count === 0 ? Number.NaN : this.histogram.getValueAtPercentile(p) / 1000;
  }

  summary(): LatencyPercentiles {
    const empty = this.count === 0;
    return {
      count: this.count,
      meanMs: empty ? Number.NaN : this.histogram.mean / 1000,
      p50Ms: this.percentileMs(50),
      p90Ms: this.percentileMs(90),
      p99Ms: this.percentileMs(99),
      p999Ms: this.percentileMs(99.9),
      maxMs: empty ? Number.NaN : this.histogram.maxValue / 1000,
    };
  }

  reset(): void {
    this.histogram.reset();
  }

  destroy(): void {
    this.histogram.destroy();
  }
}
