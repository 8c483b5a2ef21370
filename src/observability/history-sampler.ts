// Every history interval, one record per shard into the history store: data size, row estimate,
// QPS and the latency histogram of the interval (differences of the cumulative counters), p95,
// replica lag, buffer and result-cache hit rates, pool use. Alert events are stored as they come,
// so the reports' "alerts of the period" survive a restart too.

import type { RuntimeTopology } from '../backend/pg-topology.js';
import { serverPoolStats } from '../backend/pool.js';
import type { AlertEvent } from './alerts.js';
import type { HistoryRecord, HistoryStore } from './history-store.js';
import type { ObservabilityTracker } from './tracker.js';

export interface ShardSample extends HistoryRecord {
  type: 'shard';
  shard: string;
  /** Seconds the sample covers. */
  intervalSeconds: number;
  dataBytes: number | null;
  rowsEstimate: number | null;
  qps: number;
  /** Bucket upper bounds (seconds) and the statements of the interval per bucket (+ one slower). */
  latencyBounds: number[];
  latencyBuckets: number[];
  p95Seconds: number | null;
  lagSeconds: number | null;
  /** Shared-buffer hit share of the shard's database since its stats reset. */
  bufferHitRate: number | null;
  /** The result cache's hit share over the interval (proxy-wide: the cache is not per shard). */
  resultCacheHitRate: number | null;
  poolSize: number;
  poolActive: number;
  poolWaiting: number;
  /** Active connections over pool size, servers of the shard summed. */
  poolUse: number | null;
}

export interface HistorySamplerSources {
  topology: RuntimeTopology;
  tracker: ObservabilityTracker;
  resultCache?: () => { hits: number; misses: number };
  now?: () => number;
}

export class HistorySampler {
  private last = new Map<string, { counts: number[]; count: number }>();
  private lastCache: { hits: number; misses: number } | null = null;
  private lastAt: number;
  private readonly now: () => number;

  constructor(private readonly sources: HistorySamplerSources) {
    this.now = sources.now ?? Date.now;
    this.lastAt = this.now();
    // The first interval counts from here, not from the process start.
    for (const shard of sources.topology.shardNames()) {
      const b = sources.tracker.metrics.durationBuckets(shard);
      this.last.set(shard, { counts: b.counts, count: b.count });
    }
    this.lastCache = sources.resultCache?.() ?? null;
  }

  /** Builds one record per shard for the time since the previous call. */
  sample(): ShardSample[] {
    const { topology, tracker } = this.sources;
    const now = this.now();
    const seconds = Math.max(0.001, (now - this.lastAt) / 1000);
    this.lastAt = now;
    const health = topology.monitor.health();
    const cache = this.sources.resultCache?.() ?? null;
    let resultCacheHitRate: number | null = null;
    if (cache && this.lastCache) {
      const hits = cache.hits - this.lastCache.hits;
      const lookups = hits + cache.misses - this.lastCache.misses;
      resultCacheHitRate = lookups > 0 ? hits / lookups : null;
    }
    this.lastCache = cache;
    return topology.shardList().map((s) => {
      const buckets = tracker.metrics.durationBuckets(s.name);
      const prev = this.last.get(s.name);
      this.last.set(s.name, { counts: buckets.counts, count: buckets.count });
      const delta = buckets.counts.map((c, i) => Math.max(0, c - (prev?.counts[i] ?? 0)));
      const statements = Math.max(0, buckets.count - (prev?.count ?? 0));
      const primary = health.find((h) => h.name === s.primary.name);
      const lags = health
        .filter((h) => h.shard === s.name && h.role === 'replica' && h.lagMs !== null)
        .map((h) => h.lagMs! / 1000);
      const pools = [s.primary, ...s.replicas].map((srv) => serverPoolStats(srv.pools.all()));
      const size = pools.reduce((n, p) => n + p.size, 0);
      const active = pools.reduce((n, p) => n + p.active, 0);
      const hit = primary?.blocksHit ?? null;
      const read = primary?.blocksRead ?? null;
      return {
        type: 'shard',
        t: now,
        shard: s.name,
        intervalSeconds: seconds,
        dataBytes: primary?.dataBytes ?? null,
        rowsEstimate: primary?.rowsEstimate ?? null,
        qps: statements / seconds,
        latencyBounds: buckets.bounds,
        latencyBuckets: delta,
        p95Seconds: tracker.latency.shardSummary(s.name)?.p95Seconds ?? null,
        lagSeconds: lags.length > 0 ? Math.max(...lags) : null,
        bufferHitRate: hit !== null && read !== null && hit + read > 0 ? hit / (hit + read) : null,
        resultCacheHitRate,
        poolSize: size,
        poolActive: active,
        poolWaiting: pools.reduce((n, p) => n + p.waiting, 0),
        poolUse: size > 0 ? active / size : null,
      };
    });
  }
}

/** Starts sampling into the store on the interval; alert events are appended as they happen. */
export function startHistory(
  store: HistoryStore,
  sampler: HistorySampler,
  intervalMs: number,
  onAlert: (listener: (event: AlertEvent) => void) => void,
  onError: (err: Error) => void,
): { stop(): Promise<void> } {
  let ticks = 0;
  const tick = () => {
    // Retention is kept once an hour's worth of ticks (and at start), not on every append.
    const compact = ticks++ % Math.max(1, Math.round(3_600_000 / intervalMs)) === 0;
    (compact ? store.compact() : Promise.resolve()).then(() => store.append(sampler.sample())).catch(onError);
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  let stopped = false;
  onAlert((event) => {
    if (stopped) return;
    store.append([{ type: 'alert', t: Date.now(), ...event }]).catch(onError);
  });
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await store.append([]).catch(() => undefined);
    },
  };
}
