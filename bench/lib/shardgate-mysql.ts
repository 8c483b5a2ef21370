// shardgate as a MySQL-protocol benchmark target: a generated config with listen.mysql and one
// MySQL shard (the whole keyspace) in front of a MariaDB primary, sysbench's sbtest1..N tables
// sharded by `id` (they have no user_id), and a capability check: the front end must answer a
// real handshake and `SELECT 1`, else the target is skipped with a note saying why.
import mysql from 'mysql2/promise';
import { freePort, waitForPort } from './proc.js';
import { deepMerge, launchShardgateProcess } from './shardgate-process.js';
import type { MysqlEndpoint } from './sysbench.js';

/** What startShardgateMysql is given: the MariaDB behind it and how shardgate runs. */
export interface ShardgateMysqlOptions {
  backend: MysqlEndpoint;
  /** The user sysbench logs in as (mysql_native_password). */
  client: { user: string; password: string };
  tables: number;
  workers: number;
  poolSize: number;
  extra?: Record<string, unknown>;
  /** Another build's dist/src/cli/main.js (before/after comparisons); default this checkout's. */
  cliPath?: string;
  /** Milliseconds to wait for the proxy to listen (default 30 s; a loaded machine needs more). */
  startTimeoutMs?: number;
}

export interface ShardgateMysqlConfigOptions extends ShardgateMysqlOptions {
  postgresPort: number;
  mysqlPort: number;
  adminPort: number;
  /** The PostgreSQL side is unused, but the config needs a shard: a port nothing listens on. */
  unusedPostgresPort: number;
}

export function shardgateMysqlConfig(o: ShardgateMysqlConfigOptions): Record<string, unknown> {
  const tables: Record<string, unknown> = {};
  for (let i = 1; i <= o.tables; i++) tables[`sbtest${i}`] = { shardKey: 'id' };
  const base: Record<string, unknown> = {
    listen: {
      postgres: { host: '127.0.0.1', port: o.postgresPort },
      mysql: { host: '127.0.0.1', port: o.mysqlPort },
      admin: { host: '127.0.0.1', port: o.adminPort },
    },
    workers: o.workers,
    users: [
      {
        name: o.client.user,
        password: o.client.password,
        auth: 'scram-sha-256',
        mysqlAuth: 'mysql_native_password',
        // The benchmark compares proxies, not privileges: the backend's own user, as direct clients use.
        backend: 'service',
      },
    ],
    backend: {
      user: 'postgres',
      database: 'postgres',
      mysqlUser: o.backend.user,
      mysqlPassword: o.backend.password,
      mysqlDatabase: o.backend.database,
    },
    pool: { mode: 'transaction', size: o.poolSize },
    shards: [
      { name: 'pg-unused', keyRange: '-', primary: { host: '127.0.0.1', port: o.unusedPostgresPort } },
    ],
    mysqlShards: [
      {
        name: 'm0',
        keyRange: '-',
        protocol: 'mysql',
        primary: { host: o.backend.host, port: o.backend.port },
      },
    ],
    tables,
    routing: { enabled: true },
    log: { level: 'warn' },
  };
  return o.extra ? deepMerge(base, o.extra) : base;
}

/** Connects like a client and runs SELECT 1; the error message when it cannot. */
export async function probeMysql(endpoint: MysqlEndpoint, timeoutMs = 5_000): Promise<string | null> {
  let conn: mysql.Connection | null = null;
  try {
    conn = await mysql.createConnection({
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.user,
      password: endpoint.password,
      database: endpoint.database,
      connectTimeout: timeoutMs,
    });
    conn.on('error', () => undefined);
    const [rows] = await conn.query({ sql: 'SELECT 1 AS one', timeout: timeoutMs });
    const one = Array.isArray(rows) ? (rows[0] as { one?: unknown } | undefined)?.one : undefined;
    return Number(one) === 1 ? null : `SELECT 1 returned ${JSON.stringify(rows)}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

export interface ShardgateMysqlTarget {
  endpoint: MysqlEndpoint;
  version: string;
  /** The proxy's process, for CPU figures read from /proc. */
  pid: number | undefined;
  stop(): Promise<void>;
}

export type StartShardgateMysqlResult =
  | { ok: true; target: ShardgateMysqlTarget }
  | { ok: false; note: string };

/** Starts shardgate with a MySQL listener; skips (ok: false + note) when this build cannot serve it. */
export async function startShardgateMysql(
  options: ShardgateMysqlOptions,
): Promise<StartShardgateMysqlResult> {
  const [postgresPort, mysqlPort, adminPort, unusedPostgresPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const config = shardgateMysqlConfig({ ...options, postgresPort, mysqlPort, adminPort, unusedPostgresPort });
  const launched = await launchShardgateProcess({
    config,
    postgresPort,
    workers: options.workers,
    ...(options.cliPath ? { cliPath: options.cliPath } : {}),
    ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}),
  });
  if (!launched.ok) return launched;
  const proc = launched.process;
  const endpoint: MysqlEndpoint = {
    host: '127.0.0.1',
    port: mysqlPort,
    user: options.client.user,
    password: options.client.password,
    database: options.backend.database,
  };
  try {
    await waitForPort('127.0.0.1', mysqlPort, options.startTimeoutMs ?? 5_000, () => !proc.exited());
  } catch {
    await proc.stop();
    return {
      ok: false,
      note: `this shardgate build has no MySQL listener yet (listen.mysql on port ${mysqlPort} is not served): measuring direct only`,
    };
  }
  const problem = await probeMysql(endpoint);
  if (problem !== null) {
    await proc.stop();
    return { ok: false, note: `shardgate's MySQL front end does not answer a client yet: ${problem}` };
  }
  return {
    ok: true,
    target: {
      endpoint,
      version: `shardgate ${options.workers} worker${options.workers === 1 ? '' : 's'}`,
      pid: proc.pid,
      stop: () => proc.stop(),
    },
  };
}
