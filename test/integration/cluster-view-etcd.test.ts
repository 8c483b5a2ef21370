// One view for operators across two shardgate instances on one etcd (docs/control-plane.md, "One
// view"): /api/cluster and /metrics?scope=cluster of A show B's traffic, /api/hotkeys?scope=cluster
// merges both instances' hot keys, a CancelRequest sent to A cancels a pg_sleep running through B
// (also when A holds a session of the same process id with another key),
// and members that refuse, hang or answer garbage are reported unreachable without hanging A.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Etcd3 } from 'etcd3';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdCluster } from '../../src/local/etcd-cluster.js';
import type { ProxyHandle } from '../../src/proxy.js';
import { appPgClient } from '../support/child-clients.js';
import {
  startFixtureAndEtcd,
  startInstance as startOn,
  stopInstancesAndEtcd,
} from '../support/etcd-instances.js';
import { cancelKeyOf, sendCancelRequest } from '../support/pg-cancel-request.js';
import type { ProxyFixture } from '../support/proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

const HEADERS = { authorization: 'Bearer test-token' };
let fx: ProxyFixture;
let etcd: EtcdCluster;
let a: ProxyHandle;
let b: ProxyHandle;

interface ClusterMember {
  id: string;
  admin: string | null;
  reachable: boolean;
  error?: string;
  uptimeSeconds: number | null;
  traffic: { statements: number; errors: number; clientConnections: number } | null;
}

