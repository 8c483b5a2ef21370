// Advice for operators: scaling per shard, where to split a hot shard, query routing patterns
// worth fixing, and pool sizes. Pure functions over figures the caller gathers; every
// recommendation carries the metrics that triggered it. Unknown (null) figures never trigger.
import type { ConsistencyLevel } from '../config/schema.js';
import { KEYSPACE_END, type KeyRange } from '../domain/keyspace.js';

export type RecommendationKind =
  | 'scale_out'
  | 'scale_in_candidate'
  | 'split'
  | 'avoid_scatter'
  | 'colocate_join'
  | 'result_cache'
  | 'pool_size';

export interface Recommendation {
  kind: RecommendationKind;
  shard: string | null;
  table: string | null;
  message: string;
  /** A shardgate command that acts on it, when there is one. */
  command: string | null;
  metrics: Record<string, number | string | null>;
}

// ---- scaling ------------------------------------------------------------------------------------

export interface ShardFigures {
  shard: string;
  cpuPercent: number | null;
  memoryPercent: number | null;
  hotspotScore: number | null;
}

export function scalingAdvice(shards: readonly ShardFigures[]): Recommendation[] {
  const out: Recommendation[] = [];
  for (const s of shards) {
    const { cpuPercent: cpu, memoryPercent: mem, hotspotScore: hot } = s;
    if (cpu === null || mem === null || hot === null) continue;
    const metrics = { cpuPercent: cpu, memoryPercent: mem, hotspotScore: hot };
    if (cpu > 80 && mem > 80 && hot > 80) {
      out.push({
        kind: 'scale_out',
        shard: s.shard,
        table: null,
        message: `shard ${s.shard} is saturated (CPU ${cpu.toFixed(0)} %, memory ${mem.toFixed(0)} %) and its load is concentrated on few keys (hotspot ${hot.toFixed(0)}): scale out by splitting it`,
        command: `shardgate migrate split ${s.shard}`,
        metrics,
      });
    } else if (cpu < 20 && mem < 30 && hot < 20) {
      out.push({
        kind: 'scale_in_candidate',
        shard: s.shard,
        table: null,
        message: `shard ${s.shard} is lightly used (CPU ${cpu.toFixed(0)} %, memory ${mem.toFixed(0)} %, hotspot ${hot.toFixed(0)}): a candidate for merging with a neighbour or a smaller host`,
        command: null,
        metrics,
      });
    }
  }
  return out;
}

// ---- split point --------------------------------------------------------------------------------

export interface SplitKeyLoad {
  table: string;
  value: string;
  /** Requests attributed to this value (use the sketch's guaranteed count, count - error). */
  load: number;
}

export interface SplitInput {
  shard: string;
  range: KeyRange;
  /** Per-key load of the tracked keys. */
  keys: readonly SplitKeyLoad[];
  /** Load not attributed to tracked keys; assumed uniform over the range (hashing spreads it). */
  remainder: number;
  /** Keyspace id of a shard-key value (the router's hash); null when not hash-sharded. */
  keyspaceId: (table: string, value: string) => bigint | null;
}

export interface SplitPoint {
  at: bigint;
  /** Vitess-style hex prefix, e.g. "8c4f": use as `--at`. */
  atHex: string;
  leftShare: number;
  rightShare: number;
  totalLoad: number;
}

/** Shortest even-length hex prefix denoting the id exactly. */
export function keyspaceIdHex(id: bigint): string {
  let hex = id.toString(16).padStart(16, '0');
  while (hex.length > 2 && hex.endsWith('00')) hex = hex.slice(0, -2);
  return hex;
}

/**
 * The keyspace id that splits the shard's observed load in two halves as nearly as possible:
 * tracked keys are point loads at their ids, the remainder a uniform density over the range.
 * A single key carrying more than half the load cannot be split: the point then isolates it on
 * the side that balances best. The point is rounded to the shortest hex prefix that keeps the
 * left share within half a percentage point. Null when the range is too narrow or there is no load.
 */
