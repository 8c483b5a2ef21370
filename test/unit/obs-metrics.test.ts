import { describe, expect, it } from 'vitest';
import { HealthCollector, HostMonitor } from '../../src/observability/health.js';
import { parsePrometheusText } from '../../src/observability/host-metrics.js';
import { ShardgateMetrics } from '../../src/observability/metrics.js';
import { ObservabilityTracker, type StatementRecord } from '../../src/observability/tracker.js';
import { Zipf } from '../support/zipf.js';

function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return parsePrometheusText(text).find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

const stmt = (over: Partial<StatementRecord> = {}): StatementRecord => ({
  shard: 's0',
  server: 's0-primary',
  role: 'primary',
  kind: 'read',
  outcome: 'ok',
  latencySeconds: 0.002,
  level: 'strong',
  keys: [{ table: 'users', value: '42' }],
  tables: ['users'],
  ...over,
});

describe('ShardgateMetrics', () => {
  it('exposes statement, routing and latency figures with Prometheus names', async () => {
    const t = new ObservabilityTracker({ now: () => 0 });
    t.recordStatement(stmt());
    t.recordStatement(stmt());
    t.recordStatement(
      stmt({
        role: 'replica',
        server: 's0-replica1',
        level: 'eventual',
        outcome: 'error',
        latencySeconds: 0.5,
      }),
    );
    t.metrics.clientConnected('postgres');
    t.metrics.recordPoolWait('s0', 's0-primary', 0.01);
    const text = await t.metrics.text();
    expect(
      value(text, 'shardgate_statements_total', {
        kind: 'read',
        shard: 's0',
        role: 'primary',
        outcome: 'ok',
      }),
    ).toBe(2);
    expect(value(text, 'shardgate_statements_total', { role: 'replica', outcome: 'error' })).toBe(1);
    expect(value(text, 'shardgate_routing_decisions_total', { level: 'eventual', role: 'replica' })).toBe(1);
    expect(
      value(text, 'shardgate_statement_duration_seconds_bucket', {
        shard: 's0',
        role: 'primary',
        le: '0.0025',
      }),
    ).toBe(2);
    expect(
      value(text, 'shardgate_statement_duration_seconds_bucket', { role: 'replica', le: '0.0001' }),
    ).toBe(0);
    expect(value(text, 'shardgate_client_connections', { protocol: 'postgres' })).toBe(1);
    expect(value(text, 'shardgate_pool_wait_seconds_count', { shard: 's0' })).toBe(1);
  });

  it('reads state from callback sources at scrape time, leaving unknowns out', async () => {
    const m = new ShardgateMetrics();
    let waiting = 3;
    m.setSources({
      pools: () => [
        {
          server: 's0-primary',
          shard: 's0',
          role: 'primary',
          active: 4,
          idle: 2,
          waiting,
          total: 6,
          checkoutsTotal: 100,
          waitedTotal: 7,
        },
      ],
      lag: () => [
        { shard: 's0', replica: 's0-replica1', lagSeconds: 1.5, lagBytes: 4096 },
        { shard: 's0', replica: 's0-replica2', lagSeconds: null, lagBytes: null },
      ],
      parseCache: () => ({ hits: 90, misses: 10, entries: 12 }),
      hotness: () => [
        { shard: 's0', hotspotScore: 72.5 },
        { shard: 's1', hotspotScore: null },
      ],
      imbalance: () => 12,
      alerts: () => [
        { alertname: 'HighCpu', severity: 'warning' },
        { alertname: 'HighCpu', severity: 'warning' },
      ],
      cutover: () => [{ migration: 'split-s0', phase: 'catch_up' }],
      host: () => [
        { shard: 's0', server: 's0-primary', cpuPercent: 50, memoryPercent: null, diskPercent: 25 },
      ],
    });
    let text = await m.text();
    expect(value(text, 'shardgate_pool_server_connections', { server: 's0-primary', state: 'active' })).toBe(
      4,
    );
    expect(value(text, 'shardgate_pool_clients_waiting', { server: 's0-primary' })).toBe(3);
    expect(value(text, 'shardgate_pool_checkouts_total', { shard: 's0' })).toBe(100);
    expect(value(text, 'shardgate_pool_checkouts_waited_total', { shard: 's0' })).toBe(7);
    expect(value(text, 'shardgate_replication_lag_seconds', { replica: 's0-replica1' })).toBe(1.5);
    expect(value(text, 'shardgate_replication_lag_bytes', { replica: 's0-replica1' })).toBe(4096);
    expect(value(text, 'shardgate_replication_lag_seconds', { replica: 's0-replica2' })).toBeUndefined();
    expect(value(text, 'shardgate_parse_cache_hits_total')).toBe(90);
    expect(value(text, 'shardgate_parse_cache_misses_total')).toBe(10);
    expect(value(text, 'shardgate_hotspot_score', { shard: 's0' })).toBe(72.5);
    expect(value(text, 'shardgate_hotspot_score', { shard: 's1' })).toBeUndefined();
    expect(value(text, 'shardgate_shard_imbalance_score')).toBe(12);
    expect(value(text, 'shardgate_alerts_firing', { alertname: 'HighCpu', severity: 'warning' })).toBe(2);
    expect(value(text, 'shardgate_cutover_phase', { migration: 'split-s0', phase: 'catch_up' })).toBe(1);
    expect(value(text, 'shardgate_host_cpu_ratio', { server: 's0-primary' })).toBe(0.5);
    expect(value(text, 'shardgate_host_memory_ratio', { server: 's0-primary' })).toBeUndefined();
    waiting = 0;
    text = await m.text();
    expect(value(text, 'shardgate_pool_clients_waiting', { server: 's0-primary' })).toBe(0);
    expect(value(text, 'shardgate_pool_checkouts_total', { shard: 's0' })).toBe(100); // mirrored, not accumulated
  });
});

