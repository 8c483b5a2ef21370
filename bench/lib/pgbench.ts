// Running pgbench and reading its summary. pgbench's own figures are used (tps without the
// initial connection time, average latency), so direct and proxied runs are measured the same way.
import { execFileSync } from 'node:child_process';
import { runCommand } from './proc.js';
import type { PgEndpoint } from './target.js';

export const PGBENCH_MODES = ['simple', 'extended', 'prepared'] as const;
export type PgbenchMode = (typeof PGBENCH_MODES)[number];
/** select: the built-in select-only script (-S); tpcb: the TPC-B-like default script. */
export type PgbenchScript = 'select' | 'tpcb';

export interface PgbenchFigures {
  tps: number;
  latencyAvgMs: number;
  /** Only printed by some pgbench versions/options. */
  latencyStddevMs: number | null;
  transactions: number | null;
  failedTransactions: number | null;
  initialConnectionMs: number | null;
  /** The target process's CPU (user + system, with its children) per transaction, in µs; null without one. */
  cpuUsPerTx?: number | null;
}

const num = (re: RegExp, text: string): number | null => {
  const m = re.exec(text);
  if (!m?.[1]) return null;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : null;
};

/**
 * Reads pgbench's summary. PostgreSQL 14+ prints "tps = N (without initial connection time)";
 * older versions print "(excluding connections establishing)". Returns null when no tps line is found.
 */
export function parsePgbenchOutput(text: string): PgbenchFigures | null {
  const tps =
    num(/^tps = ([0-9.]+) \(without initial connection time\)/m, text) ??
    num(/^tps = ([0-9.]+) \(excluding connections establishing\)/m, text);
  if (tps === null) return null;
  return {
    tps,
    latencyAvgMs: num(/^latency average = ([0-9.]+) ms/m, text) ?? Number.NaN,
    latencyStddevMs: num(/^latency stddev = ([0-9.]+) ms/m, text),
    transactions: num(/^number of transactions actually processed: (\d+)/m, text),
    failedTransactions: num(/^number of failed transactions: (\d+)/m, text),
    initialConnectionMs: num(/^initial connection time = ([0-9.]+) ms/m, text),
  };
}

export interface PgbenchRunSpec {
  endpoint: PgEndpoint;
  mode: PgbenchMode;
  clients: number;
  durationS: number;
  script: PgbenchScript;
}

export function pgbenchArgs(spec: PgbenchRunSpec): string[] {
  const e = spec.endpoint;
  const args = libpqArgs(e);
  if (spec.script === 'select') args.push('-S');
  args.push(
    '-T',
    String(spec.durationS),
    '-c',
    String(spec.clients),
    '-j',
    String(Math.max(1, Math.min(spec.clients, 2))),
    '-M',
    spec.mode,
    '-n',
    e.database,
  );
  return args;
}

/** -h -p -U of a libpq client (pgbench, psql) for the endpoint. */
export function libpqArgs(e: PgEndpoint): string[] {
  return ['-h', e.host, '-p', String(e.port), '-U', e.user];
}

/** libpq settings shared by every client run: no TLS (loopback), a bounded connect. */
export function libpqEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'shardgate-bench' };
}

export type PgbenchOutcome =
  | { ok: true; figures: PgbenchFigures; ms: number }
  | { ok: false; error: string; ms: number };

function tail(text: string, lines = 4): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/** Runs one pgbench; bounded by duration + 60 s. A run whose clients aborted is an error. */
export async function runPgbench(spec: PgbenchRunSpec): Promise<PgbenchOutcome> {
  const r = await runCommand('pgbench', pgbenchArgs(spec), {
    timeoutMs: (spec.durationS + 60) * 1000,
    env: libpqEnv(),
  });
  if (r.timedOut) return { ok: false, error: `pgbench timed out after ${r.ms} ms`, ms: r.ms };
  const figures = parsePgbenchOutput(r.stdout);
  if (r.code !== 0 || !figures) {
    return {
      ok: false,
      error: `pgbench exited ${r.code ?? r.signal}: ${tail(r.stderr || r.stdout)}`,
      ms: r.ms,
    };
  }
  return { ok: true, figures, ms: r.ms };
}

/** pgbench -i -s <scale> (quiet, server-side generation keeps it quick). */
export async function pgbenchInit(endpoint: PgEndpoint, scale: number): Promise<void> {
  const args = ['-i', '-s', String(scale), '-q', ...libpqArgs(endpoint), endpoint.database];
  const r = await runCommand('pgbench', args, { timeoutMs: 600_000, env: libpqEnv() });
  if (r.code !== 0) throw new Error(`pgbench -i failed: ${tail(r.stderr || r.stdout)}`);
}

/** Runs one statement with psql and returns its unaligned output. */
export async function psql(endpoint: PgEndpoint, sql: string, timeoutMs = 15_000): Promise<string> {
  const args = [...libpqArgs(endpoint), '-d', endpoint.database, '-XAtqc', sql];
  const r = await runCommand('psql', args, { timeoutMs, env: libpqEnv() });
  if (r.code !== 0) throw new Error(`psql: ${tail(r.stderr || r.stdout, 2)}`);
  return r.stdout.trim();
}

/** Retries a trivial query until the endpoint answers it (a listening port is not yet a working proxy). */
export async function waitForSql(endpoint: PgEndpoint, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
    try {
      await psql(endpoint, 'SELECT 1', 10_000);
      return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(
    `${endpoint.host}:${endpoint.port} did not answer SELECT 1 within ${timeoutMs} ms: ${last}`,
  );
}

/**
 * Waits until one select-only pgbench transaction succeeds against the proxy on 127.0.0.1:`port`
 * (database and user `bench`): the proxy is up and reaches its shard. Throws after about 20 s.
 */
export async function untilPgbenchConnects(pgbench: string, port: number): Promise<void> {
  const args = ['-S', '-n', '-t', '1', '-h', '127.0.0.1', '-p', String(port), '-U', 'bench', 'bench'];
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync(pgbench, args, { stdio: 'ignore' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`pgbench could not run a transaction through 127.0.0.1:${port} within 20 s`);
}
