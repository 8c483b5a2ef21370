// Hot shard-key values per shard and table over a sliding window. The window is a ring of time
// buckets (default 12 x 5 min = 1 h); each bucket holds, per shard and table, a Space-Saving
// sketch and a HyperLogLog of the distinct values, plus the request count per shard. Queries
// merge the live buckets. The window covers the current (partial) bucket and the buckets - 1
// before it, so it spans between (buckets - 1) and buckets bucket lengths.

import { createHash } from 'node:crypto';
import {
  giniGroups,
  type ImbalanceResult,
  imbalanceScore,
  keyDistribution,
  type ValueGroup,
} from './gini.js';
import { HyperLogLog } from './hyperloglog.js';
import {
  type MergedEntry,
  mergeSketches,
  mergeSummaries,
  type SketchSummary,
  SpaceSaving,
  truncateSummary,
} from './space-saving.js';

export interface HotKeyOptions {
  /** Counters per (shard, table) and bucket. */
  topK?: number;
  windowMs?: number;
  buckets?: number;
  /** HyperLogLog precision (registers = 2^p bytes per (shard, table) and bucket). */
  hllPrecision?: number;
  now?: () => number;
}

export interface HotKey {
  shard: string;
  table: string;
  value: string;
  /** Estimated requests in the window (upper bound). */
  count: number;
  /** The true count is within [count - error, count]. */
  error: number;
  /** Keyed requests to this (shard, table) in the window. */
  tableTotal: number;
}

export interface TableWindow {
  shard: string;
  table: string;
  entries: MergedEntry[];
  total: number;
  distinct: number;
  /** Upper bound of any untracked value's count in the window. */
  untrackedMax: number;
}

export interface ShardHotness {
  shard: string;
  /** Statements recorded for the shard in the window. */
  requests: number;
  /** Shard-key accesses recorded (a statement may address several keys). */
  keyedRequests: number;
  distinctKeys: number;
  /** 0-100; null when the shard saw no keyed requests. */
  hotspotScore: number | null;
}

class TableCell {
  readonly sketch: SpaceSaving;
  readonly hll: HyperLogLog;
  constructor(topK: number, precision: number) {
    this.sketch = new SpaceSaving(topK);
    this.hll = new HyperLogLog(precision);
  }
}

class ShardCell {
  requests = 0;
  readonly tables = new Map<string, TableCell>();
}

class Bucket {
  shards = new Map<string, ShardCell>();
  constructor(public epoch: number) {}
}

export class HotKeyTracker {
  readonly topK: number;
  readonly bucketMs: number;
  readonly bucketCount: number;
  private readonly precision: number;
  private readonly now: () => number;
  private readonly ring: Bucket[];

  constructor(options: HotKeyOptions = {}) {
    this.topK = options.topK ?? 100;
    this.bucketCount = Math.max(1, options.buckets ?? 12);
    this.bucketMs = Math.max(1, Math.floor((options.windowMs ?? 3_600_000) / this.bucketCount));
    this.precision = options.hllPrecision ?? 10;
    this.now = options.now ?? Date.now;
    this.ring = Array.from({ length: this.bucketCount }, () => new Bucket(-1));
  }

  /** One statement routed to `shard` (keyed or not). */
  recordRequest(shard: string, now = this.now()): void {
    this.shardCell(this.current(now), shard).requests++;
  }

