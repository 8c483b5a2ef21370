// The rest of issue 14's fault suite on PostgreSQL (1 shard: a primary and two streaming replicas),
// with clients in both pool modes: servers that stop answering (SIGSTOP) fail the statements
// waiting on them instead of hanging them; kill -9 of every server of the shard gives coded errors
// and, in transaction pooling, sessions that survive and work again once the servers are back;
// injected latency (a relay in front of one replica) steers weak reads to the nearer replica and,
// past routing.probeTimeoutMs, takes the slow replica out of rotation; with
// routing.holdWritesOnPrimaryLossMs, a write to a dead primary waits for the promoted replica.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { appLogin } from '../support/app-login.js';
import {
  expectOwnPoolShunsKilledReplica,
  expectShardBackAfterRestart,
  pgHealth as health,
  pgLikesOf as likesOf,
  OWN_USER,
  startTwinProxy,
  useTwinProxy,
  watchPgClose as watchClose,
} from '../support/fault-helpers.js';
import { type LatencyRelay, replicaThroughRelay, startLatencyRelay } from '../support/latency-relay.js';
import { type ProxyFixture, startProxyFixture, TEST_USERS } from '../support/proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

let fx: ProxyFixture;
let sessionProxy: ProxyHandle;
const extraClients: pg.Client[] = [];

async function clientOf(proxy: ProxyHandle, options: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ ...appLogin(proxy), ...options });
  c.on('error', () => undefined);
  await c.connect();
  extraClients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { code: e.code ?? '?', message: e.message ?? String(err) };
  }
  throw new Error('the statement succeeded');
}

const REPLICAS = ['s0-replica1', 's0-replica2'];

beforeAll(async () => {
  fx = await startProxyFixture({
    shards: 1,
    replicas: 2,
    // OWN_USER reaches the servers as its own role (the demo loader creates it).
    overrides: { routing: { lagPollIntervalMs: 20, probeTimeoutMs: 500 }, users: [...TEST_USERS, OWN_USER] },
  });
  for (const r of REPLICAS) await fx.cluster.waitForReplay(r);
  sessionProxy = await startTwinProxy(fx.config, 'postgres', { pool: { mode: 'session' } });
}, 240_000);

afterAll(async () => {
  for (const r of REPLICAS) {
    try {
      fx?.cluster.signalServer(r, 'SIGCONT');
    } catch {
      // Not running.
    }
  }
  await Promise.all(extraClients.map((c) => c.end().catch(() => undefined)));
  await sessionProxy?.close();
  await fx?.stop();
});

describe('servers that stop answering (SIGSTOP)', () => {
  it('fail the reads waiting on them over to another server instead of hanging (transaction pooling)', async () => {
    const expected = await likesOf(await fx.direct('s0-primary'), 4);
    const pooled = await Promise.all(Array.from({ length: 4 }, () => fx.client()));
    const watches = pooled.map(watchClose);
    for (const r of REPLICAS) await fx.cluster.freezeServer(r);
    try {
      // Sent to replicas that no longer answer: each comes back with the right answer, from the primary.
      const answers = await Promise.all(pooled.map((c) => likesOf(c, 4)));
      expect(answers).toEqual(pooled.map(() => expected));
    } finally {
      for (const r of REPLICAS) fx.cluster.signalServer(r, 'SIGCONT');
    }
    await waitFor('replicas back in rotation', () => REPLICAS.every((r) => health(fx.proxy, r).healthy));
    expect(watches.filter((w) => w.closed)).toHaveLength(0);
  }, 120_000);

  it('fail a transaction on a silent primary with a coded error, in both pool modes', async () => {
    const pooled = await fx.client();
    const pooledWatch = watchClose(pooled);
    const owner = await clientOf(sessionProxy);
    const ownerWatch = watchClose(owner);
    for (const c of [pooled, owner]) {
      await c.query('BEGIN');
      await c.query('SELECT count(*) FROM users');
    }
    await fx.cluster.freezeServer('s0-primary');
    try {
      const [inPooled, inOwned] = await Promise.all([
        failure(pooled.query('SELECT count(*) FROM users')),
        failure(owner.query('SELECT count(*) FROM users')),
      ]);
      // Transaction pooling: the transaction fails (retry it), the session lives.
      expect(inPooled.code).toBe('40001');
      expect(inPooled.message).toMatch(/no answer from the server/);
      // Session pooling: the client owned the connection: a coded error, and it is closed.
      expect(inOwned.code).toBe('08006');
      expect(inOwned.message).toMatch(/no answer from the server/);
    } finally {
      fx.cluster.signalServer('s0-primary', 'SIGCONT');
    }
    await waitFor('the primary back in rotation', () => health(fx.proxy, 's0-primary').healthy);
    await pooled.query('ROLLBACK');
    expect(await likesOf(pooled, 4)).toBeGreaterThan(0);
    expect(pooledWatch.closed).toBe(false);
    await waitFor('the session-pooled client closed', () => ownerWatch.closed);
  }, 120_000);
});

