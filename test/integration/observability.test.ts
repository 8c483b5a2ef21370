// Observability end to end: metrics, hot keys under a skewed load, rule changes through the admin
// API that move reads without reconnecting, and the lag alert firing and resolving (webhook).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, adminJson, adminOverrides } from '../support/admin-fixture.js';
import { type AlertWebhook, startAlertWebhook } from '../support/alert-webhook.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';
import { Zipf } from '../support/zipf.js';

let fx: ProxyFixture;
let base: string;
let webhook: AlertWebhook;

beforeAll(async () => {
  webhook = await startAlertWebhook();
  fx = await startProxyFixture({
    shards: 2,
    replicas: 1,
    overrides: adminOverrides({
      webhookUrl: webhook.url,
      rules: [{ name: 'ReplicationLag', metric: 'replication_lag_seconds', warning: 0.5, critical: 30 }],
    }),
  });
  base = `http://127.0.0.1:${fx.proxy.admin!.port}`;
});

afterAll(async () => {
  await fx?.stop();
  webhook?.close();
});

const get = (path: string) => adminJson(() => base)<Record<string, unknown>>(path);

describe('observability', () => {
  it('exposes Prometheus metrics and finds the hot key', async () => {
    const c = await fx.client();
    for (let i = 0; i < 300; i++)
      await c.query('SELECT name FROM users WHERE user_id = $1', [i % 3 === 0 ? 42 : (i % 40) + 1]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/shardgate_statements_total\{[^}]*\} \d+/);
    expect(metrics).toMatch(/shardgate_statement_duration_seconds_bucket/);
    expect(metrics).toMatch(/shardgate_client_connections\{protocol="postgres"\} [1-9]/);
    const hot = (await get('/api/hotkeys?limit=5')) as { keys: Array<{ value: string; table: string }> };
    expect(hot.keys[0]).toMatchObject({ table: 'users', value: '42' });
    const shards = (await get('/api/shards')) as unknown as Array<{ name: string; requests: number }>;
    expect(shards.map((s) => s.name)).toEqual(['s0', 's1']);
    await new Promise((r) => setTimeout(r, 400));
    const withStats = (await get('/api/shards')) as unknown as Array<{
      dataBytes: number | null;
      serverConnections: number | null;
    }>;
    expect(withStats[0]?.dataBytes).toBeGreaterThan(1_000_000);
    expect(withStats[0]?.serverConnections).toBeGreaterThan(0);
    const rules = await (await fetch(`${base}/api/alert-rules`)).text();
    expect(rules).toContain('ReplicationLag');
  });

  it('reports the true top 10 hot keys of a zipfian load through the proxy (precision >= 0.9)', async () => {
    const c = await fx.client();
    const zipf = new Zipf(5_000, 1.1, 7);
    const truth = new Map<number, number>();
    for (let i = 0; i < 4_000; i++) {
      const key = 100_000 + zipf.next();
      truth.set(key, (truth.get(key) ?? 0) + 1);
      await c.query('SELECT count(*) FROM recommendations WHERE user_id = $1', [key]);
    }
    const trueTop = [...truth.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([k]) => String(k));
    const reported = (await get('/api/hotkeys?limit=60')) as {
      keys: Array<{ table: string; value: string }>;
    };
    const top = reported.keys
      .filter((k) => k.table === 'recommendations')
      .slice(0, 10)
      .map((k) => k.value);
    const hits = top.filter((k) => trueTop.includes(k)).length;
    expect(hits / 10).toBeGreaterThanOrEqual(0.9);
  }, 120_000);

  it('changes where reads go through /api/rules without reconnecting', async () => {
    const c = await fx.client();
    const replicaPorts = new Set(fx.cluster.shards.map((s) => s.replicas[0]!.port));
    const before = await c.query('SELECT inet_server_port() AS p, count(*) FROM likes WHERE user_id = 5');
    expect(replicaPorts.has(before.rows[0]?.p)).toBe(true);
    const denied = await fetch(`${base}/api/rules`, {
      method: 'POST',
      body: JSON.stringify({ action: 'set-level', dataType: 'user_likes', level: 'strong' }),
    });
    expect(denied.status).toBe(401);
    const ok = await fetch(`${base}/api/rules`, {
      method: 'POST',
      headers: { ...adminAuth, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'set-level', dataType: 'user_likes', level: 'strong' }),
    });
    expect(ok.status).toBe(200);
    const after = await c.query('SELECT inet_server_port() AS p, count(*) FROM likes WHERE user_id = 5');
    expect(replicaPorts.has(after.rows[0]?.p)).toBe(false);
    const bad = await fetch(`${base}/api/rules`, {
      method: 'POST',
      headers: adminAuth,
      body: JSON.stringify({ action: 'set-level', dataType: 'nope', level: 'strong' }),
    });
    expect(bad.status).toBe(400);
  });

  it('raises the replication lag alert and resolves it; the webhook receives both', async () => {
    const replica = fx.cluster.shards[0]!.replicas[0]!.name;
    await fx.cluster.setReplayDelay(replica, 3_000);
    const c = await fx.client();
    const deadline = Date.now() + 20_000;
    let firing = false;
    while (Date.now() < deadline && !firing) {
      await c
        .query('INSERT INTO analytics_events (id, user_id) VALUES ($1, $2)', [
          Date.now() * 10 + Math.floor(Math.random() * 10),
          1,
        ])
        .catch(() => undefined);
      for (let u = 1; u < 30; u++)
        await c.query('INSERT INTO sessions (id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
          9_000_000 + u + Math.floor(Math.random() * 1e6),
          u,
        ]);
      const a = (await get('/api/alerts')) as { firing: Array<{ alertname: string }> };
      firing = a.firing.some((x) => x.alertname === 'ReplicationLag');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(firing).toBe(true);
    await fx.cluster.setReplayDelay(replica, 0);
    let resolved = false;
    const until = Date.now() + 20_000;
    while (Date.now() < until && !resolved) {
      const a = (await get('/api/alerts')) as { firing: Array<{ alertname: string }> };
      resolved = !a.firing.some((x) => x.alertname === 'ReplicationLag');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(resolved).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));
    const sent = JSON.stringify(webhook.bodies);
    expect(sent).toContain('ReplicationLag');
    expect(webhook.bodies.length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