export function computeSplitPoint(input: SplitInput): SplitPoint | null {
  const { start, end } = input.range;
  if (end - start < 2n) return null;
  const width = Number(end - start);
  const points: Array<{ id: bigint; load: number }> = [];
  let remainder = Math.max(0, input.remainder);
  for (const k of input.keys) {
    if (!(k.load > 0)) continue;
    const id = input.keyspaceId(k.table, k.value);
    if (id === null || id < start || id >= end) remainder += k.load;
    else points.push({ id, load: k.load });
  }
  points.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const total = remainder + points.reduce((s, p) => s + p.load, 0);
  if (total <= 0) return null;
  const target = total / 2;
  const leftLoad = (s: bigint): number => {
    let l = (remainder * Number(s - start)) / width;
    for (const p of points) {
      if (p.id >= s) break;
      l += p.load;
    }
    return l;
  };
  const clamp = (s: bigint): bigint => (s <= start ? start + 1n : s >= end ? end - 1n : s);
  let best: bigint | null = null;
  let cum = 0;
  let pos = start;
  // Walk the range: uniform gaps between tracked keys, then each key's point load.
  for (let i = 0; i <= points.length && best === null; i++) {
    const p = points[i];
    const upTo = p ? p.id : end;
    const u = (remainder * Number(upTo - pos)) / width;
    if (remainder > 0 && cum + u >= target) {
      best = clamp(pos + BigInt(Math.floor(((target - cum) / remainder) * width)));
      break;
    }
    cum += u;
    if (!p) break;
    if (cum + p.load >= target) {
      // Split before the key (it goes right) or after it (it goes left): whichever is closer.
      best = clamp(Math.abs(cum - target) <= Math.abs(cum + p.load - target) ? p.id : p.id + 1n);
      break;
    }
    cum += p.load;
    pos = p.id;
  }
  if (best === null) return null;
  const exact: bigint = best;
  const exactShare = leftLoad(exact) / total;
  let at = exact;
  for (let digits = 1; digits < 16; digits++) {
    const unit = 1n << BigInt(64 - 8 * digits);
    const rounded = ((exact + unit / 2n) / unit) * unit;
    if (rounded <= start || rounded >= end || rounded >= KEYSPACE_END) continue;
    if (Math.abs(leftLoad(rounded) / total - exactShare) <= 0.005) {
      at = rounded;
      break;
    }
  }
  const leftShare = leftLoad(at) / total;
  return { at, atHex: keyspaceIdHex(at), leftShare, rightShare: 1 - leftShare, totalLoad: total };
}

export function splitAdvice(input: SplitInput, hotspotScore: number | null): Recommendation | null {
  const point = computeSplitPoint(input);
  if (!point) return null;
  return {
    kind: 'split',
    shard: input.shard,
    table: null,
    message: `split shard ${input.shard} at ${point.atHex}: the halves would carry ${(100 * point.leftShare).toFixed(0)} % and ${(100 * point.rightShare).toFixed(0)} % of its load`,
    command: `shardgate migrate split ${input.shard} --at ${point.atHex}`,
    metrics: {
      hotspotScore,
      splitAt: point.atHex,
      leftShare: point.leftShare,
      rightShare: point.rightShare,
      observedLoad: point.totalLoad,
    },
  };
}

// ---- query routing ------------------------------------------------------------------------------

/** Counters the data path keeps per table (see tracker.ts). */
export interface TableAccessCounters {
  table: string;
  /** Level of the table's last read (null: unknown). */
  level: ConsistencyLevel | null;
  reads: number;
  /** Reads that went to more than one shard. */
  scatterReads: number;
  /** Multi-table reads involving this table that went to more than one shard. */
  crossShardJoins: number;
}

export interface HotKeySample {
  shard: string;
  table: string;
  value: string;
  count: number;
  /** Keyed requests to the same (shard, table). */
  tableTotal: number;
}

export interface QueryAdviceInput {
  tables: readonly TableAccessCounters[];
  hotKeys: readonly HotKeySample[];
  /** Tables whose data type already has a result-cache TTL. */
  cachedTables?: ReadonlySet<string>;
}