async function get(p: ProxyHandle, path: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${p.admin!.port}${path}`, { headers: HEADERS });
}

async function clusterOf(p: ProxyHandle): Promise<ClusterMember[]> {
  const r = await get(p, '/api/cluster');
  expect(r.status).toBe(200);
  return ((await r.json()) as { members: ClusterMember[] }).members;
}

const clientOf = (p: ProxyHandle): Promise<pg.Client> => appPgClient(p.postgres.port);

/** A session through `p` and the key a CancelRequest for it carries. */
async function sessionOn(p: ProxyHandle) {
  const c = await clientOf(p);
  const { processID, secretKey } = cancelKeyOf(c);
  return { c, processID, secretKey };
}

/** SELECT pg_sleep(60) on `c`: 'finished', or the SQLSTATE it failed with. */
const sleep60 = (c: pg.Client) =>
  c.query('SELECT pg_sleep(60)').then(
    () => 'finished',
    (err: { code?: string }) => err.code,
  );

/** Until the statement is on B's server (a cancel before that finds nothing to cancel). */
const sleepRunning = () =>
  waitFor('pg_sleep running', async () => {
    const d = await fx.direct('s0-primary');
    try {
      const r = await d.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'",
      );
      return r.rows[0].n === 1;
    } finally {
      await d.end();
    }
  });

const startInstance = (id: string) =>
  startOn(fx.config, id, { endpoints: etcd.endpoints, namespace: 'view' }, true);

beforeAll(async () => {
  [fx, etcd] = await startFixtureAndEtcd({ shards: 2, replicas: 0 }, 1);
  a = await startInstance('A');
  b = await startInstance('B');
}, 180_000);

afterAll(() => stopInstancesAndEtcd([a, b], etcd, fx));

describe('one view for operators across instances', () => {
  it('/api/cluster on A shows both members with uptime and B traffic', async () => {
    const c = await clientOf(b);
    for (let i = 0; i < 5; i++) await c.query('SELECT balance FROM balances WHERE user_id = $1', [7]);
    await expect(c.query('SELECT * FROM no_such_table_here')).rejects.toThrow();
    const members = await clusterOf(a);
    await c.end();
    expect(members.map((m) => [m.id, m.reachable])).toEqual([
      ['A', true],
      ['B', true],
    ]);
    const mb = members.find((m) => m.id === 'B')!;
    expect(mb.admin).toBe(`http://127.0.0.1:${b.admin!.port}`);
    expect(mb.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(mb.traffic!.statements).toBeGreaterThanOrEqual(5);
    expect(mb.traffic!.clientConnections).toBe(1);
    expect(members.find((m) => m.id === 'A')!.traffic!.clientConnections).toBe(0);
  });

  it('/metrics?scope=cluster on A has every member series under an instance label', async () => {
    const c = await clientOf(b);
    await c.query('SELECT balance FROM balances WHERE user_id = $1', [8]);
    await c.end();
    const text = await (await get(a, '/metrics?scope=cluster')).text();
    expect(text).toContain('shardgate_cluster_member_up{instance="A"} 1');
    expect(text).toContain('shardgate_cluster_member_up{instance="B"} 1');
    expect(text).toMatch(
      /^shardgate_statements_total\{instance="B",kind="read",shard="s\d",role="primary",outcome="ok"\} \d+$/m,
    );
    // One HELP and TYPE per family, whatever the number of members.
    expect(text.match(/^# TYPE shardgate_statements_total /gm)).toHaveLength(1);
    const plain = await (await get(a, '/metrics')).text();
    expect(plain).not.toContain('instance="B"');
  });

  it('/api/hotkeys?scope=cluster on A merges both instances sketches', async () => {
    const [ca, cb] = [await clientOf(a), await clientOf(b)];
    for (let i = 0; i < 6; i++) await ca.query('SELECT balance FROM balances WHERE user_id = $1', [42]);
    for (let i = 0; i < 9; i++) await cb.query('SELECT balance FROM balances WHERE user_id = $1', [42]);
    await Promise.all([ca.end(), cb.end()]);
    const local = (await (await get(a, '/api/hotkeys?limit=5')).json()) as {
      keys: Array<{ value: string; count: number }>;
    };
    expect(local.keys.find((k) => k.value === '42')?.count).toBe(6);
    const merged = (await (await get(a, '/api/hotkeys?scope=cluster&limit=5')).json()) as {
      keys: Array<{ value: string; table: string; count: number; error: number }>;
      members: Array<{ id: string; reachable: boolean }>;
    };
    expect(merged.members).toEqual([
      { id: 'A', reachable: true },
      { id: 'B', reachable: true },
    ]);
    expect(merged.keys[0]).toMatchObject({ value: '42', table: 'balances', count: 15, error: 0 });
  });

  it('a cancel sent to A stops the pg_sleep running through B', async () => {
    const { c, processID, secretKey } = await sessionOn(b);
    const sleeping = sleep60(c);
    // The statement must be on B's server before the cancel can find it.
    await sleepRunning();
    await sendCancelRequest(a.postgres.port, processID, secretKey);
    expect(await sleeping).toBe('57014');
    // The session survives its cancelled statement.
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
  }, 30_000);

  it('a cancel for B session reaches B even when A has a session of the same process id', async () => {
    const { c, processID, secretKey } = await sessionOn(b);
    // A session of A under B's process id with another key, as two instances may issue one pid.
    let aCancelled = false;
    expect(
      a.cancel.registerAs(processID, secretKey ^ 1, {
        cancel: () => {
          aCancelled = true;
        },
      }),
    ).toBe(true);
    try {
      const sleeping = sleep60(c);
      await sleepRunning();
      await sendCancelRequest(a.postgres.port, processID, secretKey);
      expect(await sleeping).toBe('57014');
      expect(aCancelled).toBe(false);
    } finally {
      a.cancel.unregister(processID);
      await c.end();
    }
  }, 30_000);

  it('a cancel with a wrong secret key, sent to A, leaves B session alone', async () => {
    const { c, processID, secretKey } = await sessionOn(b);
    await sendCancelRequest(a.postgres.port, processID, secretKey ^ 1);
    // A forwards the cancel to B at once; a wrongly honoured one would cancel this statement.
    const r = await c.query('SELECT pg_sleep(0.5), 2 AS two');
    expect(r.rows[0].two).toBe(2);
    await c.end();
  });

  it('members that refuse, hang or answer garbage are reported unreachable, and A still answers', async () => {
    // A peer that never answers, one that answers garbage, one that sends more than the bound.
    const hang = http.createServer(() => undefined);
    const garbage = http.createServer((_req, res) => res.end('{"id": 5, "nonsense": true'));
    const huge = http.createServer((_req, res) => {
      res.write('x'.repeat(1024 * 1024));
      const more = () => res.write('x'.repeat(1024 * 1024), () => setImmediate(more));
      more();
    });
    const ports: number[] = [];
    for (const s of [hang, garbage, huge]) {
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      ports.push((s.address() as AddressInfo).port);
    }
    const client = new Etcd3({ hosts: etcd.endpoints.map((e) => `http://${e}`) });
    const ns = client.namespace('view/');
    const lease = ns.lease(30);
    const fake = (id: string, admin: string | null) =>
      lease
        .put(`members/${id}`)
        .value(JSON.stringify({ id, admin, version: '0.0.0', topologyVersion: 1, startedAt: '' }));
    try {
      await fake('C-refused', 'http://127.0.0.1:1');
      await fake('D-hangs', `http://127.0.0.1:${ports[0]}`);
      await fake('E-garbage', `http://127.0.0.1:${ports[1]}`);
      await fake('F-huge', `http://127.0.0.1:${ports[2]}`);
      await fake('G-worker', null);
      // A's answers are shared for a second (peer-load.ts): wait for one that lists the new members.
      let members: ClusterMember[] = [];
      await waitFor('the new members listed', async () => (members = await clusterOf(a)).length === 7);
      expect(members.map((m) => [m.id, m.reachable])).toEqual([
        ['A', true],
        ['B', true],
        ['C-refused', false],
        ['D-hangs', false],
        ['E-garbage', false],
        ['F-huge', false],
        ['G-worker', false],
      ]);
      const byId = new Map(members.map((m) => [m.id, m.error]));
      expect(byId.get('D-hangs')).toMatch(/no reply within/);
      expect(byId.get('E-garbage')).toMatch(/not JSON/);
      expect(byId.get('F-huge')).toMatch(/larger than/);
      let metrics = '';
      await waitFor('the new members scraped', async () =>
        (metrics = await (await get(a, '/metrics?scope=cluster')).text()).includes('instance="D-hangs"'),
      );
      expect(metrics).toContain('shardgate_cluster_member_up{instance="D-hangs"} 0');
      expect(metrics).toContain('shardgate_cluster_member_up{instance="B"} 1');
    } finally {
      await lease.revoke();
      client.close();
      for (const s of [hang, garbage, huge]) s.closeAllConnections();
      await Promise.all([hang, garbage, huge].map((s) => new Promise((r) => s.close(r))));
    }
  }, 30_000);
});
