// The cache scenario's wire-level figure: pgbench (libpq, one client, no driver work in Node) runs
// a script of one statement for a few seconds at a time: the cached read (every execution after
// the first is a hit) and the same-shaped read of an uncached eventual table (a replica round trip
// through shardgate), alternated (the kind that goes first alternates per round), and the latter
// straight against that replica as well, for where the time goes. pgbench's own "latency average"
// of each run; the figures are medians over the rounds and the median of the per-round ratios.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libpqArgs, libpqEnv, parsePgbenchOutput } from '../lib/pgbench.js';
import { runCommand } from '../lib/proc.js';
import { median } from '../lib/stats.js';
import type { PgEndpoint } from '../lib/target.js';

export interface WireScript {
  sql: string;
  endpoint: PgEndpoint;
}

export interface PgbenchPairOptions {
  rounds: number;
  seconds: number;
  /** pgbench -M: simple (one Query message) or extended (Parse, Bind, Describe, Execute, Sync). */
  mode: 'simple' | 'extended';
}

export interface PgbenchPair {
  command: string;
  mode: 'simple' | 'extended';
  rounds: number;
  secondsPerRun: number;
  /** pgbench's latency average of each run, ms. */
  hitMs: number[];
  replicaMs: number[];
  directReplicaMs: number[];
  hitMedianMs: number;
  replicaMedianMs: number;
  directReplicaMedianMs: number;
  /** Replica read (through shardgate) median over hit median, and the median of per-round ratios. */
  speedup: number;
  speedupRoundMedian: number;
}

async function latencyMs(script: string, endpoint: PgEndpoint, o: PgbenchPairOptions): Promise<number> {
  const args = [
    ...libpqArgs(endpoint),
    '-n',
    '-M',
    o.mode,
    '-c',
    '1',
    '-T',
    String(o.seconds),
    '-f',
    script,
    endpoint.database,
  ];
  const r = await runCommand('pgbench', args, { timeoutMs: (o.seconds + 60) * 1000, env: libpqEnv() });
  const figures = parsePgbenchOutput(r.stdout);
  if (r.code !== 0 || figures === null || !Number.isFinite(figures.latencyAvgMs))
    throw new Error(`pgbench exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-400)}`);
  return figures.latencyAvgMs;
}

export async function pgbenchPair(
  run: { hit: WireScript; replica: WireScript; directReplica: WireScript },
  o: PgbenchPairOptions,
): Promise<PgbenchPair> {
  const dir = mkdtempSync(join(tmpdir(), 'shardgate-cache-pgbench-'));
  try {
    const file = (name: string, sql: string) => {
      const path = join(dir, `${name}.sql`);
      writeFileSync(path, `${sql};\n`);
      return path;
    };
    const scripts = {
      hit: file('hit', run.hit.sql),
      replica: file('replica', run.replica.sql),
      directReplica: file('direct', run.directReplica.sql),
    };
    const out = { hit: [] as number[], replica: [] as number[], directReplica: [] as number[] };
    const ratios: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const order: Array<keyof typeof out> =
        r % 2 === 0 ? ['hit', 'replica', 'directReplica'] : ['directReplica', 'replica', 'hit'];
      const round: Partial<Record<keyof typeof out, number>> = {};
      for (const kind of order) {
        const ms = await latencyMs(scripts[kind], run[kind].endpoint, o);
        round[kind] = ms;
        out[kind].push(ms);
      }
      ratios.push(round.replica! / round.hit!);
    }
    const hitMedianMs = median(out.hit);
    const replicaMedianMs = median(out.replica);
    return {
      command: `pgbench -n -M ${o.mode} -c 1 -T ${o.seconds} -f <script of one statement>`,
      mode: o.mode,
      rounds: o.rounds,
      secondsPerRun: o.seconds,
      hitMs: out.hit,
      replicaMs: out.replica,
      directReplicaMs: out.directReplica,
      hitMedianMs,
      replicaMedianMs,
      directReplicaMedianMs: median(out.directReplica),
      speedup: replicaMedianMs / hitMedianMs,
      speedupRoundMedian: median(ratios),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
