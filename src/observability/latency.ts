// Statement latency per (shard, role) over a sliding window: a ring of HDR histograms (pure-JS
// build, microsecond resolution, 2 significant digits) per (shard, role), one per time bucket.
// Recording is one Map lookup pair and a histogram increment; percentiles merge the live buckets.
import { build, type Histogram } from 'hdr-histogram-js';
import { ShardRoleSlots } from './shard-role-slots.js';

export interface LatencyOptions {
  /** Window length (default 60 s). */
  windowMs?: number;
  /** Buckets in the window (default 6: 10 s each). */
  buckets?: number;
  now?: () => number;
}

export interface LatencySummary {
  shard: string;
  role: 'primary' | 'replica';
  count: number;
  p50Seconds: number;
  p95Seconds: number;
  p99Seconds: number;
  maxSeconds: number;
  meanSeconds: number;
}

/** One hour in microseconds: anything slower is recorded as one hour. */
const HIGHEST_US = 3_600_000_000;

function newHistogram(): Histogram {
  return build({
    useWebAssembly: false,
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 2,
  });
}

class Series {
  readonly histograms: Histogram[];
  readonly epochs: Float64Array;
  constructor(buckets: number) {
    this.histograms = Array.from({ length: buckets }, newHistogram);
    this.epochs = new Float64Array(buckets).fill(-1);
  }
}

export class LatencyTracker {
  private readonly bucketMs: number;
  private readonly bucketCount: number;
  private readonly now: () => number;
  private readonly series = new ShardRoleSlots(() => new Series(this.bucketCount));
  private startedAt: number | null = null;

  constructor(options: LatencyOptions = {}) {
    this.bucketCount = Math.max(1, options.buckets ?? 6);
    this.bucketMs = Math.max(1, Math.floor((options.windowMs ?? 60_000) / this.bucketCount));
    this.now = options.now ?? Date.now;
  }

  record(shard: string, role: 'primary' | 'replica', seconds: number, now = this.now()): void {
    const s = this.series.slot(shard, role);
    this.startedAt ??= now;
    const epoch = Math.floor(now / this.bucketMs);
    const slot = epoch % this.bucketCount;
    const h = s.histograms[slot]!;
    if (s.epochs[slot] !== epoch) {
      h.reset();
      s.epochs[slot] = epoch;
    }
    // Non-finite or negative inputs are clock trouble, not latency: ignore them.
    if (!(seconds >= 0) || !Number.isFinite(seconds)) return;
    const us = Math.min(HIGHEST_US, Math.max(1, Math.round(seconds * 1e6)));
    h.recordValue(us);
  }

  /** Percentiles per (shard, role) over the window; series with no samples are left out. */
  summaries(): LatencySummary[] {
    const out: LatencySummary[] = [];
    for (const [shard, pair] of this.series.entries()) {
      for (const role of ['primary', 'replica'] as const) {
        const s = pair[role === 'primary' ? 0 : 1];
        if (!s) continue;
        const merged = this.merge([s]);
        if (merged) out.push(summarize(shard, role, merged));
      }
    }
    return out.sort((a, b) => a.shard.localeCompare(b.shard) || a.role.localeCompare(b.role));
  }

  /** One shard's figures, both roles merged (the p99 the alerts use); null without samples. */
  shardSummary(shard: string): Omit<LatencySummary, 'role'> | null {
    const pair = this.series.of(shard);
    if (!pair) return null;
    const merged = this.merge(pair.filter((s): s is Series => s !== null));
    if (!merged) return null;
    const { role: _role, ...rest } = summarize(shard, 'primary', merged);
    return rest;
  }

  /**
   * Mean statements in flight on the shard over the window (Little's law: the summed latency
   * divided by the time covered); null without samples.
   */
  averageConcurrency(shard: string): number | null {
    const summary = this.shardSummary(shard);
    if (!summary || this.startedAt === null) return null;
    const now = this.now();
    const covered = Math.min(
      (this.bucketCount - 1) * this.bucketMs + (now % this.bucketMs),
      now - this.startedAt,
    );
    if (covered <= 0) return null;
    return (summary.meanSeconds * summary.count) / (covered / 1000);
  }

  shards(): string[] {
    return [...this.series.shards()].sort();
  }

  private merge(series: Series[]): Histogram | null {
    const epoch = Math.floor(this.now() / this.bucketMs);
    let merged: Histogram | null = null;
    for (const s of series) {
      for (let i = 0; i < this.bucketCount; i++) {
        const e = s.epochs[i]!;
        const h = s.histograms[i]!;
        if (e <= epoch - this.bucketCount || e > epoch || h.totalCount === 0) continue;
        merged ??= newHistogram();
        merged.add(h);
      }
    }
    return merged && merged.totalCount > 0 ? merged : null;
  }
}

function summarize(shard: string, role: 'primary' | 'replica', h: Histogram): LatencySummary {
  return {
    shard,
    role,
    count: h.totalCount,
    p50Seconds: h.getValueAtPercentile(50) / 1e6,
    p95Seconds: h.getValueAtPercentile(95) / 1e6,
    p99Seconds: h.getValueAtPercentile(99) / 1e6,
    maxSeconds: h.maxValue / 1e6,
    meanSeconds: h.mean / 1e6,
  };
}