  /**
   * One statement on `shard` and the key values it addressed (the tracker's hot path: one bucket
   * and shard lookup for all keys). Keys naming another shard are skipped: a multi-shard
   * statement is reported once per target and each key belongs to one of them.
   */
  recordStatement(
    shard: string,
    keys: ReadonlyArray<{ table: string; value: string; shard?: string }>,
    now = this.now(),
  ): void {
    const cell = this.shardCell(this.current(now), shard);
    cell.requests++;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k.shard !== undefined && k.shard !== shard) continue;
      let t = cell.tables.get(k.table);
      if (t === undefined) {
        t = new TableCell(this.topK, this.precision);
        cell.tables.set(k.table, t);
      }
      const value = k.value.length > MAX_KEY_CHARS ? boundedKeyValue(k.value) : k.value;
      t.sketch.offer(value);
      t.hll.add(value);
    }
  }

  /** One access to a shard-key value. */
  recordKey(shard: string, table: string, value: string, now = this.now()): void {
    const cell = this.shardCell(this.current(now), shard);
    let t = cell.tables.get(table);
    if (t === undefined) {
      t = new TableCell(this.topK, this.precision);
      cell.tables.set(table, t);
    }
    const stored = value.length > MAX_KEY_CHARS ? boundedKeyValue(value) : value;
    t.sketch.offer(stored);
    t.hll.add(stored);
  }

  shards(): string[] {
    const names = new Set<string>();
    for (const b of this.liveBuckets()) for (const s of b.shards.keys()) names.add(s);
    return [...names].sort();
  }

  /** Statements per shard in the window. */
  shardTotals(): Map<string, number> {
    const totals = new Map<string, number>();
    for (const b of this.liveBuckets()) {
      for (const [name, cell] of b.shards) totals.set(name, (totals.get(name) ?? 0) + cell.requests);
    }
    return totals;
  }

  tableWindows(shard?: string): TableWindow[] {
    const cells = new Map<string, { shard: string; table: string; parts: TableCell[] }>();
    for (const b of this.liveBuckets()) {
      for (const [shardName, cell] of b.shards) {
        if (shard !== undefined && shardName !== shard) continue;
        for (const [table, t] of cell.tables) {
          const id = `${shardName}\u0000${table}`;
          let c = cells.get(id);
          if (!c) {
            c = { shard: shardName, table, parts: [] };
            cells.set(id, c);
          }
          c.parts.push(t);
        }
      }
    }
    const out: TableWindow[] = [];
    for (const c of cells.values()) {
      const merged = mergeSketches(c.parts.map((p) => p.sketch));
      const hll = new HyperLogLog(this.precision);
      let untrackedMax = 0;
      for (const p of c.parts) {
        hll.merge(p.hll);
        untrackedMax += p.sketch.minCount;
      }
      out.push({
        shard: c.shard,
        table: c.table,
        entries: merged.entries,
        total: merged.total,
        distinct: Math.max(hll.estimate(), merged.entries.length),
        untrackedMax,
      });
    }
    return out.sort((a, b) =>
      a.shard === b.shard ? a.table.localeCompare(b.table) : a.shard.localeCompare(b.shard),
    );
  }

  /** Hottest values in the window, for one shard or all, highest estimated count first. */
  topKeys(shard?: string, limit = 10): HotKey[] {
    return topOfWindows(this.tableWindows(shard), limit);
  }

  /**
   * This instance's window per (shard, table), each cut to its `limit` highest values with the
   * bounds kept (truncateSummary): what peers merge into the cluster-wide top-k.
   */
  tableSummaries(limit: number, shard?: string): TableSummary[] {
    return this.tableWindows(shard).map((w) => ({
      shard: w.shard,
      table: w.table,
      ...truncateSummary(w, limit),
    }));
  }

  /** Hotspot score and request figures per shard (see gini.ts for the estimator). */
  hotness(): ShardHotness[] {
    const byShard = new Map<string, { groups: ValueGroup[]; keyed: number; distinct: number }>();
    for (const w of this.tableWindows()) {
      let s = byShard.get(w.shard);
      if (!s) {
        s = { groups: [], keyed: 0, distinct: 0 };
        byShard.set(w.shard, s);
      }
      s.keyed += w.total;
      s.distinct += w.distinct;
      for (const g of keyDistribution({
        tracked: w.entries,
        total: w.total,
        distinct: w.distinct,
      })) {
        s.groups.push(g);
      }
    }
    const totals = this.shardTotals();
    return [...totals.keys()].sort().map((shard) => {
      const s = byShard.get(shard);
      return {
        shard,
        requests: totals.get(shard) ?? 0,
        keyedRequests: s?.keyed ?? 0,
        distinctKeys: Math.round(s?.distinct ?? 0),
        hotspotScore: s && s.keyed > 0 ? 100 * giniGroups(s.groups) : null,
      };
    });
  }

  /** Load imbalance across the given shards (shards with no traffic count as 0). */
  imbalance(shardNames?: readonly string[]): ImbalanceResult {
    const totals = this.shardTotals();
    const names = shardNames ?? [...totals.keys()];
    return imbalanceScore(names.map((n) => totals.get(n) ?? 0));
  }

  /** Callers on the hot path pass `now` they already read, saving a clock call per key. */
  private current(now: number): Bucket {
    const epoch = Math.floor(now / this.bucketMs);
    const slot = epoch % this.bucketCount;
    let b = this.ring[slot]!;
    if (b.epoch !== epoch) {
      b = new Bucket(epoch);
      this.ring[slot] = b;
    }
    return b;
  }

  private shardCell(bucket: Bucket, shard: string): ShardCell {
    let cell = bucket.shards.get(shard);
    if (cell === undefined) {
      cell = new ShardCell();
      bucket.shards.set(shard, cell);
    }
    return cell;
  }

  private liveBuckets(): Bucket[] {
    const epoch = Math.floor(this.now() / this.bucketMs);
    return this.ring.filter((b) => b.epoch > epoch - this.bucketCount && b.epoch <= epoch);
  }
}

/** One (shard, table) window as an instance reports it to its peers. */
export interface TableSummary extends SketchSummary {
  shard: string;
  table: string;
}

/** The hottest values over several instances' windows (disjoint streams), bounds kept. */
export function mergedTopKeys(instances: ReadonlyArray<readonly TableSummary[]>, limit: number): HotKey[] {
  const cells = new Map<string, { shard: string; table: string; parts: TableSummary[] }>();
  for (const summaries of instances) {
    for (const t of summaries) {
      const id = `${t.shard}\u0000${t.table}`;
      let c = cells.get(id);
      if (!c) {
        c = { shard: t.shard, table: t.table, parts: [] };
        cells.set(id, c);
      }
      c.parts.push(t);
    }
  }
  return topOfWindows(
    [...cells.values()].map((c) => ({ shard: c.shard, table: c.table, ...mergeSummaries(c.parts) })),
    limit,
  );
}

function topOfWindows(
  windows: ReadonlyArray<{ shard: string; table: string; entries: readonly MergedEntry[]; total: number }>,
  limit: number,
): HotKey[] {
  const all: HotKey[] = [];
  for (const w of windows) {
    for (const e of w.entries.slice(0, limit)) {
      all.push({
        shard: w.shard,
        table: w.table,
        value: e.key,
        count: e.count,
        error: e.error,
        tableTotal: w.total,
      });
    }
  }
  all.sort((a, b) => b.count - a.count || a.error - b.error);
  return all.slice(0, limit);
}

/** Longest key value kept as it is: a window holds topK values per table and bucket. */
export const MAX_KEY_CHARS = 64;

/**
 * A long key value as stored and reported: its first characters and a hash of the whole, so
 * distinct values stay distinct while each costs at most ~60 bytes.
 */
export function boundedKeyValue(value: string): string {
  return `${value.slice(0, 40)}...#${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}