describe('kill -9 of every server of the shard', () => {
  it('gives clear coded errors; transaction-pooled sessions survive and work again when the servers are back', async () => {
    const reader = await fx.client();
    const writer = await fx.client();
    const watches = [watchClose(reader), watchClose(writer)];
    const owner = await clientOf(sessionProxy);
    await likesOf(owner, 1);
    const before = await likesOf(reader, 1);
    for (const s of ['s0-primary', ...REPLICAS]) await fx.cluster.killServer(s);
    const read = await failure(likesOf(reader, 1));
    expect(read.code).toBe('08006');
    expect(read.message).toMatch(/cannot reach .* of shard s0.*retry shortly/);
    const write = await failure(writer.query('INSERT INTO likes (id, user_id) VALUES (980001, 1)'));
    expect(write.code).toBe('08006');
    expect(write.message).toMatch(/retry shortly/);
    // Session pooling: the client owned connections to servers that are gone: as a direct client,
    // it heard the server's FATAL and was closed, or hears a coded error now.
    const owned = await failure(likesOf(owner, 1));
    expect(`${owned.code} ${owned.message}`).toMatch(/^(08006|57P0\d) |not queryable|terminated/);
    await expectShardBackAfterRestart({
      restartServer: (s) => fx.cluster.restartServer(s),
      servers: ['s0-primary', ...REPLICAS],
      inRotation: (s) => health(fx.proxy, s).healthy,
      write: () => writer.query('INSERT INTO likes (id, user_id) VALUES (980001, 1)'),
      likes: () => likesOf(reader, 1),
      freshLikes: async () => likesOf(await clientOf(sessionProxy), 1),
      before,
    });
    expect(watches.filter((w) => w.closed)).toHaveLength(0);
  }, 180_000);
});

describe('injected latency (a relay in front of s0-replica1)', () => {
  let relay: LatencyRelay;
  let slowProxy: ProxyHandle;

  beforeAll(async () => {
    for (const r of REPLICAS) await fx.cluster.waitForReplay(r);
    relay = await startLatencyRelay(fx.cluster.server('s0-replica1'), 30);
    const config: ShardgateConfig = {
      ...fx.config,
      shards: replicaThroughRelay(fx.config.shards, 's0-replica1', relay),
    };
    slowProxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: null });
  }, 60_000);

  afterAll(async () => {
    await relay?.close();
    await slowProxy?.close();
  });

  it('sends weak reads to the nearer replica, and takes one slower than probeTimeoutMs out of rotation', async () => {
    await waitFor('the slow replica measured', () => {
      const slow = health(slowProxy, 's0-replica1').rttMs;
      const near = health(slowProxy, 's0-replica2').rttMs;
      return slow !== null && near !== null && slow > near * 4;
    });
    const weak = await clientOf(slowProxy, { options: '-c shardgate.consistency=weak' });
    const replica2Port = fx.cluster.server('s0-replica2').port;
    for (let i = 0; i < 20; i++) {
      const r = await weak.query<{ port: number }>(
        'SELECT inet_server_port() AS port, count(*) AS n FROM likes WHERE user_id = $1',
        [(i % 50) + 1],
      );
      expect(r.rows[0]!.port).toBe(replica2Port);
    }
    // Slower than the probe allows: out of rotation; eventual reads keep being answered.
    relay.delayMs = 1_500;
    const eventual = await clientOf(slowProxy);
    const watch = watchClose(eventual);
    const expected = await likesOf(await fx.direct('s0-primary'), 2);
    const reads = await Promise.all(Array.from({ length: 10 }, () => likesOf(eventual, 2)));
    expect(reads).toEqual(reads.map(() => expected));
    await waitFor('s0-replica1 shunned', () => health(slowProxy, 's0-replica1').shunned);
    relay.delayMs = 0;
    await waitFor('s0-replica1 back in rotation', () => health(slowProxy, 's0-replica1').healthy);
    expect(watch.closed).toBe(false);
    // The proxy waits for its clients when it closes.
    await Promise.all([weak.end(), eventual.end()]);
  }, 120_000);
});

