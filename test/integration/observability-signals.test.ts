// Signals that fire in a running proxy: CPU use from a sampler that lives across health ticks (a
// HighCpu rule at a lowered threshold fires under load), disk use of local servers, the server-up
// gauge and the ServerDown alert, the 40001 conflicts counter, a per-shard pool size applied at
// run time, and the cutover phase gauge fed by a running split.
import { beforeAll, describe, expect, it } from 'vitest';
import { TERMINAL_PHASES } from '../../src/migration/state-store.js';
import type { StatementStatRow } from '../../src/observability/statement-stats.js';
import { adminAuth, adminJson, adminOverrides, waitUntil } from '../support/admin-fixture.js';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture(
  {
    shards: 2,
    replicas: 1,
    spares: 2,
    overrides: {
      ...adminOverrides({
        rules: [
          { name: 'HighCpu', metric: 'cpu_percent', warning: 1 },
          { name: 'ServerDown', metric: 'server_down', critical: 1 },
        ],
      }),
      migration: { rowsPerSecond: 200 },
    },
  },
  180_000,
);

let base: string;

beforeAll(async () => {
  base = `http://127.0.0.1:${fx.proxy.admin!.port}`;
}, 180_000);

const getJson = adminJson(() => base);
const metrics = async () => (await fetch(`${base}/metrics`)).text();

interface ShardRow {
  name: string;
  host: { cpuPercent: number | null; diskPercent: number | null; source: string };
  servers: Array<{ name: string; up: boolean | null }>;
}
interface Alert {
  alertname: string;
  shard: string;
  replica: string | null;
  status: string;
}

