import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type AlertRuleConfig, DEFAULT_ALERT_RULES } from '../../src/config/schema.js';
import type { AlertmanagerAlert } from '../../src/observability/alert-webhook.js';
import { AlertManager, renderPrometheusRules, type ShardHealth } from '../../src/observability/alerts.js';

function shard(overrides: Partial<ShardHealth> = {}): ShardHealth {
  return {
    shard: 's0',
    cpuPercent: 10,
    memoryPercent: 10,
    diskPercent: 10,
    hotspotScore: 5,
    latencyP99Seconds: 0.01,
    poolExhaustionRate: 0,
    replicas: [{ name: 's0-replica1', lagSeconds: 0.1 }],
    ...overrides,
  };
}

/** The fields of an alert that fires on shard s0. */
const firingOnS0 = (alertname: string, severity: 'warning' | 'critical') => ({
  status: 'firing',
  alertname,
  severity,
  shard: 's0',
});

const cpuRule: AlertRuleConfig = {
  name: 'HighCpu',
  metric: 'cpu_percent',
  warning: 80,
  critical: 90,
  warningOp: '>',
  forMs: 0,
};

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function webhookServer(status = 200): Promise<{ url: string; received: AlertmanagerAlert[][] }> {
  const received: AlertmanagerAlert[][] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push(JSON.parse(body) as AlertmanagerAlert[]);
      res.statusCode = status;
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/alerts`, received };
}

describe('AlertManager', () => {
  it('fires ServerDown per server that stops answering, never while its state is unknown', () => {
    const rule = DEFAULT_ALERT_RULES.find((r) => r.name === 'ServerDown')!;
    const m = new AlertManager({ rules: [rule], now: () => 1_000 });
    const snap = (up: boolean | null) => ({
      shards: [
        shard({
          servers: [
            { name: 's0-primary', up: true },
            { name: 's0-replica1', up },
          ],
        }),
      ],
    });
    expect(m.evaluate(snap(null))).toEqual([]);
    const fired = m.evaluate(snap(false));
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      ...firingOnS0('ServerDown', 'critical'),
      replica: 's0-replica1',
      description: expect.stringContaining('server s0-replica1 of shard s0'),
    });
    expect(m.evaluate(snap(true)).map((e) => e.status)).toEqual(['resolved']);
  });

  it('fires TwoPhaseInDoubt when a cross-shard transaction stays prepared on a shard', () => {
    const rule = DEFAULT_ALERT_RULES.find((r) => r.name === 'TwoPhaseInDoubt')!;
    const m = new AlertManager({ rules: [rule], now: () => 1_000 });
    expect(m.evaluate({ shards: [shard({ twoPhaseInDoubtSeconds: 5 })] })).toEqual([]);
    const [fired] = m.evaluate({ shards: [shard({ twoPhaseInDoubtSeconds: 90 })] });
    expect(fired).toMatchObject(firingOnS0('TwoPhaseInDoubt', 'warning'));
    expect(fired!.description).toContain('in-doubt');
    expect(m.evaluate({ shards: [shard({ twoPhaseInDoubtSeconds: 0 })] }).map((e) => e.status)).toEqual([
      'resolved',
    ]);
  });

  it('fires once per episode, then resolves once', () => {
    let now = 1_000;
    const m = new AlertManager({ rules: [cpuRule], now: () => now });
    const seen: string[] = [];
    m.onEvent((e) => seen.push(`${e.status}:${e.severity}`));
    expect(m.evaluate({ shards: [shard()] })).toEqual([]);
    const [fired] = m.evaluate({ shards: [shard({ cpuPercent: 85 })] });
    expect(fired).toMatchObject({ ...firingOnS0('HighCpu', 'warning'), value: 85, threshold: 80 });
    now = 2_000;
    expect(m.evaluate({ shards: [shard({ cpuPercent: 86 })] })).toEqual([]); // dedup
    expect(m.firingAlerts()[0]!.value).toBe(86);
    now = 3_000;
    const [resolved] = m.evaluate({ shards: [shard({ cpuPercent: 50 })] });
    expect(resolved).toMatchObject({ status: 'resolved', startsAt: 1_000, endsAt: 3_000 });
    expect(m.evaluate({ shards: [shard({ cpuPercent: 50 })] })).toEqual([]);
    expect(seen).toEqual(['firing:warning', 'resolved:warning']);
    expect(m.firingAlerts()).toEqual([]);
  });

  it('treats severity as identity: escalation resolves the warning and fires the critical', () => {
    const m = new AlertManager({ rules: [cpuRule], now: () => 0 });
    m.evaluate({ shards: [shard({ cpuPercent: 85 })] });
    const events = m.evaluate({ shards: [shard({ cpuPercent: 90 })] }); // critical is >=
    expect(events.map((e) => `${e.status}:${e.severity}`)).toEqual(['resolved:warning', 'firing:critical']);
  });

  it('waits forMs of continuous breach before firing', () => {
    let now = 0;
    const m = new AlertManager({ rules: [{ ...cpuRule, forMs: 10_000 }], now: () => now });
    expect(m.evaluate({ shards: [shard({ cpuPercent: 95 })] })).toEqual([]);
    now = 5_000;
    expect(m.evaluate({ shards: [shard({ cpuPercent: 50 })] })).toEqual([]); // breach interrupted
    now = 6_000;
    expect(m.evaluate({ shards: [shard({ cpuPercent: 95 })] })).toEqual([]);
    now = 15_999;
    expect(m.evaluate({ shards: [shard({ cpuPercent: 95 })] })).toEqual([]);
    now = 16_000;
    expect(m.evaluate({ shards: [shard({ cpuPercent: 95 })] }).map((e) => e.status)).toEqual(['firing']);
  });

  it('never fires on unknown figures, keeps state through them, resolves removed subjects', () => {
    const m = new AlertManager({ now: () => 0 });
    const unknown = shard({
      cpuPercent: null,
      memoryPercent: null,
      diskPercent: null,
      hotspotScore: null,
      latencyP99Seconds: null,
      poolExhaustionRate: null,
      replicas: [{ name: 'r1', lagSeconds: null }],
    });
    expect(m.evaluate({ shards: [unknown] })).toEqual([]);
    const fired = m.evaluate({
      shards: [shard({ hotspotScore: 75, replicas: [{ name: 'r1', lagSeconds: 40 }] })],
    });
    expect(fired.map((e) => `${e.alertname}:${e.severity}:${e.replica}`).sort()).toEqual([
      'HotShard:warning:null',
      'ReplicationLag:critical:r1',
    ]);
    expect(fired.find((e) => e.alertname === 'HotShard')!.recommendation).toBe(
      'consider splitting the shard or rebalancing load',
    );
    expect(m.evaluate({ shards: [unknown] })).toEqual([]); // unknown: nothing changes
    expect(m.firingAlerts()).toHaveLength(2);
    expect(m.evaluate({ shards: [] }).map((e) => e.status)).toEqual(['resolved', 'resolved']);
  });

  it('posts firing and resolved alerts to the webhook in Alertmanager v2 shape', async () => {
    const hook = await webhookServer();
    let now = Date.parse('2025-01-01T00:00:00Z');
    const m = new AlertManager({
      rules: DEFAULT_ALERT_RULES,
      now: () => now,
      webhook: { url: hook.url, resendIntervalMs: 0 },
      generatorURL: 'http://127.0.0.1:9930/',
    });
    m.evaluate({ shards: [shard({ hotspotScore: 80 })] });
    now += 60_000;
    m.evaluate({ shards: [shard({ hotspotScore: 10 })] });
    await m.flush();
    expect(hook.received).toHaveLength(2);
    const [firing] = hook.received[0]!;
    const [resolved] = hook.received[1]!;
    expect(firing).toEqual({
      labels: {
        alertname: 'HotShard',
        severity: 'warning',
        shard: 's0',
        metric: 'hotspot_score',
        service: 'shardgate',
      },
      annotations: {
        summary: 'HotShard (warning) on shard s0',
        description: 'hot-key score on shard s0 is 80, warning threshold > 70',
        recommendation: 'consider splitting the shard or rebalancing load',
      },
      startsAt: '2025-01-01T00:00:00.000Z',
      generatorURL: 'http://127.0.0.1:9930/',
    });
    expect(resolved!.endsAt).toBe('2025-01-01T00:01:00.000Z');
    expect(resolved!.startsAt).toBe(firing!.startsAt);
  });

  it('re-sends firing alerts with a future endsAt', async () => {
    const hook = await webhookServer();
    let now = 0;
    const m = new AlertManager({
      rules: [cpuRule],
      now: () => now,
      webhook: { url: hook.url, resendIntervalMs: 1_000 },
    });
    m.evaluate({ shards: [shard({ cpuPercent: 85 })] });
    now = 500;
    m.evaluate({ shards: [shard({ cpuPercent: 85 })] }); // nothing new, resend not due
    now = 1_000;
    m.evaluate({ shards: [shard({ cpuPercent: 85 })] });
    await m.flush();
    expect(hook.received).toHaveLength(2);
    expect(hook.received[1]![0]!.endsAt).toBe(new Date(5_000).toISOString());
  });

  it('keeps evaluating when the webhook is down, and reports the failure', async () => {
    const hook = await webhookServer();
    const deadUrl = hook.url;
    await new Promise((r) => servers.pop()!.close(r)); // nothing listens there any more
    const errors: Error[] = [];
    let now = 0;
    const m = new AlertManager({
      rules: [cpuRule],
      now: () => now,
      webhook: {
        url: deadUrl,
        retries: 2,
        backoffMs: 1,
        timeoutMs: 200,
        resendIntervalMs: 0,
        onError: (e) => errors.push(e),
      },
    });
    expect(m.evaluate({ shards: [shard({ cpuPercent: 95 })] }).map((e) => e.status)).toEqual(['firing']);
    now = 1;
    expect(m.evaluate({ shards: [shard({ cpuPercent: 5 })] }).map((e) => e.status)).toEqual(['resolved']);
    await m.flush();
    expect(errors).toHaveLength(2);
    expect(errors[0]!.message).toMatch(/unreachable/);
  });

  it('retries a failing webhook until it answers', async () => {
    let calls = 0;
    const received: unknown[] = [];
    const server = createServer((req, res) => {
      calls++;
      req.resume();
      req.on('end', () => {
        res.statusCode = calls < 3 ? 503 : 200;
        if (calls >= 3) received.push(calls);
        res.end();
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const m = new AlertManager({
      rules: [cpuRule],
      now: () => 0,
      webhook: { url, retries: 3, backoffMs: 1, resendIntervalMs: 0 },
    });
    m.evaluate({ shards: [shard({ cpuPercent: 95 })] });
    await m.flush();
    expect(calls).toBe(3);
    expect(received).toEqual([3]);
  });
});

describe('renderPrometheusRules', () => {
  it('produces a parseable rules file with every rule and threshold', () => {
    const rules: AlertRuleConfig[] = [
      ...DEFAULT_ALERT_RULES,
      {
        name: 'DiskFull',
        metric: 'disk_percent',
        warning: 80,
        critical: 95,
        warningOp: '>=',
        forMs: 120_000,
      },
    ];
    const doc = parse(renderPrometheusRules(rules)) as {
      groups: Array<{
        name: string;
        rules: Array<{
          alert: string;
          expr: string;
          for?: string;
          labels: Record<string, string>;
          annotations: Record<string, string>;
        }>;
      }>;
    };
    const out = doc.groups[0]!.rules;
    for (const r of rules) expect(out.some((o) => o.alert === r.name)).toBe(true);
    const cpu = out.filter((o) => o.alert === 'HighCpu');
    expect(cpu.map((o) => [o.labels.severity, o.expr])).toEqual([
      ['warning', '(shardgate_host_cpu_ratio * 100) > 80 < 90'],
      ['critical', '(shardgate_host_cpu_ratio * 100) >= 90'],
    ]);
    const hot = out.find((o) => o.alert === 'HotShard')!;
    expect(hot.expr).toBe('(shardgate_hotspot_score) > 70');
    expect(hot.annotations.recommendation).toBe('consider splitting the shard or rebalancing load');
    expect(out.find((o) => o.alert === 'SlowQueries')!.expr).toContain('histogram_quantile(0.99');
    expect(out.find((o) => o.alert === 'PoolExhaustion')!.expr).toContain(
      'shardgate_pool_checkouts_waited_total',
    );
    const disk = out.filter((o) => o.alert === 'DiskFull');
    expect(disk[0]!.expr).toBe('(shardgate_host_disk_ratio * 100) >= 80 < 95');
    expect(disk[0]!.for).toBe('120s');
  });
});
