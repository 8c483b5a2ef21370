// pgbench -S through two shardgate builds in front of the same PostgreSQL, alternating, medians:
// the before/after figure for a change on the hot path. BEFORE and AFTER are repository checkouts
// with dist/ built (e.g. a `git worktree` of the previous commit). Loopback only, bounded.
// Run: BEFORE=/path/old AFTER=. npx vite-node bench/ab-builds.ts
// (env: T=seconds per run, R=repeats, C=clients list, M=modes list; EXTRA=YAML appended to both
// proxies' configs, WARM_SQL=a statement run once through each proxy before measuring, e.g. to put
// an entry in the result cache; POOL_BEFORE / POOL_AFTER=YAML flow entries added to one build's pool
// section, e.g. POOL_AFTER='multiplex: { enabled: true }'; NODE_ARGS_BEFORE / NODE_ARGS_AFTER=flags
// for one build's node process, e.g. NODE_ARGS_AFTER=--single-threaded-gc with BEFORE=AFTER)
// Besides TPS it prints each proxy's CPU per transaction (user + system from /proc, medians): on a
// shared machine TPS moves with the neighbours' load, CPU per transaction much less.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pgToolPath } from '../src/local/pg-binaries.js';
import { freePort } from '../src/local/ports.js';
import { startPostgresCluster } from '../src/local/postgres-cluster.js';
import { type PgbenchMode, pgbenchArgs, untilPgbenchConnects } from './lib/pgbench.js';
import { processTreeCpuMs } from './lib/process-cpu.js';

const seconds = process.env.T ?? '5';
const repeats = Number(process.env.R ?? 3);
const clientsList = (process.env.C ?? '1,16').split(',');
const modes = (process.env.M ?? 'simple,extended').split(',');
const builds = { before: resolve(process.env.BEFORE ?? ''), after: resolve(process.env.AFTER ?? '.') };
if (!process.env.BEFORE) throw new Error('set BEFORE to a checkout of the older build (with dist/ built)');

const cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'bench' });
const pgbench = await pgToolPath('pgbench');
const primary = cluster.shards[0]!.primary;
execFileSync(
  pgbench,
  ['-i', '-s', '10', '-q', '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', 'bench'],
  {
    stdio: 'ignore',
  },
);

/** POOL_BEFORE / POOL_AFTER: what differs between the two builds' pool sections (e.g. multiplexing). */
function poolExtra(name: string): string {
  const extra = process.env[`POOL_${name.toUpperCase()}`];
  return extra ? `, ${extra}` : '';
}

/** NODE_ARGS_BEFORE / NODE_ARGS_AFTER: Node or V8 flags for one build's process (e.g. --single-threaded-gc). */
function nodeArgs(name: string): string[] {
  return (process.env[`NODE_ARGS_${name.toUpperCase()}`] ?? '').split(' ').filter(Boolean);
}

async function startProxy(name: string, root: string) {
  const port = await freePort();
  // Per run: two runs side by side must not start each other's configs.
  const file = `/tmp/shardgate-ab-${process.pid}-${name}.yaml`;
  writeFileSync(
    file,
    `listen: { postgres: { host: 127.0.0.1, port: ${port} }, admin: { host: 127.0.0.1, port: ${await freePort()} } }
users: [{ name: bench, password: '', auth: trust, backend: service }]
backend: { user: postgres, database: bench }
pool: { mode: transaction, size: 20${poolExtra(name)} }
shards:
  - { name: s0, keyRange: '-', primary: { host: 127.0.0.1, port: ${primary.port} } }
log: { level: warn }
${process.env.EXTRA ?? ''}
`,
  );
  const child = spawn(
    process.execPath,
    [...nodeArgs(name), join(root, 'dist', 'src', 'cli', 'main.js'), 'start', '--config', file],
    {
      stdio: 'inherit',
    },
  );
  await untilPgbenchConnects(pgbench, port);
  const warmSql = process.env.WARM_SQL;
  if (warmSql) {
    const psql = await pgToolPath('psql');
    execFileSync(psql, ['-h', '127.0.0.1', '-p', String(port), '-U', 'bench', '-c', warmSql, 'bench'], {
      stdio: 'ignore',
    });
  }
  return { port, child };
}

const proxies = {
  before: await startProxy('before', builds.before),
  after: await startProxy('after', builds.after),
};
/** One pgbench run through a proxy: its TPS and the proxy's CPU microseconds per transaction. */
const run = (proxy: { port: number; child: { pid?: number | undefined } }, mode: string, clients: string) => {
  const port = proxy.port;
  const cpuBefore = processTreeCpuMs(proxy.child.pid);
  const out = execFileSync(
    pgbench,
    pgbenchArgs({
      endpoint: { host: '127.0.0.1', port, user: 'bench', database: 'bench' },
      mode: mode as PgbenchMode,
      clients: Number(clients),
      durationS: Number(seconds),
      script: 'select',
    }),
    { encoding: 'utf8' },
  );
  const cpuAfter = processTreeCpuMs(proxy.child.pid);
  const transactions = Number(/processed: (\d+)/.exec(out)?.[1] ?? 'NaN');
  const cpuUs =
    cpuBefore === null || cpuAfter === null ? Number.NaN : ((cpuAfter - cpuBefore) * 1000) / transactions;
  return { tps: Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 'NaN'), cpuUs };
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const lines: string[] = [];
try {
  // One unmeasured run each first: the JIT, the pools and the parse cache warm up.
  for (const k of ['before', 'after'] as const) run(proxies[k], modes[0]!, clientsList.at(-1)!);
  // What a proxy spends without clients (timers, probes, metrics) lands in every run's CPU too: at
  // low TPS it weighs on CPU per transaction, so it is shown.
  const idle0 = {
    before: processTreeCpuMs(proxies.before.child.pid),
    after: processTreeCpuMs(proxies.after.child.pid),
  };
  await new Promise((r) => setTimeout(r, 3_000));
  for (const k of ['before', 'after'] as const) {
    const used = (processTreeCpuMs(proxies[k].child.pid) ?? Number.NaN) - (idle0[k] ?? Number.NaN);
    console.log(`${k}: idle CPU ${(used / 3).toFixed(1)} ms per second`);
  }
  for (const mode of modes)
    for (const clients of clientsList) {
      const tps: Record<'before' | 'after', number[]> = { before: [], after: [] };
      const cpu: Record<'before' | 'after', number[]> = { before: [], after: [] };
      for (let i = 0; i < repeats; i++) {
        // Alternate which goes first, so drift on the machine hits both alike.
        const order = i % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
        for (const k of order) {
          const r = run(proxies[k], mode, clients);
          tps[k].push(r.tps);
          cpu[k].push(r.cpuUs);
        }
      }
      const b = median(tps.before);
      const a = median(tps.after);
      const cb = median(cpu.before);
      const ca = median(cpu.after);
      const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
      const line = `${mode} c=${clients}: before ${b.toFixed(0)} tps [${list(tps.before)}] ${cb.toFixed(1)} us cpu/tx [${list(cpu.before)}], after ${a.toFixed(0)} tps [${list(tps.after)}] ${ca.toFixed(1)} us cpu/tx [${list(cpu.after)}]; after/before tps ${(a / b).toFixed(2)}, cpu/tx ${(ca / cb).toFixed(2)}`;
      console.log(line);
      lines.push(line);
    }
} finally {
  proxies.before.child.kill('SIGINT');
  proxies.after.child.kill('SIGINT');
  await cluster.stop();
}