describe("a user's own pool (not the service identity) and a killed replica", () => {
  // Probes too rare to see the kill during the test: only the user's own pool can shun.
  const ownProxy = useTwinProxy(() => fx, 'postgres', {
    routing: { lagPollIntervalMs: 600_000 },
    probed: true,
  });

  let ownClient: pg.Client | undefined;

  afterAll(async () => {
    // The PostgreSQL listener's close (useTwinProxy's, after this) waits for its clients to leave.
    await ownClient?.end().catch(() => undefined);
  });

  it('shuns the replica when the server closes its connections, and its reads move on', async () => {
    const c = await clientOf(ownProxy(), { user: OWN_USER.name, password: OWN_USER.password });
    ownClient = c;
    const watch = watchClose(c);
    const read = async () =>
      (
        await c.query<{ u: string; server: number; n: number }>(
          'SELECT current_user AS u, inet_server_port() AS server, count(*)::int AS n FROM likes WHERE user_id = 6',
        )
      ).rows[0]!;
    const slowPort = fx.cluster.server('s0-replica1').port;
    const expected = await likesOf(await fx.direct('s0-primary'), 6);
    // Eventual reads tie between idle replicas by name: s0-replica1, through the user's own pool.
    expect(await read()).toEqual({ u: OWN_USER.name, server: slowPort, n: expected });
    await expectOwnPoolShunsKilledReplica({
      replicaPools: () => ownProxy().topology.server('s0-replica1')!.pools.all(),
      killReplica: () => fx.cluster.killServer('s0-replica1'),
      restoreReplica: async () => {
        await fx.cluster.restartServer('s0-replica1');
        await fx.cluster.waitForReplay('s0-replica1', 30_000);
      },
      health: () => health(ownProxy(), 's0-replica1'),
      read,
      expected,
      killed: slowPort,
      watch,
    });
  }, 120_000);
});

describe('holding writes through a failover (routing.holdWritesOnPrimaryLossMs)', () => {
  beforeAll(async () => {
    for (const r of REPLICAS) await fx.cluster.waitForReplay(r);
  }, 60_000);
  const holding = useTwinProxy(() => fx, 'postgres', {
    routing: { holdWritesOnPrimaryLossMs: 60_000 },
  });

  it('runs a write to a dead primary on the promoted replica instead of failing it', async () => {
    const writer = await clientOf(holding());
    const watch = watchClose(writer);
    await writer.query('INSERT INTO likes (id, user_id) VALUES (980010, 1)');
    await fx.cluster.killServer('s0-primary');
    let heldDone = false;
    const held = writer.query('INSERT INTO likes (id, user_id) VALUES (980011, 1)').finally(() => {
      heldDone = true;
    });
    await waitFor('the primary shunned', () => health(holding(), 's0-primary').shunned);
    expect(heldDone).toBe(false);
    const promoted = await fx.direct('s0-replica1');
    await promoted.query('SELECT pg_promote()');
    await held;
    const landed = await promoted.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM likes WHERE id = 980011',
    );
    expect(landed.rows[0]!.n).toBe(1);
    expect(watch.closed).toBe(false);
    await writer.end();
  }, 120_000);
});
