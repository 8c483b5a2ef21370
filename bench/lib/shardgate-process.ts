// shardgate as a benchmark target: a generated YAML config (one shard in front of one primary,
// trust auth for the bench user) and `node dist/src/cli/main.js start` as a separate process,
// so the proxy's cost is measured as users run it (own process, its own workers).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort, outputDigest, ownedTempDir, startService, waitForPort, writeOwnedFile } from './proc.js';
import type { PgEndpoint, PgTarget } from './target.js';

/** The repository root: the nearest parent with shardgate's package.json (from bench/ or dist/bench/). */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'shardgate') return dir;
      } catch {
        // unreadable package.json: keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return process.cwd();
}

export function shardgateCliPath(root = repoRoot()): string {
  return join(root, 'dist', 'src', 'cli', 'main.js');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge for config overrides: objects merge key by key, anything else replaces. */
export function deepMerge(
  base: Record<string, unknown>,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

export interface ShardgateBenchConfigOptions {
  postgresPort: number;
  adminPort: number;
  backend: PgEndpoint;
  /** The user pgbench connects as (trust auth in shardgate). */
  benchUser: string;
  workers: number;
  poolSize?: number;
  extra?: Record<string, unknown>;
}

/** The config object written as YAML for the benchmark. */
export function shardgateBenchConfig(o: ShardgateBenchConfigOptions): Record<string, unknown> {
  const base: Record<string, unknown> = {
    listen: {
      postgres: { host: '127.0.0.1', port: o.postgresPort },
      admin: { host: '127.0.0.1', port: o.adminPort },
    },
    workers: o.workers,
    users: [{ name: o.benchUser, password: '', auth: 'trust', backend: 'service' }],
    backend: { user: o.backend.user, database: o.backend.database },
    pool: { mode: 'transaction', size: o.poolSize ?? 20 },
    shards: [{ name: 's0', keyRange: '-', primary: { host: o.backend.host, port: o.backend.port } }],
    routing: { enabled: true },
    log: { level: 'warn' },
  };
  return o.extra ? deepMerge(base, o.extra) : base;
}

export interface StartShardgateOptions {
  backend: PgEndpoint;
  benchUser?: string;
  workers?: number;
  poolSize?: number;
  extra?: Record<string, unknown>;
  cliPath?: string;
  /** Milliseconds to wait for the PostgreSQL port (default 30 s). */
  startTimeoutMs?: number;
}

export type StartShardgateResult =
  | { ok: true; target: PgTarget; configYaml: string }
  | { ok: false; note: string };

export async function startShardgate(options: StartShardgateOptions): Promise<StartShardgateResult> {
  const cli = options.cliPath ?? shardgateCliPath();
  if (!existsSync(cli)) return { ok: false, note: `${cli} not found: run "npm run build" first` };
  const workers = options.workers ?? 2;
  const [postgresPort, adminPort] = [await freePort(), await freePort()];
  const config = shardgateBenchConfig({
    postgresPort,
    adminPort,
    backend: options.backend,
    benchUser: options.benchUser ?? options.backend.user,
    workers,
    poolSize: options.poolSize,
    extra: options.extra,
  });
  const launched = await launchShardgateProcess({
    config,
    postgresPort,
    workers,
    cliPath: cli,
    ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}),
  });
  if (!launched.ok) return launched;
  const { configYaml } = launched;
  return {
    ok: true,
    configYaml,
    target: {
      name: 'shardgate',
      host: '127.0.0.1',
      port: postgresPort,
      user: options.benchUser ?? options.backend.user,
      database: options.backend.database,
      version: `shardgate ${workers} worker${workers === 1 ? '' : 's'}`,
      unsupportedModes: {},
      ...(launched.process.pid !== undefined ? { pid: launched.process.pid } : {}),
      stop: launched.process.stop,
    },
  };
}

/** A shardgate child process started from a config object (see launchShardgateProcess). */
export interface ShardgateProcess {
  configYaml: string;
  /** For CPU figures read from /proc/<pid>/stat. */
  pid: number | undefined;
  /** The tail of its stdout and stderr, for error messages. */
  output(): string;
  exited(): boolean;
  /** SIGTERM (then SIGKILL), and removes the config's temp directory. */
  stop(): Promise<void>;
}

export interface LaunchShardgateOptions {
  /** The whole config; its listen ports must be set (use freePort). */
  config: Record<string, unknown>;
  /** The PostgreSQL port to wait for (the config's listen.postgres.port). */
  postgresPort: number;
  workers: number;
  cliPath?: string;
  /** Milliseconds to wait for the PostgreSQL port (default 30 s). */
  startTimeoutMs?: number;
}

/**
 * Writes the config as YAML to a private temp directory and runs `shardgate start` on it as a
 * separate process, as users run it; resolves once the PostgreSQL port accepts connections.
 */
function proxyNodeArgs(): string[] {
  return (process.env.SHARDGATE_BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}

export async function launchShardgateProcess(
  options: LaunchShardgateOptions,
): Promise<{ ok: true; configYaml: string; process: ShardgateProcess } | { ok: false; note: string }> {
  const cli = options.cliPath ?? shardgateCliPath();
  if (!existsSync(cli)) return { ok: false, note: `${cli} not found: run "npm run build" first` };
  const configYaml = stringify(options.config);
  const tmp = ownedTempDir('bench-shardgate-');
  const configPath = join(tmp.dir, 'shardgate.yaml');
  writeOwnedFile(configPath, configYaml);
  const service = startService(
    'shardgate',
    process.execPath,
    // SHARDGATE_BENCH_PROXY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the proxy.
    [...proxyNodeArgs(), cli, 'start', '--config', configPath, '--workers', String(options.workers)],
    { cwd: repoRoot() },
  );
  try {
    await waitForPort(
      '127.0.0.1',
      options.postgresPort,
      options.startTimeoutMs ?? 30_000,
      () => !service.exited(),
    );
  } catch (err) {
    await service.stop();
    tmp.remove();
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, note: `shardgate did not start: ${why}: ${outputDigest(service.output())}` };
  }
  return {
    ok: true,
    configYaml,
    process: {
      configYaml,
      pid: service.child.pid,
      output: () => service.output(),
      exited: () => service.exited(),
      async stop() {
        await service.stop();
        tmp.remove();
      },
    },
  };
}