export const QUERY_ADVICE_THRESHOLDS = {
  minReads: 100,
  scatterShare: 0.2,
  crossJoinShare: 0.05,
  hotKeyShare: 0.05,
  hotKeyMinCount: 100,
};

/**
 * Read patterns worth fixing: the share of a table's reads that `count` counts, advised from the
 * threshold `share` up (the metrics name the count and the share alike).
 */
const READ_PATTERNS = [
  {
    kind: 'avoid_scatter',
    count: 'scatterReads',
    share: 'scatterShare',
    advice: (table: string) =>
      `fan out to every shard: filter on the shard key, or make ${table} a reference table if it is small`,
  },
  {
    kind: 'colocate_join',
    count: 'crossShardJoins',
    share: 'crossJoinShare',
    advice: () =>
      'are cross-shard joins: shard the joined tables on the same key, or make the smaller one a reference table',
  },
] as const;

export function queryAdvice(input: QueryAdviceInput, t = QUERY_ADVICE_THRESHOLDS): Recommendation[] {
  const out: Recommendation[] = [];
  for (const c of input.tables) {
    if (c.reads < t.minReads) continue;
    for (const p of READ_PATTERNS) {
      const share = c[p.count] / c.reads;
      if (share < t[p.share]) continue;
      out.push({
        kind: p.kind,
        shard: null,
        table: c.table,
        message: `${(100 * share).toFixed(0)} % of reads on ${c.table} ${p.advice(c.table)}`,
        command: null,
        metrics: { reads: c.reads, [p.count]: c[p.count], [p.share]: share },
      });
    }
  }
  const levels = new Map(input.tables.map((c) => [c.table, c.level]));
  for (const k of input.hotKeys) {
    const level = levels.get(k.table) ?? null;
    if (level !== 'weak' && level !== 'eventual') continue;
    if (input.cachedTables?.has(k.table)) continue;
    const share = k.tableTotal > 0 ? k.count / k.tableTotal : 0;
    if (k.count < t.hotKeyMinCount || share < t.hotKeyShare) continue;
    out.push({
      kind: 'result_cache',
      shard: k.shard,
      table: k.table,
      message: `key ${k.value} of ${k.table} takes ${(100 * share).toFixed(0)} % of the table's requests and its reads are ${level}: enable the result cache (cacheTtlMs on its data type)`,
      command: null,
      metrics: { level, count: k.count, tableTotal: k.tableTotal, share, value: k.value },
    });
  }
  return out;
}

// ---- pool size ----------------------------------------------------------------------------------

export interface PoolUsage {
  shard: string;
  /** Mean statements in flight over the window (Little's law: rate x mean latency). */
  avgConcurrent: number | null;
  /** Most connections in use at once. */
  peakConcurrent: number | null;
  currentSize: number;
}

/** Pool size = min(max(2 x average concurrency, 10), 1.2 x peak), at least 1. */
export function recommendedPoolSize(avgConcurrent: number, peakConcurrent: number): number {
  return Math.max(1, Math.ceil(Math.min(Math.max(2 * avgConcurrent, 10), 1.2 * peakConcurrent)));
}

/** Advises a resize when the recommendation differs from the current size by 20 % or more. */
export function poolAdvice(pools: readonly PoolUsage[]): Recommendation[] {
  const out: Recommendation[] = [];
  for (const p of pools) {
    if (p.avgConcurrent === null || p.peakConcurrent === null) continue;
    const size = recommendedPoolSize(p.avgConcurrent, p.peakConcurrent);
    if (Math.abs(size - p.currentSize) < 0.2 * p.currentSize) continue;
    out.push({
      kind: 'pool_size',
      shard: p.shard,
      table: null,
      message: `set the pool size for shard ${p.shard} to ${size} (now ${p.currentSize}): average concurrency ${p.avgConcurrent.toFixed(1)}, peak ${p.peakConcurrent}`,
      command: `shardgate rules set-pool-size ${p.shard} ${size}`,
      metrics: {
        avgConcurrent: p.avgConcurrent,
        peakConcurrent: p.peakConcurrent,
        currentSize: p.currentSize,
        recommendedSize: size,
      },
    });
  }
  return out;
}
