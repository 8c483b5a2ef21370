// What the server-fault tests of both front ends share: a server's health as the lag monitor
// sees it, whether a client connection was closed (and what it was told), a rejected statement's
// errno, and the likes a user holds (the row count the faults must not change).
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { MYSQL_TEST_USERS, type MysqlProxyFixture, startMysqlProxyFixture } from './mysql-proxy-fixture.js';
import { waitFor } from './wait-for.js';

/** The PostgreSQL lag monitor's health of `server`. */
export function pgHealth(proxy: ProxyHandle, server: string) {
  const h = proxy.topology.monitor.health().find((x) => x.name === server);
  if (!h) throw new Error(`no health for ${server}`);
  return h;
}

/** The MySQL lag monitor's health of `server`. */
export function mysqlHealth(proxy: ProxyHandle, server: string) {
  const h = proxy.mysql!.topology.monitor.health().find((x) => x.name === server);
  if (!h) throw new Error(`no health for ${server}`);
  return h;
}

/** Whether the PostgreSQL client connection was closed. */
export function watchPgClose(c: pg.Client): { closed: boolean } {
  const state = { closed: false };
  c.on('end', () => {
    state.closed = true;
  });
  return state;
}

/** Whether the MySQL client connection was closed, and what it was told on its way out. */
export function watchMysqlClose(c: mysql.Connection): { closed: boolean; told: string[] } {
  const state = { closed: false, told: [] as string[] };
  c.on('end', () => {
    state.closed = true;
  });
  // mysql2 emits 'error' (not 'end') when the server closes on it.
  // An ERR the server sends unasked (mysql2 keeps its message, not its errno) comes as 'error' too.
  c.on('error', (err: Error) => {
    state.closed = true;
    state.told.push(err.message);
  });
  return state;
}

/** The errno and message of a rejected MySQL query; a success fails the test with its rows. */
export async function mysqlFailure(p: Promise<unknown>): Promise<{ errno: number; message: string }> {
  let answer: unknown;
  try {
    answer = await p;
  } catch (err) {
    const e = err as { errno?: number; message?: string };
    return { errno: e.errno ?? -1, message: e.message ?? String(err) };
  }
  // mysql2 resolves [rows, fields]: the rows say which server answered when they hold @@server_id.
  const rows = Array.isArray(answer) ? answer[0] : answer;
  throw new Error(`the statement succeeded: ${JSON.stringify(rows)}`);
}

/**
 * With every server of shard s0 down, a read and then a write (each started when called) fail
 * with 2003 (cannot reach), each telling the client to retry shortly.
 */
export async function expectMysqlShardUnreachable(
  read: () => Promise<unknown>,
  write: () => Promise<unknown>,
): Promise<void> {
  const refusedRead = await mysqlFailure(read());
  expect(refusedRead.errno).toBe(2003);
  expect(refusedRead.message).toMatch(/cannot reach .* of shard s0.*retry shortly/);
  const refusedWrite = await mysqlFailure(write());
  expect(refusedWrite.errno).toBe(2003);
  expect(refusedWrite.message).toMatch(/retry shortly/);
}

/** The likes of `user`, read through a MySQL connection. */
export const mysqlLikesOf = async (c: mysql.Connection, user: number) =>
  Number(
    (await c.query<RowDataPacket[]>('SELECT count(*) AS n FROM likes WHERE user_id = ?', [user]))[0][0]!.n,
  );

