// MySQL shards where operators look (issue 15): /api/shards, the /metrics server, lag and pool
// series (labelled protocol="mysql"), and the ServerDown alert, through the real admin API of a
// proxy in front of a local MariaDB shard with a replica. The PostgreSQL side of this fixture
// points at a closed port: its shard shows as down beside the MySQL one, never mixed with it.
import { beforeAll, describe, expect, it } from 'vitest';
import { useMysqlProxyFixture } from '../support/use-fixture.js';
import { waitFor } from '../support/wait-for.js';

const fx = useMysqlProxyFixture(
  {
    shards: 1,
    replicas: 1,
    admin: true,
    overrides: {
      admin: { token: 'secret' },
      routing: { lagPollIntervalMs: 20, probeTimeoutMs: 500 },
      observability: {
        enabled: true,
        healthIntervalMs: 200,
        alerts: {
          evaluateIntervalMs: 200,
          rules: [{ name: 'ServerDown', metric: 'server_down', critical: 1 }],
        },
      },
    },
  },
  240_000,
);

let base: string;

beforeAll(async () => {
  await fx.cluster.waitForReplication('s0-replica1');
  base = `http://127.0.0.1:${fx.proxy.admin!.port}`;
  await waitFor('every MySQL server probed', () =>
    fx.proxy.mysql!.topology.monitor.health().every((h) => h.position !== null),
  );
}, 240_000);

const getJson = async <T>(p: string) =>
  (await (await fetch(base + p, { headers: { authorization: 'Bearer secret' } })).json()) as T;
const metrics = async () => (await fetch(`${base}/metrics`)).text();

interface ShardRow {
  name: string;
  protocol: string;
  connections: number;
  servers: Array<{ name: string; role: string; healthy: boolean; up: boolean | null; lagMs: number | null }>;
}
interface Alert {
  alertname: string;
  protocol?: string;
  shard: string;
  replica: string | null;
}

describe('MySQL shards in the operator views', () => {
  it('/api/shards lists the MySQL shard with its servers, health and lag beside the PostgreSQL one', async () => {
    // A statement through the MySQL front end, so its pool has a connection to show.
    const c = await fx.connect();
    await c.query('SELECT count(*) AS n FROM users');
    const rows = await getJson<ShardRow[]>('/api/shards');
    const mysqlRow = rows.find((r) => r.protocol === 'mysql' && r.name === 's0');
    expect(mysqlRow).toBeDefined();
    expect(mysqlRow!.servers.map((s) => [s.name, s.role])).toEqual([
      ['s0-primary', 'primary'],
      ['s0-replica1', 'replica'],
    ]);
    expect(mysqlRow!.servers.every((s) => s.healthy && s.up === true)).toBe(true);
    expect(mysqlRow!.servers[1]!.lagMs).toEqual(expect.any(Number));
    expect(mysqlRow!.connections).toBeGreaterThan(0);
    expect(rows.find((r) => r.protocol === 'postgres')?.name).toBe('pg0');
  });

  it('/metrics has the MySQL servers up, their lag and their pools, labelled protocol="mysql"', async () => {
    await waitFor(
      'the MySQL replica lag series',
      async () =>
        /shardgate_replication_lag_seconds\{shard="s0",replica="s0-replica1",protocol="mysql"\} \d/.test(
          await metrics(),
        ),
      30_000,
      100,
    );
    const text = await metrics();
    expect(text).toContain(
      'shardgate_server_up{shard="s0",server="s0-primary",role="primary",protocol="mysql"} 1',
    );
    expect(text).toContain(
      'shardgate_server_up{shard="s0",server="s0-replica1",role="replica",protocol="mysql"} 1',
    );
    expect(text).toMatch(
      /shardgate_pool_server_connections\{shard="s0",server="s0-primary",role="primary",protocol="mysql",state="total"\} [1-9]/,
    );
    expect(text).toContain(
      'shardgate_server_shunned{shard="s0",server="s0-replica1",role="replica",protocol="mysql"} 0',
    );
  });

  it('a MySQL replica killed: down in /metrics and /api/shards, ServerDown fires for it; back up after a restart', async () => {
    await fx.cluster.killServer('s0-replica1');
    const firing = async () =>
      (await getJson<{ firing: Alert[] }>('/api/alerts')).firing.find(
        (a) => a.alertname === 'ServerDown' && a.protocol === 'mysql' && a.replica === 's0-replica1',
      );
    await waitFor('ServerDown on the MySQL replica', async () => (await firing()) !== undefined, 30_000, 100);
    expect(await metrics()).toContain(
      'shardgate_server_up{shard="s0",server="s0-replica1",role="replica",protocol="mysql"} 0',
    );
    const row = (await getJson<ShardRow[]>('/api/shards')).find((r) => r.protocol === 'mysql')!;
    expect(row.servers.find((s) => s.name === 's0-replica1')).toMatchObject({ healthy: false, up: false });
    // The PostgreSQL side's shard of this fixture (a closed port) is down too: its own alert, not mixed.
    const all = (await getJson<{ firing: Alert[] }>('/api/alerts')).firing;
    const pgDown = all.find((a) => a.alertname === 'ServerDown' && a.replica === 'pg0-primary');
    expect(pgDown).toMatchObject({ shard: 'pg0' });
    expect(pgDown?.protocol).toBeUndefined();
    await fx.cluster.restartServer('s0-replica1');
    await waitFor(
      'ServerDown on the MySQL replica resolved',
      async () => (await firing()) === undefined,
      60_000,
      100,
    );
  }, 120_000);
});
