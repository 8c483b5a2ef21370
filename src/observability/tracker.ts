import type { TableAccessCounters } from './advisor.js';
import { HotKeyTracker } from './hot-keys.js';
import { LatencyTracker } from './latency.js';
import { ShardgateMetrics } from './metrics.js';
import type { StatementEvent, StatementObserver } from './statement-observer.js';
import { StatementStats } from './statement-stats.js';
import { TableAccessMap } from './table-access.js';

/** A statement's event as the tracker counts it (StatementEvent's own fields, some optional here). */
export interface StatementRecord
  extends Pick<
    StatementEvent,
    'shard' | 'server' | 'role' | 'kind' | 'outcome' | 'latencySeconds' | 'level'
  > {
  /**
   * Shard-key values addressed. A key that names its shard is counted only on the event for that
   * shard, so a multi-shard statement reported once per target counts each key once.
   */
  keys: ReadonlyArray<{ table: string; value: string; shard?: string }>;
  /** Part of a multi-shard statement. */
  scatter?: boolean;
  /** Tables touched (routing advice). */
  tables?: readonly string[];
  /** Targets of a scatter statement, when known: each target's event then counts 1/fanout read. */
  fanout?: number;
}

export interface TrackerOptions {
  topK?: number;
  hotKeyWindowMs?: number;
  hotKeyBuckets?: number;
  latencyWindowMs?: number;
  latencyBuckets?: number;
  /** Off: the statement is counted in metrics only (observability.hotKeys.enabled = false). */
  hotKeys?: boolean;
  metrics?: ShardgateMetrics;
  /** Bound of the per-statement statistics. */
  statementStatsBytes?: number;
  /** Bound of the per-table read counters (observability.tableAccess.maxBytes). */
  tableAccessBytes?: number;
  now?: () => number;
}

export class ObservabilityTracker implements StatementObserver {
  readonly metrics: ShardgateMetrics;
  readonly hotKeys: HotKeyTracker;
  readonly latency: LatencyTracker;
  /** Per-fingerprint statistics (/api/queries). */
  readonly statements: StatementStats;
  private readonly hotKeysEnabled: boolean;
  private readonly access: TableAccessMap;
  private readonly now: () => number;

  constructor(options: TrackerOptions = {}) {
    const now = options.now ?? Date.now;
    this.now = now;
    this.metrics = options.metrics ?? new ShardgateMetrics();
    this.hotKeys = new HotKeyTracker({
      topK: options.topK ?? 100,
      windowMs: options.hotKeyWindowMs ?? 3_600_000,
      buckets: options.hotKeyBuckets ?? 12,
      now,
    });
    this.latency = new LatencyTracker({
      windowMs: options.latencyWindowMs,
      buckets: options.latencyBuckets,
      now,
    });
    this.hotKeysEnabled = options.hotKeys ?? true;
    this.statements = new StatementStats(options.statementStatsBytes ?? 8 * 1024 * 1024, now);
    this.access = new TableAccessMap(options.tableAccessBytes ?? 1024 * 1024);
  }

  recordStatement(ev: StatementRecord): void {
    this.metrics.recordStatement(ev.kind, ev.shard, ev.role, ev.outcome, ev.latencySeconds);
    this.metrics.recordRouting(ev.level ?? 'none', ev.role);
    const now = this.now();
    this.latency.record(ev.shard, ev.role, ev.latencySeconds, now);
    if (this.hotKeysEnabled) this.hotKeys.recordStatement(ev.shard, ev.keys, now);
    const tables = ev.tables;
    if (ev.kind === 'read' && tables !== undefined) {
      const weight = ev.scatter && ev.fanout !== undefined && ev.fanout > 1 ? 1 / ev.fanout : 1;
      this.access.record(tables, ev.level, weight, ev.scatter === true);
    }
  }

  /** StatementObserver: the data path's existing hook. */
  onStatement(event: StatementEvent): void {
    this.recordStatement(event);
    if (event.fingerprint !== undefined) {
      this.statements.record({
        protocol: event.protocol,
        fingerprint: event.fingerprint,
        shard: event.shard,
        role: event.role,
        level: event.level,
        outcome: event.outcome,
        latencySeconds: event.latencySeconds,
        rows: event.rows ?? null,
        part: event.scatter ? (event.part ?? 0) : null,
      });
    }
  }

  onConflict(protocol: 'postgres' | 'mysql', shard: string): void {
    this.metrics.recordConflict(protocol, shard);
  }

  /** Per-table read counters since start (or the last reset), for queryAdvice(). */
  tableAccess(): TableAccessCounters[] {
    return this.access.snapshot();
  }

  resetTableAccess(): void {
    this.access.clear();
  }
}
