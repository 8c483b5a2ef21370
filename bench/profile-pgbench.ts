// Where the proxy's CPU goes under pgbench -S: one PostgreSQL, one shardgate (workers 1) started
// with --cpu-prof, pgbench for T seconds, then the profile's self time summed by function and by
// category (idle, GC, socket writes and reads, parsing, routing...). The "profile that explains the
// remaining cost" of the benchmark section. Loopback only, bounded by T.
// Run: npx vite-node bench/profile-pgbench.ts   (env: T=seconds, C=clients, M=simple|extended,
// TOP=functions listed, POOL=YAML flow entries added to the pool section, e.g. 'multiplex: { enabled: false }')
import { execFileSync, type spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pgToolPath } from '../src/local/pg-binaries.js';
import { startPostgresCluster } from '../src/local/postgres-cluster.js';
import { printCpuProfile } from './lib/cpu-profile.js';
import { type PgbenchMode, pgbenchArgs } from './lib/pgbench.js';
import { startPgbenchShardgate } from './lib/pgbench-shardgate.js';
import { processTreeCpuMs } from './lib/process-cpu.js';

const seconds = Number(process.env.T ?? 10);
const clients = Number(process.env.C ?? 16);
const mode = (process.env.M ?? 'extended') as PgbenchMode;
const top = Number(process.env.TOP ?? 25);
const root = resolve('.');

const cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'bench' });
const pgbench = await pgToolPath('pgbench');
const primary = cluster.shards[0]!.primary;
const profileDir = mkdtempSync(join(tmpdir(), 'shardgate-prof-'));
let child: ReturnType<typeof spawn> | undefined;
try {
  const started = await startPgbenchShardgate({
    pgbench,
    primaryPort: primary.port,
    dir: profileDir,
    ...(process.env.POOL ? { poolExtra: process.env.POOL } : {}),
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    stdio: 'inherit',
  });
  child = started.child;
  const port = started.port;
  const endpoint = { host: '127.0.0.1', port, user: 'bench', database: 'bench' };
  // Warm the JIT and the pool first; the profile then covers warm-up and run alike (short warm-up).
  execFileSync(pgbench, pgbenchArgs({ endpoint, mode, clients, durationS: 2, script: 'select' }), {
    stdio: 'ignore',
  });
  // The same run against PostgreSQL directly, for scale: on a loaded machine both move.
  const direct = execFileSync(
    pgbench,
    pgbenchArgs({
      endpoint: { host: '127.0.0.1', port: primary.port, user: 'postgres', database: 'bench' },
      mode,
      clients,
      durationS: seconds,
      script: 'select',
    }),
    { encoding: 'utf8' },
  );
  const directTps = Number(/tps = ([\d.]+)/.exec(direct)?.[1] ?? 'NaN');
  const cpu0 = processTreeCpuMs(child.pid);
  const out = execFileSync(
    pgbench,
    pgbenchArgs({ endpoint, mode, clients, durationS: seconds, script: 'select' }),
    {
      encoding: 'utf8',
    },
  );
  const cpu1 = processTreeCpuMs(child.pid);
  const transactions = Number(/processed: (\d+)/.exec(out)?.[1] ?? 'NaN');
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 'NaN');
  const cpuUs = cpu0 === null || cpu1 === null ? Number.NaN : ((cpu1 - cpu0) * 1000) / transactions;
  const exited = new Promise((r) => child!.once('exit', r));
  child.kill('SIGINT');
  await exited;
  child = undefined;

  console.log(
    `pgbench -S -M ${mode} -c ${clients}, ${seconds} s: ${tps.toFixed(0)} tps, proxy CPU ${cpuUs.toFixed(1)} us per transaction (direct: ${directTps.toFixed(0)} tps)`,
  );
  printCpuProfile(profileDir, root, top);
} finally {
  child?.kill('SIGKILL');
  await cluster.stop();
}