/** The likes of `user`, read through a PostgreSQL connection. */
export const pgLikesOf = async (c: pg.Client, user: number) =>
  (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM likes WHERE user_id = $1', [user])).rows[0]!
    .n;

/** A user reaching the servers as its own user (its pools are not the service identity's). */
export const OWN_USER = { name: 'reader', password: 'reader-pw' };

/**
 * One MariaDB shard (a primary, two replicas in sync) probed often, with a 500 ms probe timeout;
 * OWN_USER besides the service users (the demo loader creates its server user).
 */
export async function startMysqlFaultFixture(): Promise<MysqlProxyFixture> {
  const fx = await startMysqlProxyFixture({
    shards: 1,
    replicas: 2,
    overrides: {
      routing: { lagPollIntervalMs: 20, probeTimeoutMs: 500 },
      users: [...MYSQL_TEST_USERS, { ...OWN_USER, mysqlAuth: 'mysql_native_password' }],
    },
  });
  await fx.cluster.waitForReplication('s0-replica1');
  await fx.cluster.waitForReplication('s0-replica2');
  return fx;
}

/** SIGCONT to every server a test may have stopped (those not running are passed over). */
export function resumeServers(fx: MysqlProxyFixture | undefined, names: readonly string[]): void {
  for (const name of names) {
    try {
      fx?.cluster.signalServer(name, 'SIGCONT');
    } catch {
      // Not running.
    }
  }
}

/** What the killed-replica test of a user's own pool is given by each front end's test. */
export interface OwnPoolKill {
  /** s0-replica1's pools on the user's proxy: the service identity's first. */
  replicaPools(): ReadonlyArray<{ stats(): { total: number; idle: number } }>;
  killReplica(): Promise<void>;
  /** Restarts it and waits until it has caught up. */
  restoreReplica(): Promise<void>;
  health(): { shunned: boolean; shunReason: string | null };
  /** A read of the likes through the user's session, and which server answered. */
  read(): Promise<{ n: number; server: number }>;
  expected: number;
  /** How `read` names s0-replica1. */
  killed: number;
  watch: { closed: boolean };
}

/**
 * Only the user's own pool holds a connection to s0-replica1 (idle); killing the replica closes
 * it, which shuns the replica at once (not at the next probe), and the session's reads move on.
 */
export async function expectOwnPoolShunsKilledReplica(t: OwnPoolKill): Promise<void> {
  const [service, ...own] = t.replicaPools();
  expect(service!.stats().total).toBe(0);
  expect(own.map((p) => p.stats().idle)).toEqual([1]);
  await t.killReplica();
  try {
    await waitFor('s0-replica1 shunned', () => t.health().shunned, 10_000);
    expect(t.health().shunReason).toMatch(/closed a pooled connection|ECONNREFUSED/);
    for (let i = 0; i < 10; i++) {
      const read = await t.read();
      expect(read.n).toBe(t.expected);
      expect(read.server).not.toBe(t.killed);
    }
    expect(t.watch.closed).toBe(false);
  } finally {
    await t.restoreReplica();
  }
}

/** The end of a kill -9 of every server of shard s0, on either front end. */
export interface ShardRestart {
  restartServer(name: string): Promise<unknown>;
  servers: readonly string[];
  /** Whether the proxy has the server in rotation again. */
  inRotation(server: string): boolean;
  /** The write refused while the servers were down, sent again. */
  write(): Promise<unknown>;
  /** User 1's likes, read on the session that wrote or another that stayed. */
  likes(): Promise<number>;
  /** User 1's likes, read on a session opened now. */
  freshLikes(): Promise<number>;
  /** User 1's likes before the kill. */
  before: number;
}

/** Every server restarted and back in rotation; the write sent again is read back, also by a new session. */
export async function expectShardBackAfterRestart(t: ShardRestart): Promise<void> {
  for (const s of t.servers) await t.restartServer(s);
  await waitFor('every server back in rotation', () => t.servers.every((s) => t.inRotation(s)), 60_000);
  await t.write();
  await waitFor('the write read back', async () => (await t.likes()) === t.before + 1);
  expect(await t.freshLikes()).toBe(t.before + 1);
}

/** Which front end a fault test drives: the second proxy listens on it, its monitor is the one read. */
export type FaultFront = 'postgres' | 'mysql';

/** What a twin proxy changes in its fixture's config. */
type TwinChange = { pool?: Partial<ShardgateConfig['pool']>; routing?: Partial<ShardgateConfig['routing']> };

/**
 * A second shardgate on the servers of a fixture's `config`, with its pool or routing settings
 * changed (a session-pooling or write-holding twin); its admin server off unless `adminPort` says.
 */
export function startTwinProxy(
  config: ShardgateConfig,
  front: FaultFront,
  change: TwinChange,
  adminPort: number | null = null,
): Promise<ProxyHandle> {
  return startProxy(
    {
      ...config,
      pool: { ...config.pool, ...change.pool },
      routing: { ...config.routing, ...change.routing },
    },
    { log: silentLogger(), postgresPort: 0, ...(front === 'mysql' ? { mysqlPort: 0 } : {}), adminPort },
  );
}

/** Waits until the lag monitor of `front` has a position for every server (each was probed once). */
export function everyServerProbed(proxy: ProxyHandle, front: FaultFront): Promise<void> {
  const monitor = front === 'mysql' ? proxy.mysql!.topology.monitor : proxy.topology.monitor;
  return waitFor('every server probed', () => monitor.health().every((h) => h.position !== null));
}

/**
 * A twin proxy (startTwinProxy) of the fixture's for the enclosing describe: started before its
 * tests (with `probed`, once every server was probed), closed after them; the function returned
 * gives it.
 */
export function useTwinProxy(
  fixture: () => { config: ShardgateConfig },
  front: FaultFront,
  twin: TwinChange & { probed?: boolean; adminPort?: number | null },
): () => ProxyHandle {
  let proxy: ProxyHandle | undefined;
  beforeAll(async () => {
    proxy = await startTwinProxy(fixture().config, front, twin, twin.adminPort ?? null);
    if (twin.probed) await everyServerProbed(proxy, front);
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
  });
  return () => proxy!;
}
