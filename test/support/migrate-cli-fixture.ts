// A real `shardgate start` process (dist/) over a local PostgreSQL cluster with spare servers and
// the demo data, driven through the real `shardgate migrate` CLI: the common ground of the e2e
// tests that kill the proxy (SIGKILL) in the middle of a migration's copy and resume it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadDemoData } from '../../src/local/demo-data.js';
import { configForLocalShards, repoRoot } from '../../src/local/local-config.js';
import { withSuperuser } from '../../src/local/pg-superuser.js';
import { freePort, type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';

const cli = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface MigrateCliFixture {
  cluster: PostgresCluster;
  /** The proxy's PostgreSQL port. */
  pgPort: number;
  adminUrl: string;
  /** Runs `shardgate migrate ...` without blocking this worker's event loop (see test/support/chromium.ts). */
  migrate(...args: string[]): Promise<CliResult>;
  /** A session through the proxy as `app`; a killed proxy fails its next query (no unhandled error). */
  client(): Promise<pg.Client>;
  /** GET /api/migrations/<id>. */
  status<T>(id: string): Promise<T>;
  /** Kills the proxy with SIGKILL, waits for it to exit, and starts it again on the same config. */
  crashAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

export interface MigrateCliOptions {
  /** Names of the spare servers to add to the cluster (migration.spares). */
  spares: string[];
  /** Demo users to load (their posts and likes come along). */
  users: number;
  /** Runs on the cluster after the demo data, before the proxy starts. */
  prepare?: (cluster: PostgresCluster) => Promise<void>;
  /** More `migration` settings (over the throttled copy's). */
  migration?: Record<string, unknown>;
}

/** How long a (re)started `shardgate start` may take to answer /healthz: generous for a loaded machine. */
const START_WAIT_MS = 90_000;

/** Starts the cluster (2 shards, no replicas), loads the data, starts `shardgate start`. */
export async function startMigrateCliFixture(options: MigrateCliOptions): Promise<MigrateCliFixture> {
  const cluster = await startPostgresCluster({ shards: 2, replicasPerShard: 0, database: 'shardgate' });
  try {
    return await startOnCluster(cluster, options);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

async function startOnCluster(
  cluster: PostgresCluster,
  options: MigrateCliOptions,
): Promise<MigrateCliFixture> {
  const spares = [];
  for (const name of options.spares) spares.push(await cluster.addSpare(name));
  const dir = mkdtempSync(join(tmpdir(), 'sg-migrate-'));
  const pgPort = await freePort();
  const adminPort = await freePort();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const config = configForLocalShards(
    cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
    {
      database: 'shardgate',
      overrides: {
        admin: { token: 'test-token' },
        listen: {
          postgres: { host: '127.0.0.1', port: pgPort },
          admin: { host: '127.0.0.1', port: adminPort },
        },
        // Never the repository's .shardgate/history.
        observability: { history: { dir: join(dir, 'history') } },
        // Slow enough that the copy is still running when the proxy is killed.
        migration: {
          stateDir: join(dir, 'migrations'),
          rowsPerSecond: 1_500,
          batchRows: 100,
          spares: spares.map((s) => ({ name: s.name, host: s.host, port: s.port })),
          ...options.migration,
        },
      },
    },
  );
  await loadDemoData(config, { users: options.users });
  await options.prepare?.(cluster);
  const configFile = join(dir, 'shardgate.json');
  writeFileSync(configFile, JSON.stringify(config));

  let proxy: ChildProcess | null = null;
  let output = '';
  const startShardgate = async (): Promise<void> => {
    proxy = spawn(process.execPath, [cli, 'start', '--config', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SHARDGATE_LOG_LEVEL: 'warn' },
    });
    proxy.stdout?.on('data', (d) => (output += d));
    proxy.stderr?.on('data', (d) => (output += d));
    const started = proxy;
    const deadline = Date.now() + START_WAIT_MS;
    while (Date.now() < deadline) {
      if (started.exitCode !== null)
        throw new Error(`shardgate start exited (${started.exitCode}): ${output}`);
      const ok = await fetch(`${adminUrl}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await sleep(100);
    }
    throw new Error(
      `shardgate start did not answer ${adminUrl}/healthz within ${START_WAIT_MS} ms: ${output}`,
    );
  };
  await startShardgate();

  return {
    cluster,
    pgPort,
    adminUrl,
    migrate: (...args) =>
      new Promise((resolve) => {
        execFile(
          process.execPath,
          [cli, 'migrate', ...args, '--admin-url', adminUrl],
          {
            encoding: 'utf8',
            env: { ...process.env, SHARDGATE_ADMIN_TOKEN: 'test-token' },
            timeout: 120_000,
          },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
            resolve({ status: code, stdout, stderr });
          },
        );
      }),
    client: async () => {
      const c = new pg.Client({ connectionString: `postgres://app:app@127.0.0.1:${pgPort}/shardgate` });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    status: async (id) =>
      (
        await fetch(`${adminUrl}/api/migrations/${id}`, { headers: { authorization: 'Bearer test-token' } })
      ).json() as never,
    crashAndRestart: async () => {
      const running = proxy!;
      running.kill('SIGKILL');
      await new Promise((r) => running.once('exit', r));
      await startShardgate();
    },
    stop: async () => {
      proxy?.kill('SIGKILL');
      await cluster.stop();
    },
  };
}

/** The `n` column of a one-row query run as postgres directly on a server (not through the proxy). */
export async function countOn(port: number, sql: string): Promise<number> {
  return withSuperuser({ host: '127.0.0.1', port }, async (c) => Number((await c.query(sql)).rows[0].n));
}
