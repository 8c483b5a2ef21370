// The rest of issue 14's fault suite on the MySQL side (launcher-started MariaDB, 1 shard: a primary
// and two GTID replicas), with clients in both pool modes. Session pooling keeps the server's
// behaviour (docs/architecture.md, "Server faults"): a session whose own server connection is lost
// gets 2013 (BACKEND_DIED) and is closed, as a direct client would be; other sessions go on. A
// server that stops answering (SIGSTOP) fails its statement after routing.probeTimeoutMs instead
// of hanging it; kill -9 of every server gives coded errors and the session works again once the
// servers are back; injected latency (a relay in front of s0-replica1) steers weak reads to the
// nearer replica and fails statements slower than the probe timeout; a connection dropped under a
// statement (no server message) fails only that statement in transaction pooling.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import {
  everyServerProbed,
  expectMysqlShardUnreachable,
  expectOwnPoolShunsKilledReplica,
  expectShardBackAfterRestart,
  mysqlFailure as failure,
  mysqlHealth as health,
  mysqlLikesOf as likesOf,
  OWN_USER,
  resumeServers,
  startMysqlFaultFixture,
  startTwinProxy,
  useTwinProxy,
  watchMysqlClose as watchClose,
} from '../support/fault-helpers.js';
import { type LatencyRelay, replicaThroughRelay, startLatencyRelay } from '../support/latency-relay.js';
import type { MysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

let fx: MysqlProxyFixture;
let sessionProxy: ProxyHandle;
const SERVERS = ['s0-primary', 's0-replica1', 's0-replica2'];

const inRotation = (proxy: ProxyHandle, server: string) =>
  health(proxy, server).healthy && !health(proxy, server).shunned;

/** The server_id of the server that answered a read of `likes`, and the count it read. */
async function answeredBy(c: mysql.Connection, user: number, sleepSeconds = 0) {
  const [rows] = await c.query<RowDataPacket[]>(
    `SELECT SLEEP(${sleepSeconds}) AS s, @@server_id AS sid, count(*) AS n FROM likes WHERE user_id = ${user} /* fault-suite */`,
  );
  return { sid: Number(rows[0]!.sid), n: Number(rows[0]!.n) };
}

async function serverIdOf(server: string): Promise<number> {
  const [rows] = await (await fx.direct(server)).query<RowDataPacket[]>('SELECT @@server_id AS sid');
  return Number(rows[0]!.sid);
}

async function connectTo(proxy: ProxyHandle, consistency?: string): Promise<mysql.Connection> {
  const c = await fx.connect({ port: proxy.mysql!.port });
  if (consistency) await c.query(`SET shardgate.consistency = ${consistency}`);
  return c;
}

/**
 * `failing` fails with `errno` and a message like `message`, while `reads`, run beside it, all
 * read `expected`.
 */
async function expectLostWhileOthersRead(
  failing: Promise<unknown>,
  reads: Promise<number>[],
  expected: number,
  errno: number,
  message: RegExp,
): Promise<void> {
  const [lost, answers] = await Promise.all([failure(failing), Promise.all(reads)]);
  expect(lost.errno).toBe(errno);
  expect(lost.message).toMatch(message);
  expect(answers).toEqual(answers.map(() => expected));
}

/** A session through `proxy` (at `consistency`, if given) and whether it was closed. */
async function watchedSession(proxy: ProxyHandle, consistency?: string) {
  const c = await connectTo(proxy, consistency);
  return [c, watchClose(c)] as const;
}

beforeAll(async () => {
  fx = await startMysqlFaultFixture();
  sessionProxy = await startTwinProxy(fx.config, 'mysql', { pool: { mode: 'session' } });
  await everyServerProbed(sessionProxy, 'mysql');
}, 240_000);

afterAll(async () => {
  resumeServers(fx, SERVERS);
  await sessionProxy?.close();
  await fx?.stop();
});

describe('session pooling: a server that stops answering (SIGSTOP)', () => {
  it('fails the statement waiting on it with 2013 after probeTimeoutMs and closes that session; other sessions go on', async () => {
    const [owner, ownerWatch] = await watchedSession(sessionProxy);
    const [bystander, bystanderWatch] = await watchedSession(sessionProxy);
    const expected = await likesOf(await fx.direct('s0-primary'), 4);
    // The statements name the server that answered: a success would say where it ran.
    const inTransaction = 'SELECT @@server_id AS sid, count(*) AS n FROM users';
    await owner.query('BEGIN');
    await owner.query(inTransaction);
    expect(await likesOf(bystander, 4)).toBe(expected);
    // Frozen means every thread stopped: kill(2) returns before mariadbd's threads have.
    await fx.cluster.freezeServer('s0-primary');
    try {
      // The client owned the connection: a coded error, then closed, as the server's own loss would.
      await expectLostWhileOthersRead(
        owner.query(inTransaction),
        Array.from({ length: 10 }, () => likesOf(bystander, 4)),
        expected,
        2013,
        /s0-primary of shard s0 was lost.*no answer from the server for 500 ms/,
      );
    } finally {
      fx.cluster.signalServer('s0-primary', 'SIGCONT');
    }
    await waitFor('the session closed', () => ownerWatch.closed, 10_000);
    await waitFor('the primary back in rotation', () => inRotation(sessionProxy, 's0-primary'));
    await bystander.query('INSERT INTO likes (id, user_id, post_id) VALUES (970001, 4, 1)');
    const [written] = await (await fx.direct('s0-primary')).query<RowDataPacket[]>(
      'SELECT count(*) AS n FROM likes WHERE id = 970001',
    );
    expect(Number(written[0]!.n)).toBe(1);
    expect(bystanderWatch.closed).toBe(false);
  }, 120_000);
});

describe('session pooling: kill -9 of every server of the shard', () => {
  it('closes the sessions whose servers died with 2013; others get coded errors and work again when the servers are back', async () => {
    const [owner, ownerWatch] = await watchedSession(sessionProxy);
    const before = await likesOf(owner, 1);
    const [later, laterWatch] = await watchedSession(sessionProxy);
    for (const s of SERVERS) await fx.cluster.killServer(s);
    // It held a connection to a server that died: closed, told why.
    await waitFor('the owning session closed', () => ownerWatch.closed, 10_000);
    expect(ownerWatch.told.join('\n')).toMatch(/s0-\w+ of shard s0 was lost.*reconnect and retry/);
    // It held none: each statement gets a coded error and the session stays.
    await expectMysqlShardUnreachable(
      () => likesOf(later, 1),
      () => later.query('INSERT INTO likes (id, user_id, post_id) VALUES (970005, 1, 1)'),
    );
    await expectShardBackAfterRestart({
      restartServer: (s) => fx.cluster.restartServer(s),
      servers: SERVERS,
      inRotation: (s) => inRotation(sessionProxy, s),
      write: () => later.query('INSERT INTO likes (id, user_id, post_id) VALUES (970005, 1, 1)'),
      likes: () => likesOf(later, 1),
      freshLikes: async () => likesOf(await connectTo(sessionProxy), 1),
      before,
    });
    expect(laterWatch.closed).toBe(false);
  }, 180_000);
});

describe('injected latency and dropped connections (a relay in front of s0-replica1)', () => {
  let relay: LatencyRelay;
  let slowPooled: ProxyHandle;
  let slowSession: ProxyHandle;
  let nearId: number;
  let slowId: number;
  const proxies = () => [slowPooled, slowSession];

  beforeAll(async () => {
    for (const r of ['s0-replica1', 's0-replica2']) await fx.cluster.waitForReplication(r);
    relay = await startLatencyRelay(fx.cluster.server('s0-replica1'), 30);
    const config: ShardgateConfig = {
      ...fx.config,
      mysqlShards: replicaThroughRelay(fx.config.mysqlShards, 's0-replica1', relay),
    };
    const options = { log: silentLogger(), postgresPort: 0, mysqlPort: 0, adminPort: null };
    slowPooled = await startProxy(config, options);
    slowSession = await startProxy({ ...config, pool: { ...config.pool, mode: 'session' } }, options);
    nearId = await serverIdOf('s0-replica2');
    slowId = await serverIdOf('s0-replica1');
  }, 60_000);

  afterAll(async () => {
    await relay?.close();
    await slowPooled?.close();
    await slowSession?.close();
  });

  /** Back to no delay, s0-replica1 in rotation again on both proxies. */
  async function heal(): Promise<void> {
    relay.delayMs = 0;
    await waitFor('s0-replica1 back in rotation', () => proxies().every((p) => inRotation(p, 's0-replica1')));
  }

  /** `check` while s0-replica1 answers 5 s late (past probeTimeoutMs), then `heal`, whatever happened. */
  async function whileReplicaStalls(check: () => Promise<void>): Promise<void> {
    relay.delayMs = 5_000;
    try {
      await check();
    } finally {
      await heal();
    }
  }

  it('sends weak reads to the replica with the lowest round trip, in both pool modes', async () => {
    await waitFor('the slow replica measured', () =>
      proxies().every((p) => {
        const slow = health(p, 's0-replica1').rttMs;
        const near = health(p, 's0-replica2').rttMs;
        return slow !== null && near !== null && slow > near * 4;
      }),
    );
    for (const proxy of proxies()) {
      const weak = await connectTo(proxy, 'weak');
      // Without the round trip, the tie between idle replicas goes by name, to s0-replica1.
      for (let i = 0; i < 20; i++) expect((await answeredBy(weak, (i % 50) + 1)).sid).toBe(nearId);
      const eventual = await connectTo(proxy);
      expect((await answeredBy(eventual, 1)).sid).toBe(slowId);
      // Session pooling counts a held connection as load: none left behind for the next tests.
      await Promise.all([weak.end(), eventual.end()]);
    }
  }, 60_000);

  it('transaction pooling: a statement slower than probeTimeoutMs fails the transaction with 1213; reads outside one are answered elsewhere; the session goes on', async () => {
    const [c, watch] = await watchedSession(slowPooled);
    const expected = await likesOf(await fx.direct('s0-primary'), 2);
    await c.query('START TRANSACTION READ ONLY');
    expect((await answeredBy(c, 2)).sid).toBe(slowId);
    const readers = await Promise.all(Array.from({ length: 6 }, () => connectTo(slowPooled)));
    await whileReplicaStalls(async () => {
      await expectLostWhileOthersRead(
        c.query('SELECT count(*) AS n FROM likes WHERE user_id = 2'),
        readers.map((r) => likesOf(r, 2)),
        expected,
        1213,
        /lost inside the transaction \(no answer from the server for 500 ms\)/,
      );
      await c.query('ROLLBACK');
      expect(await likesOf(c, 2)).toBe(expected);
      expect(watch.closed).toBe(false);
    });
  }, 120_000);

  it('session pooling: a statement slower than probeTimeoutMs fails with 2013 and closes that session; others go on', async () => {
    const [owner, ownerWatch] = await watchedSession(slowSession);
    const [bystander, bystanderWatch] = await watchedSession(slowSession, 'weak');
    const expected = await likesOf(await fx.direct('s0-primary'), 2);
    // A read-only transaction stays on the replica its first read went to.
    await owner.query('START TRANSACTION READ ONLY');
    expect((await answeredBy(owner, 2)).sid).toBe(slowId);
    await whileReplicaStalls(async () => {
      await expectLostWhileOthersRead(
        owner.query('SELECT count(*) AS n FROM likes WHERE user_id = 2'),
        Array.from({ length: 10 }, () => likesOf(bystander, 2)),
        expected,
        2013,
        /s0-replica1 of shard s0 was lost.*no answer from the server for 500 ms/,
      );
      await waitFor('the owning session closed', () => ownerWatch.closed, 10_000);
      expect(bystanderWatch.closed).toBe(false);
    });
  }, 120_000);

  it('a connection dropped under a read: run elsewhere in transaction pooling; 2013 and closed in session pooling', async () => {
    const [pooled, pooledWatch] = await watchedSession(slowPooled);
    const [owner, ownerWatch] = await watchedSession(slowSession);
    const [bystander, bystanderWatch] = await watchedSession(slowSession, 'weak');
    const expected = await likesOf(await fx.direct('s0-primary'), 3);
    const retriesBefore = slowPooled.mysql!.topology.faultCounters.readRetries;
    const pooledRead = answeredBy(pooled, 3, 2);
    const ownerRead = failure(answeredBy(owner, 3, 2));
    const direct = await fx.direct('s0-replica1');
    await waitFor('both reads running on s0-replica1', async () => {
      const [p] = await direct.query<RowDataPacket[]>(
        "SELECT count(*) AS n FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(2)%fault-suite%'",
      );
      return Number(p[0]!.n) === 2;
    });
    expect(relay.dropConnections()).toBeGreaterThan(0);
    try {
      // Transaction pooling: nothing reached the client, so the read ran on another server.
      const again = await pooledRead;
      expect(again.n).toBe(expected);
      expect(again.sid).not.toBe(slowId);
      expect(slowPooled.mysql!.topology.faultCounters.readRetries).toBeGreaterThan(retriesBefore);
      expect(pooledWatch.closed).toBe(false);
      // Session pooling: as a direct client whose connection broke.
      const lost = await ownerRead;
      expect(lost.errno).toBe(2013);
      expect(lost.message).toMatch(/s0-replica1 of shard s0 was lost during the query/);
      await waitFor('the owning session closed', () => ownerWatch.closed, 10_000);
      expect(await likesOf(bystander, 3)).toBe(expected);
      expect(bystanderWatch.closed).toBe(false);
    } finally {
      await heal();
    }
  }, 120_000);
});

describe("a user's own pool (not the service identity) and a killed replica", () => {
  // Probes too rare to see the kill during the test: only the user's own pool can shun.
  const ownProxy = useTwinProxy(() => fx, 'mysql', { routing: { lagPollIntervalMs: 600_000 }, probed: true });

  it('shuns the replica when the server closes its connections, and its reads move on', async () => {
    const c = await fx.connect({
      port: ownProxy().mysql!.port,
      user: OWN_USER.name,
      password: OWN_USER.password,
    });
    const watch = watchClose(c);
    const [who] = await c.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
    expect(who[0]!.u).toBe(`${OWN_USER.name}@%`);
    const slowId = await serverIdOf('s0-replica1');
    const expected = await likesOf(await fx.direct('s0-primary'), 6);
    // Eventual reads tie between idle replicas by name: s0-replica1, through the user's own pool.
    expect(await answeredBy(c, 6)).toEqual({ sid: slowId, n: expected });
    await expectOwnPoolShunsKilledReplica({
      replicaPools: () => ownProxy().mysql!.topology.server('s0-replica1')!.pools.all(),
      killReplica: () => fx.cluster.killServer('s0-replica1'),
      restoreReplica: async () => {
        await fx.cluster.restartServer('s0-replica1');
        await fx.cluster.waitForReplication('s0-replica1', 30_000);
      },
      health: () => health(ownProxy(), 's0-replica1'),
      read: async () => {
        const { sid, n } = await answeredBy(c, 6);
        return { server: sid, n };
      },
      expected,
      killed: slowId,
      watch,
    });
  }, 120_000);
});
