// History that survives a restart (per-shard samples and alert events in the JSON-lines store,
// read back through /api/history after the proxy is closed and started again on the same
// directory) and the daily, weekly and monthly reports with real values from real servers.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import type { ShardSample } from '../../src/observability/history-sampler.js';
import type { Report } from '../../src/observability/reports.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { adminAuth, adminJson, adminOverrides, waitUntil } from '../support/admin-fixture.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

let fx: ProxyFixture;
let proxy: ProxyHandle;
const base = () => `http://127.0.0.1:${proxy.admin!.port}`;

beforeAll(async () => {
  fx = await startProxyFixture({
    shards: 2,
    replicas: 1,
    overrides: adminOverrides(
      // Fires on the first statement: an alert event the daily report must list.
      { rules: [{ name: 'SlowQueries', metric: 'latency_p99_seconds', warning: 0.000_001, forMs: 0 }] },
      { history: { intervalMs: 300 } },
    ),
  });
  proxy = fx.proxy;
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await fx?.cluster.stop();
});

// History and reports need the admin token (they name statements and alerts).
const getJson = adminJson(base);

interface HistoryJson {
  records: Array<ShardSample & Record<string, unknown>>;
  storeBytes: number;
}

/** Statements through the current proxy (its port changes at the restart). */
async function load(): Promise<void> {
  const c = await fx.client({ port: proxy.postgres.port });
  for (let i = 1; i <= 40; i++) await c.query('SELECT * FROM users WHERE id = $1', [i]);
  await c.end();
}

