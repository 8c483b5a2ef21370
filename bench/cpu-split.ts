// Where the CPU per transaction of a pooler goes, user space against kernel: shardgate and
// PgBouncer (transaction pooling, pool 20) in front of one PostgreSQL, pgbench -S alternating
// between them, user and system time of each from /proc/<pid>/stat per transaction, and its
// context switches. On a shared 2-core machine the split says what a faster proxy must cut: the
// kernel's share is the same socket work for both, the user share is the proxy's own.
// Loopback only, bounded. Run: npx vite-node bench/cpu-split.ts
// (env: T=seconds per run, R=rounds, C=clients, M=simple|extended, POOL=YAML flow entries added to
// shardgate's pool section, e.g. 'multiplex: { enabled: false }')
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgToolPath } from '../src/local/pg-binaries.js';
import { startPostgresCluster } from '../src/local/postgres-cluster.js';
import { type PgbenchMode, pgbenchArgs } from './lib/pgbench.js';
import { startPgbenchShardgate } from './lib/pgbench-shardgate.js';
import { startPgbouncer } from './lib/pgbouncer.js';

const seconds = Number(process.env.T ?? 8);
const rounds = Number(process.env.R ?? 2);
const clients = Number(process.env.C ?? 16);
const mode = (process.env.M ?? 'extended') as PgbenchMode;
/** USER_HZ: /proc/<pid>/stat counts ticks of 10 ms. */
const MS_PER_TICK = 10;

interface Sample {
  userMs: number;
  systemMs: number;
  voluntary: number;
  involuntary: number;
}

function sample(pid: number): Sample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 'NaN');
  return {
    userMs: Number(fields[11]) * MS_PER_TICK,
    systemMs: Number(fields[12]) * MS_PER_TICK,
    voluntary: count('voluntary_ctxt_switches'),
    involuntary: count('nonvoluntary_ctxt_switches'),
  };
}

const cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'bench' });
const pgbench = await pgToolPath('pgbench');
const primary = cluster.shards[0]!.primary;
const dir = mkdtempSync(join(tmpdir(), 'shardgate-cpu-split-'));
const stops: Array<() => unknown> = [];
try {
  const shardgate = await startPgbenchShardgate({
    pgbench,
    primaryPort: primary.port,
    dir,
    ...(process.env.POOL ? { poolExtra: process.env.POOL } : {}),
  });
  stops.push(() => shardgate.child.kill('SIGKILL'));
  const bouncer = await startPgbouncer({
    backend: { host: '127.0.0.1', port: primary.port, user: 'postgres', database: 'bench' },
    poolSize: 20,
  });
  if (!bouncer.ok) throw new Error(`PgBouncer: ${bouncer.note}`);
  stops.push(() => bouncer.target.stop());
  const targets = [
    { name: 'shardgate', port: shardgate.port, user: 'bench', pid: shardgate.child.pid! },
    { name: 'pgbouncer', port: bouncer.target.port, user: 'postgres', pid: bouncer.target.pid! },
  ];
  const run = (t: (typeof targets)[number], durationS: number) => {
    const endpoint = { host: '127.0.0.1', port: t.port, user: t.user, database: 'bench' };
    const before = sample(t.pid);
    const out = execFileSync(pgbench, pgbenchArgs({ endpoint, mode, clients, durationS, script: 'select' }), {
      encoding: 'utf8',
    });
    const after = sample(t.pid);
    const n = Number(/processed: (\d+)/.exec(out)?.[1] ?? 'NaN');
    const perTx = (a: number, b: number, scale: number) =>
      (((b - a) * scale) / n).toFixed(scale === 1 ? 2 : 1);
    return (
      `${t.name}: ${(n / durationS).toFixed(0)} tps, user ${perTx(before.userMs, after.userMs, 1000)} us/tx, ` +
      `system ${perTx(before.systemMs, after.systemMs, 1000)} us/tx, voluntary switches ${perTx(before.voluntary, after.voluntary, 1)}/tx, ` +
      `involuntary ${perTx(before.involuntary, after.involuntary, 1)}/tx`
    );
  };
  // Warm the JIT and both pools, unmeasured.
  for (const t of targets) run(t, 2);
  console.log(
    `pgbench -S -M ${mode} -c ${clients}, ${seconds} s per run, ${rounds} rounds (user/system from /proc)`,
  );
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so drift on the machine hits both alike.
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) console.log(`  ${run(t, seconds)}`);
  }
} finally {
  for (const stop of stops.reverse()) await stop();
  await cluster.stop();
}