describe('signals that fire', () => {
  it('measures CPU under load and fires HighCpu at a lowered threshold; knows local disk use', async () => {
    let stop = false;
    const clients = await Promise.all([fx.client(), fx.client(), fx.client()]);
    const load = clients.map(async (c) => {
      while (!stop) await c.query('SELECT count(*) FROM users u1, generate_series(1, 200) g');
    });
    try {
      const row = await waitUntil('a CPU figure for s0', async () => {
        const rows = await getJson<ShardRow[]>('/api/shards');
        const s0 = rows.find((r) => r.name === 's0')!;
        return s0.host.cpuPercent !== null ? s0 : null;
      });
      expect(row.host.source).toBe('local');
      expect(row.host.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(row.host.diskPercent).toBeGreaterThan(0);
      const alert = await waitUntil('HighCpu firing on s0', async () => {
        const { firing } = await getJson<{ firing: Alert[] }>('/api/alerts');
        return firing.find((a) => a.alertname === 'HighCpu' && a.shard === 's0') ?? null;
      });
      expect(alert.status).toBe('firing');
      const text = await metrics();
      expect(text).toMatch(/shardgate_host_cpu_ratio\{shard="s0",server="s0-primary"\} [0-9.]+/);
      expect(text).toMatch(/shardgate_host_disk_ratio\{shard="s0",server="s0-primary"\} 0\.[0-9]+/);
    } finally {
      stop = true;
      await Promise.all(load);
    }
  });

  it('counts 40001 conflicts a client receives', async () => {
    const before = conflicts(await metrics());
    const a = await fx.client();
    const b = await fx.client();
    await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await a.query('SELECT name FROM users WHERE user_id = 7');
    await b.query("UPDATE users SET name = name || 'b' WHERE user_id = 7");
    const err = await a
      .query("UPDATE users SET name = name || 'a' WHERE user_id = 7")
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('40001');
    await a.query('ROLLBACK');
    expect(conflicts(await metrics())).toBe(before + 1);
  });

  it('keeps per-statement statistics across shards (/api/queries)', async () => {
    const c = await fx.client();
    for (let i = 1; i <= 6; i++) await c.query('SELECT user_id, name FROM users WHERE user_id = $1', [i]);
    await c.query('SELECT count(*) FROM likes');
    const res = await getJson<{ queries: StatementStatRow[] }>('/api/queries?sort=calls&limit=100');
    const point = res.queries.find((q) => q.query === 'select user_id, name from users where user_id = $1');
    expect(point).toMatchObject({
      calls: 6,
      rows: 6,
      levels: { strong: 6 },
      roles: { primary: 6, replica: 0 },
    });
    expect(point!.meanMs).toBeGreaterThan(0);
    expect(Object.values(point!.shards).reduce((a, b) => a + b, 0)).toBe(6);
    const scatter = res.queries.find((q) => q.query === 'select count (*) from likes');
    expect(scatter).toMatchObject({ calls: 1, scatterCalls: 1, shards: { s0: 1, s1: 1 } });
  });

  it('applies a per-shard pool size at run time (shardgate rules set-pool-size)', async () => {
    const res = await fetch(`${base}/api/rules`, {
      method: 'POST',
      headers: { ...adminAuth, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'set-pool-size', shard: 's0', size: 1 }),
    });
    expect(res.status).toBe(200);
    const pools = await getJson<Array<{ server: string; size: number }>>('/api/pools');
    expect(pools.find((p) => p.server === 's0-primary')?.size).toBe(1);
    expect(pools.find((p) => p.server === 's1-primary')?.size).toBe(20);
    // shard= is an operator override (routingOverrides in the fixture's users).
    const a = await fx.client({ user: 'operator', password: 'op' });
    const b = await fx.client({ user: 'operator', password: 'op' });
    await a.query('BEGIN');
    await a.query('/* shardgate: shard=s0 */ SELECT 1');
    // The only connection of s0's primary is a's until it commits: b waits for it.
    const waiting = b.query('/* shardgate: shard=s0 */ SELECT 2 AS two');
    await waitUntil('a client waiting on s0-primary', async () => {
      const now = await getJson<Array<{ server: string; waiting: number; total: number }>>('/api/pools');
      const p = now.find((x) => x.server === 's0-primary')!;
      expect(p.total).toBeLessThanOrEqual(1);
      return p.waiting > 0 ? p : null;
    });
    await a.query('COMMIT');
    expect((await waiting).rows).toEqual([{ two: 2 }]);
  });

  it('reports a stopped server down (gauge and ServerDown alert) and up again', async () => {
    await waitUntil('s0-replica1 up', async () =>
      (await metrics()).includes(
        'shardgate_server_up{shard="s0",server="s0-replica1",role="replica",protocol="postgres"} 1',
      )
        ? true
        : null,
    );
    await fx.cluster.stopServer('s0-replica1');
    const alert = await waitUntil('ServerDown firing', async () => {
      const { firing } = await getJson<{ firing: Alert[] }>('/api/alerts');
      return firing.find((a) => a.alertname === 'ServerDown') ?? null;
    });
    expect(alert).toMatchObject({ shard: 's0', replica: 's0-replica1' });
    expect(await metrics()).toContain(
      'shardgate_server_up{shard="s0",server="s0-replica1",role="replica",protocol="postgres"} 0',
    );
    const rows = await getJson<ShardRow[]>('/api/shards');
    expect(rows[0]!.servers.find((s) => s.name === 's0-replica1')?.up).toBe(false);
    await fx.cluster.restartServer('s0-replica1');
    await waitUntil('ServerDown resolved', async () => {
      const { firing } = await getJson<{ firing: Alert[] }>('/api/alerts');
      return firing.some((a) => a.alertname === 'ServerDown') ? null : true;
    });
  }, 60_000);

  it('shows the phase of a running split in shardgate_cutover_phase', async () => {
    const migrations = fx.proxy.migrations!;
    const started = await migrations.start({
      shard: 's1',
      at: 'c0',
      targets: ['spare1', 'spare2'],
      verify: { sample: 5 },
      dryRun: false,
    });
    // A scrape between two equal readings of the phase must show that phase.
    const phase = await waitUntil('a scrape within one phase', async () => {
      const p1 = migrations.get(started.id).phase;
      const text = await metrics();
      const p2 = migrations.get(started.id).phase;
      return p1 === p2 && text.includes(`shardgate_cutover_phase{migration="${started.id}",phase="${p1}"} 1`)
        ? p1
        : null;
    });
    expect(phase).toMatch(/^[a-z_]+$/);
    if (!TERMINAL_PHASES.has(migrations.get(started.id).phase))
      await migrations.abort(started.id).catch(() => undefined);
  }, 60_000);
});

function conflicts(text: string): number {
  let n = 0;
  for (const m of text.matchAll(/^shardgate_serialization_conflicts_total\{[^}]*\} (\d+)/gm))
    n += Number(m[1]);
  return n;
}
