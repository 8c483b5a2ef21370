// Starts a real local PostgreSQL topology, loads the demo schema, and runs shardgate in-process
// on a free port. Every integration test file uses one fixture and stops it in afterAll.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { loadDemoData } from '../../src/local/demo-data.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import { appLogin } from './app-login.js';
import { OpenedConnections, readEachServer, stopInOrder } from './opened-connections.js';

export interface ProxyFixture {
  cluster: PostgresCluster;
  proxy: ProxyHandle;
  config: ShardgateConfig;
  port: number;
  url(user?: string, password?: string, extra?: string): string;
  client(options?: Partial<pg.ClientConfig>): Promise<pg.Client>;
  /** A superuser client straight to a server, bypassing the proxy. */
  direct(serverName: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

export interface FixtureOptions {
  shards?: number;
  replicas?: number;
  overrides?: Record<string, unknown>;
  demoData?: boolean;
  /** Standalone primaries "spare1", "spare2", ... listed in migration.spares (split targets). */
  spares?: number;
  /** Streaming replicas of each spare ("spare1-replica1", ...), listed as the spare's replicas. */
  spareReplicas?: number;
  /** Extra postgresql.conf settings of every server (e.g. ssl). */
  serverSettings?: Record<string, string | number>;
  /** Servers check passwords of roles other than postgres (SCRAM over TCP), see postgres-cluster.ts. */
  passwordLogins?: boolean;
}

/**
 * Two shards of one primary each whose servers check the password of every role: the suites of
 * per-role logins (pg-roles, pg-two-phase-roles), where `app` and `reader` are their own roles.
 */
export const startRolesFixture = (overrides: Record<string, unknown>) =>
  startProxyFixture({ shards: 2, replicas: 0, passwordLogins: true, overrides });

export const TEST_USERS = [
  { name: 'app', password: 'app', auth: 'scram-sha-256', backend: 'service' },
  { name: 'md5user', password: 'secret5', auth: 'md5', backend: 'service' },
  { name: 'trusty', password: '', auth: 'trust', backend: 'service' },
  { name: 'operator', password: 'op', auth: 'scram-sha-256', routingOverrides: true, backend: 'service' },
];

/**
 * Shardgate's config for the PostgreSQL front end over a local cluster: its shards, the test
 * users, the client and admin listeners on free ports. `overrides` win over all of it.
 */
export function pgLocalConfig(cluster: PostgresCluster, overrides: Record<string, unknown>): ShardgateConfig {
  return configForLocalShards(
    cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
    {
      database: 'shardgate',
      overrides: {
        users: TEST_USERS,
        listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
        ...overrides,
      },
    },
  );
}

/** The first `n` demo users (by id) whose rows live on `server`, asked of the server itself. */
export async function demoUsersOn(
  fx: Pick<ProxyFixture, 'direct'>,
  server: string,
  n: number,
): Promise<number[]> {
  const d = await fx.direct(server);
  try {
    const r = await d.query<{ user_id: string }>(
      'SELECT DISTINCT user_id FROM users ORDER BY user_id LIMIT $1',
      [n],
    );
    return r.rows.map((row) => Number(row.user_id));
  } finally {
    await d.end();
  }
}

/** The gids of the transactions left prepared on these servers, server by server. */
export function preparedOn(fx: Pick<ProxyFixture, 'direct'>, servers: readonly string[]): Promise<string[]> {
  return readEachServer(fx.direct, servers, async (d) =>
    (await d.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts')).rows.map((row) => row.gid),
  );
}

/**
 * Inserts like `id` of `userId` straight on its shard's primary, behind the proxy (and its result
 * cache), then waits until that shard's first replica has it.
 */
export async function likeBehindTheProxy(fx: ProxyFixture, id: number, userId: number): Promise<void> {
  const shards = fx.config.shards.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange) }));
  const shard = shardForValue(fx.config.tables.likes!, String(userId), shards);
  const primary = await fx.direct(`${shard}-primary`);
  await primary.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [id, userId]);
  await fx.cluster.waitForReplay(`${shard}-replica1`);
}

export async function startProxyFixture(options: FixtureOptions = {}): Promise<ProxyFixture> {
  const cluster = await startPostgresCluster({
    shards: options.shards ?? 2,
    replicasPerShard: options.replicas ?? 1,
    database: 'shardgate',
    ...(options.serverSettings ? { settings: options.serverSettings } : {}),
    passwordLogins: options.passwordLogins ?? false,
  });
  try {
    const spares = [];
    for (let i = 1; i <= (options.spares ?? 0); i++)
      spares.push(await cluster.addSpare(`spare${i}`, options.spareReplicas ?? 0));
    const migrationOverrides = (options.overrides?.migration ?? {}) as Record<string, unknown>;
    const observabilityOverrides = (options.overrides?.observability ?? {}) as Record<string, unknown>;
    const config = pgLocalConfig(cluster, {
      routing: { lagPollIntervalMs: 20 },
      pool: { connectRetries: 1, connectBackoffMs: 50, checkoutTimeoutMs: 3_000 },
      ...(options.overrides ?? {}),
      observability: {
        ...observabilityOverrides,
        // Never the repo's .shardgate/: each test's history starts empty.
        history: {
          dir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-test-history-')),
          ...((observabilityOverrides.history ?? {}) as Record<string, unknown>),
        },
      },
      migration: {
        // Never the repo's .shardgate/: a migration left there would reshape every test's topology.
        stateDir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-test-migrations-')),
        ...migrationOverrides,
        spares: spares.map((sp) => ({
          name: sp.name,
          host: sp.host,
          port: sp.port,
          replicas: (cluster.spareReplicas.get(sp.name) ?? []).map((r) => ({
            name: r.name,
            host: r.host,
            port: r.port,
          })),
        })),
      },
    });
    await loadDemoData(config, { users: options.demoData === false ? 0 : 50 });
    const proxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: 0 });
    const port = proxy.postgres.port;
    const url = (user = 'app', password = 'app', extra = '') =>
      `postgres://${user}:${password}@127.0.0.1:${port}/shardgate${extra}`;
    const opened = new OpenedConnections<pg.Client>((c) => c.end().catch(() => undefined));
    return {
      cluster,
      proxy,
      config,
      port,
      url,
      async client(extra = {}) {
        const c = opened.quiet(new pg.Client({ ...appLogin(proxy), ...extra }));
        await c.connect();
        return opened.keep(c);
      },
      async direct(serverName: string) {
        const server = [
          ...cluster.shards.flatMap((s) => [s.primary, ...s.replicas]),
          ...cluster.spares,
          ...[...cluster.spareReplicas.values()].flat(),
        ].find((s) => s.name === serverName);
        if (!server) throw new Error(`no server ${serverName}`);
        const c = opened.quiet(
          new pg.Client({ host: server.host, port: server.port, user: 'postgres', database: 'shardgate' }),
        );
        await c.connect();
        return opened.keep(c);
      },
      stop: stopInOrder(opened, proxy, cluster),
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
