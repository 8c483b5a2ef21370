// pgbench with its per-transaction log (--log): the summary figures plus latency percentiles of
// every transaction of the run, which pgbench's summary does not print (it gives the average).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  libpqEnv,
  type PgbenchFigures,
  type PgbenchRunSpec,
  parsePgbenchOutput,
  pgbenchArgs,
} from './pgbench.js';
import { runCommand } from './proc.js';
import { percentile } from './stats.js';

export interface LatencyFigures {
  transactions: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Latencies in µs from pgbench log lines ("client_id transaction_no time script_no time_epoch
 * time_us ..."); the third field is the latency, or "failed"/"skipped" (left out).
 */
export function parsePgbenchLog(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[2];
    if (field === undefined) continue;
    const us = Number(field);
    if (field !== '' && Number.isFinite(us)) out.push(us);
  }
  return out;
}

export function latencyFigures(latenciesUs: readonly number[]): LatencyFigures {
  const ms = latenciesUs.map((us) => us / 1000);
  return {
    transactions: ms.length,
    p50Ms: percentile(ms, 50),
    p90Ms: percentile(ms, 90),
    p99Ms: percentile(ms, 99),
    maxMs: ms.reduce((a, b) => Math.max(a, b), 0),
  };
}

export type LoggedPgbenchOutcome =
  | { ok: true; figures: PgbenchFigures; latency: LatencyFigures }
  | { ok: false; error: string };

/** One pgbench run with --log into a private directory (removed after); bounded by duration + 60 s. */
export async function runPgbenchLogged(spec: PgbenchRunSpec): Promise<LoggedPgbenchOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pgbench-log-'));
  try {
    const args = ['--log', `--log-prefix=${join(dir, 'tx')}`, ...pgbenchArgs(spec)];
    const r = await runCommand('pgbench', args, { timeoutMs: (spec.durationS + 60) * 1000, env: libpqEnv() });
    const figures = parsePgbenchOutput(r.stdout);
    if (r.timedOut || r.code !== 0 || !figures) {
      const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      return {
        ok: false,
        error: `pgbench exited ${r.timedOut ? 'on timeout' : (r.code ?? r.signal)}: ${why}`,
      };
    }
    const latencies: number[] = [];
    for (const file of readdirSync(dir))
      latencies.push(...parsePgbenchLog(readFileSync(join(dir, file), 'utf8')));
    if (latencies.length === 0) return { ok: false, error: 'pgbench wrote no per-transaction log lines' };
    return { ok: true, figures, latency: latencyFigures(latencies) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