describe('history', () => {
  let before: HistoryJson['records'] = [];

  it('writes per-shard samples with size, rows, QPS, latency buckets, lag and pool use', async () => {
    await load();
    const full = await waitUntil('a sample per shard with traffic, size and lag', async () => {
      const h = await getJson<HistoryJson>('/api/history');
      const ok = ['s0', 's1'].every((shard) =>
        h.records.some(
          (r) =>
            r.shard === shard &&
            r.qps > 0 &&
            r.dataBytes !== null &&
            r.rowsEstimate !== null &&
            r.lagSeconds !== null &&
            r.bufferHitRate !== null,
        ),
      );
      return ok ? h : null;
    });
    const busy = full.records.find((r) => r.qps > 0)!;
    expect(busy.latencyBuckets.length).toBe(busy.latencyBounds.length + 1);
    expect(busy.latencyBuckets.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(busy.dataBytes).toBeGreaterThan(1_000_000);
    expect(busy.poolSize).toBeGreaterThan(0);
    const s0 = await getJson<HistoryJson>('/api/history?shard=s0');
    expect(s0.records.length).toBeGreaterThan(0);
    expect(new Set(s0.records.map((r) => r.shard))).toEqual(new Set(['s0']));
    const last = s0.records.at(-1)!.t;
    const ranged = await getJson<HistoryJson>(`/api/history?shard=s0&from=${last}&to=${last}`);
    expect(ranged.records.map((r) => r.t)).toEqual([last]);
    const alerts = await waitUntil('the alert event stored', async () => {
      const a = await getJson<HistoryJson>('/api/history?type=alert');
      return a.records.length > 0 ? a : null;
    });
    expect(alerts.records[0]!.alertname).toBe('SlowQueries');
    before = (await getJson<HistoryJson>('/api/history')).records;
  }, 60_000);

  it('reads the same records back after the proxy restarts', async () => {
    await proxy.close();
    proxy = await startProxy(fx.config, { log: silentLogger(), postgresPort: 0, adminPort: 0 });
    const after = await getJson<HistoryJson>('/api/history');
    const keys = (rs: HistoryJson['records']) => rs.map((r) => `${r.shard}@${r.t}`);
    expect(keys(after.records).slice(0, before.length)).toEqual(keys(before));
    const alerts = await getJson<HistoryJson>('/api/history?type=alert');
    expect(alerts.records.length).toBeGreaterThan(0);
    // And the restarted proxy keeps appending.
    await waitUntil('a new sample after the restart', async () => {
      const h = await getJson<HistoryJson>('/api/history');
      return h.records.length > before.length ? h : null;
    });
  }, 60_000);

  it('refuses a bad time', async () => {
    const r = await fetch(`${base()}/api/history?from=yesterday`, { headers: adminAuth });
    expect(r.status).toBe(400);
  });
});

describe('reports', () => {
  it('daily: health, replication lag, alerts of the period, backup status', async () => {
    await load();
    const r = await waitUntil('health known for every shard', async () => {
      const rep = await getJson<Report>('/api/reports/daily');
      const health = rep.sections.health as Array<{ status: string; dataBytes: number | null }>;
      return health.every((h) => h.status !== 'unknown' && h.dataBytes !== null) ? rep : null;
    });
    const s = r.sections as Record<string, Array<Record<string, unknown>>>;
    expect(s.health!.map((h) => h.shard)).toEqual(['s0', 's1']);
    expect(s.health!.every((h) => h.servers === 2 && h.serversUp === 2)).toBe(true);
    expect(s.replication!.map((x) => x.replica)).toEqual(['s0-replica1', 's1-replica1']);
    expect(s.replication!.every((x) => typeof x.lagSeconds === 'number')).toBe(true);
    expect(s.alerts!.some((a) => a.alertname === 'SlowQueries' && a.status === 'firing')).toBe(true);
    // The local servers run with archive_mode off: pg_stat_archiver says so.
    expect(s.backups!.map((b) => [b.shard, b.status, b.archiveMode, b.lastBaseBackup])).toEqual([
      ['s0', 'archiving off', 'off', 'unknown'],
      ['s1', 'archiving off', 'off', 'unknown'],
    ]);
    const md = await (
      await fetch(`${base()}/api/reports/daily?format=markdown`, { headers: adminAuth })
    ).text();
    expect(md).toContain('# shardgate daily report');
    expect(md).toContain('## Replication');
    expect(md).toContain('| s0 | s0-replica1 |');
  }, 60_000);

  it('weekly: data growth, top statements by total time, latency trend, pools, cache', async () => {
    const r = await getJson<Report>('/api/reports/weekly');
    const s = r.sections as Record<string, unknown>;
    const growth = s.growth as Array<{ shard: string; endBytes: number; rowsEstimate: number | null }>;
    expect(growth.map((g) => g.shard).sort()).toEqual(['s0', 's1']);
    expect(growth.every((g) => g.endBytes > 1_000_000)).toBe(true);
    const top = s.topStatements as Array<{ query: string; calls: number; totalMs: number }>;
    expect(top[0]!.calls).toBeGreaterThan(0);
    expect(top.some((q) => q.query.includes('users'))).toBe(true);
    expect(top.map((q) => q.totalMs)).toEqual([...top.map((q) => q.totalMs)].sort((a, b) => b - a));
    const trend = s.latencyTrend as Array<{ p95Seconds: number | null; meanQps: number | null }>;
    expect(trend.some((t) => (t.p95Seconds ?? 0) > 0 && (t.meanQps ?? 0) > 0)).toBe(true);
    const pools = s.pools as Array<{ maxUse: number | null }>;
    expect(pools.every((p) => p.maxUse !== null)).toBe(true);
    const cache = s.cache as { bufferHitRate: Array<{ hitRate: number | null }> };
    expect(cache.bufferHitRate.every((c) => c.hitRate !== null && c.hitRate > 0 && c.hitRate <= 1)).toBe(
      true,
    );
  });

  it('monthly: rebalancing, scaling plan, and POST stores the p95 baseline', async () => {
    const dry = await getJson<Report>('/api/reports/monthly');
    const baseline = (dry.sections.baseline as { stored: boolean; previous: unknown }) ?? null;
    expect(baseline.stored).toBe(false);
    expect(baseline.previous).toBeNull();
    const post = await fetch(`${base()}/api/reports/monthly`, {
      method: 'POST',
      headers: adminAuth,
    });
    expect(post.status).toBe(200);
    const stored = (await post.json()) as Report;
    const current = (stored.sections.baseline as { current: { p95Seconds: Record<string, number | null> } })
      .current;
    expect(Object.keys(current.p95Seconds).sort()).toEqual(['s0', 's1']);
    expect(Object.values(current.p95Seconds).some((v) => v !== null && v > 0)).toBe(true);
    const again = await getJson<Report>('/api/reports/monthly');
    expect((again.sections.baseline as { previous: unknown }).previous).toEqual(current);
    const s = again.sections as Record<string, unknown>;
    const rebalancing = s.rebalancing as { imbalanceScore: number; splits: Array<{ shard: string }> };
    expect(typeof rebalancing.imbalanceScore).toBe('number');
    expect(rebalancing.splits.map((x) => x.shard)).toEqual(['s0', 's1']);
    const plan = s.scalingPlan as Array<{ dataBytes: number; thresholdBytes: number; action: string }>;
    expect(plan.every((p) => p.dataBytes > 1_000_000 && p.thresholdBytes > 0 && p.action.length > 0)).toBe(
      true,
    );
    expect((await fetch(`${base()}/api/reports/yearly`, { headers: adminAuth })).status).toBe(404);
  });

  it('monthly: the last recorded disaster-recovery test, or "none recorded"', async () => {
    const none = await getJson<Report>('/api/reports/monthly');
    expect(none.sections.disasterRecoveryTest).toBe('none recorded');
    const post = (body: unknown, headers: Record<string, string> = adminAuth) =>
      fetch(`${base()}/api/dr-tests`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ note: 'restored s1' }, {})).status).toBe(401);
    expect((await post({ note: '' })).status).toBe(400);
    expect((await post({ note: 'x', outcome: 'maybe' })).status).toBe(400);
    expect((await post({ note: 'x', at: 'not a time' })).status).toBe(400);
    const at = new Date(Date.now() - 3 * 86_400_000).toISOString();
    expect((await post({ note: 'restored s1 from backup, 12 min', at })).status).toBe(200);
    // Recorded later, ran earlier: the report shows the most recent test, not the last recorded.
    const older = new Date(Date.now() - 40 * 86_400_000).toISOString();
    expect((await post({ note: 'promoted s0 replica, failed', outcome: 'failed', at: older })).status).toBe(
      200,
    );
    const r = await getJson<Report>('/api/reports/monthly');
    expect(r.sections.disasterRecoveryTest).toEqual({
      at,
      daysAgo: 3,
      outcome: 'passed',
      note: 'restored s1 from backup, 12 min',
    });
    const md = await (
      await fetch(`${base()}/api/reports/monthly?format=markdown`, { headers: adminAuth })
    ).text();
    expect(md).toContain('## Disaster recovery test');
    expect(md).toContain('- note: restored s1 from backup, 12 min');
  });

  // Runs dist/ (npm run build first).
  it('shardgate report prints Markdown and JSON; monthly stores the baseline with the token', async () => {
    const cli = path.resolve('dist/src/cli/main.js');
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [cli, 'report', ...args, '--admin-url', base()], {
        env: { ...process.env, SHARDGATE_ADMIN_TOKEN: 'secret' },
      });
    const weekly = await run('weekly');
    expect(weekly.stdout).toContain('# shardgate weekly report');
    expect(weekly.stdout).toContain('## Top statements');
    const monthly = JSON.parse((await run('monthly', '--json')).stdout) as Report;
    expect((monthly.sections.baseline as { stored: boolean }).stored).toBe(true);
    const dry = JSON.parse((await run('monthly', '--json', '--no-baseline')).stdout) as Report;
    expect((dry.sections.baseline as { stored: boolean }).stored).toBe(false);
    await expect(run('yearly')).rejects.toThrow(/daily, weekly, monthly/);
    const recorded = await run('dr-test', '--record', 'restored s0 from the base backup, 9 min');
    expect(recorded.stdout).toMatch(/^recorded: \S+ passed: restored s0 from the base backup, 9 min/);
    expect((await run('dr-test')).stdout).toContain('restored s0 from the base backup, 9 min');
    const after = JSON.parse((await run('monthly', '--json', '--no-baseline')).stdout) as Report;
    expect((after.sections.disasterRecoveryTest as { note: string }).note).toBe(
      'restored s0 from the base backup, 9 min',
    );
  }, 60_000);
});