describe('ObservabilityTracker', () => {
  it('counts each key of a multi-shard statement once, and keeps table access counters', () => {
    const t = new ObservabilityTracker({ now: () => 0 });
    const keys = [
      { table: 'users', value: '1', shard: 's0' },
      { table: 'users', value: '2', shard: 's1' },
    ];
    for (const shard of ['s0', 's1']) {
      t.recordStatement(
        stmt({ shard, keys, scatter: true, fanout: 2, tables: ['users', 'posts'], level: 'eventual' }),
      );
    }
    expect(t.hotKeys.topKeys(undefined, 10).map((k) => `${k.shard}:${k.value}:${k.count}`)).toEqual([
      's0:1:1',
      's1:2:1',
    ]);
    expect(t.tableAccess()).toEqual([
      { table: 'posts', level: 'eventual', reads: 1, scatterReads: 1, crossShardJoins: 1 },
      { table: 'users', level: 'eventual', reads: 1, scatterReads: 1, crossShardJoins: 1 },
    ]);
  });

  it('builds a health snapshot with unknowns as null and pool exhaustion from deltas', () => {
    const t = new ObservabilityTracker({ now: () => 0 });
    for (let i = 0; i < 10; i++)
      t.recordStatement(stmt({ keys: [{ table: 'users', value: String(i % 2) }] }));
    let checkouts = 100;
    let waited = 0;
    const collector = new HealthCollector(t, new HostMonitor(), {
      layout: () => [
        { shard: 's0', primary: 's0-primary', replicas: ['s0-replica1'] },
        { shard: 's1', primary: 's1-primary', replicas: [] },
      ],
      pools: () => [
        {
          server: 's0-primary',
          shard: 's0',
          role: 'primary',
          active: 1,
          idle: 1,
          waiting: 0,
          total: 2,
          checkoutsTotal: checkouts,
          waitedTotal: waited,
        },
      ],
      lag: () => [{ shard: 's0', replica: 's0-replica1', lagSeconds: 2, lagBytes: null }],
    });
    const first = collector.snapshot();
    expect(first.shards[0]).toMatchObject({
      shard: 's0',
      cpuPercent: null,
      memoryPercent: null,
      hotspotScore: 0,
      poolExhaustionRate: null,
      replicas: [{ name: 's0-replica1', lagSeconds: 2 }],
    });
    expect(first.shards[0]!.latencyP99Seconds).toBeCloseTo(0.002, 3);
    expect(first.shards[1]).toMatchObject({
      shard: 's1',
      hotspotScore: null,
      latencyP99Seconds: null,
      poolExhaustionRate: null,
    });
    checkouts = 200;
    waited = 25;
    expect(collector.snapshot().shards[0]!.poolExhaustionRate).toBe(0.25);
  });

  it('is cheap per statement (measured, reported, not asserted)', () => {
    const zipf = new Zipf(100_000, 1.0, 5);
    const streams: Record<string, string[]> = {
      // Mostly hits on tracked keys, as real hot-key traffic is.
      zipfian: Array.from({ length: 4096 }, () => String(zipf.next())),
      // Worst case for the sketch: every key is a miss that evicts the minimum.
      allMisses: Array.from({ length: 4096 }, (_, i) => String(i * 7919)),
    };
    for (const [name, values] of Object.entries(streams)) {
      const t = new ObservabilityTracker();
      const events: StatementRecord[] = values.map((value, i) =>
        stmt({ shard: `s${i % 4}`, keys: [{ table: 'users', value }], latencySeconds: (i % 50) / 1000 }),
      );
      const n = 200_000;
      for (let i = 0; i < 20_000; i++) t.recordStatement(events[i & 4095]!); // warm up
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) t.recordStatement(events[i & 4095]!);
      const ns = Number(process.hrtime.bigint() - start) / n;
      console.log(`recordStatement (${name} keys): ${ns.toFixed(0)} ns per call`);
      expect(ns).toBeGreaterThan(0);
    }
  });
});
