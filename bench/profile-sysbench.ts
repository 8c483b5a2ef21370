// Where the proxy's CPU goes under sysbench on the MySQL front end: one MariaDB, one shardgate
// (workers 1) started with --cpu-prof, sysbench for T seconds, then the profile's self time summed
// by function and by category: the MySQL twin of profile-pgbench.ts. Loopback only, bounded by T.
// Run: npx vite-node bench/profile-sysbench.ts   (env: T=seconds, THREADS, TEST=sysbench test, TOP,
// STRACE=1 adds the proxy's syscall counts from strace -c, PERF=1 its on-CPU functions from perf)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { printCpuProfile } from './lib/cpu-profile.js';
import { processTreeCpuMs } from './lib/process-cpu.js';
import { startSbtestPrimary } from './lib/sbtest-primary.js';
import type { ShardgateMysqlTarget } from './lib/shardgate-mysql.js';
import { type MysqlEndpoint, runSysbench, type SysbenchTest } from './lib/sysbench.js';

const seconds = Number(process.env.T ?? 10);
const threads = Number(process.env.THREADS ?? 16);
const test = (process.env.TEST ?? 'oltp_point_select') as SysbenchTest;
const top = Number(process.env.TOP ?? 30);
const perf = process.env.PERF !== undefined;
const root = resolve('.');
const profileDir = mkdtempSync(join(tmpdir(), 'shardgate-prof-'));
// Room for sysbench's threads, the proxy's pool of 20 and the direct run.
const primary = await startSbtestPrimary(test, 100 + threads * 2 + 20 * 3);
let proxy: ShardgateMysqlTarget | undefined;
/** strace and perf, when asked for: stopped in `finally` too, should the run fail. */
const watchers: Array<ReturnType<typeof spawn>> = [];
/** A watcher that cannot start (not installed) fails the script with a message, not a crash. */
function watcher(command: string, args: string[]): ReturnType<typeof spawn> {
  const child = spawn(command, args, { stdio: 'ignore' });
  child.on('error', (err) => {
    process.exitCode = 1;
    console.error(`${command}: ${err.message}`);
  });
  watchers.push(child);
  return child;
}
/** SIGINT (perf and strace write their output then), waiting for the exit; nothing if it never ran. */
async function stopWatcher(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const ended = new Promise((done) => child.once('exit', done));
  child.kill('SIGINT');
  await ended;
}
try {
  const { direct, spec } = primary;
  // launchShardgateProcess passes these to node (shardgate-process.ts).
  process.env.SHARDGATE_BENCH_PROXY_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${profileDir}${perf ? ' --perf-basic-prof' : ''}`;
  proxy = await primary.startProxy(20);
  const run = (endpoint: MysqlEndpoint, durationS: number) =>
    runSysbench({ endpoint, ...spec, threads, durationS });
  // Warm the JIT and the pool; the profile covers warm-up and run alike (short warm-up).
  await run(proxy.endpoint, 2);
  const d = await run(direct, seconds);
  const cpu0 = proxy.pid === undefined ? null : processTreeCpuMs(proxy.pid);
  // STRACE=1: the proxy's syscalls during the run, counted (strace -c), for syscalls per query.
  const tracer = process.env.STRACE
    ? watcher('strace', ['-c', '-f', '-p', String(proxy.pid), '-o', join(profileDir, 'strace.txt')])
    : null;
  // PERF=1: on-CPU samples of the proxy (perf record; the V8 profile counts wall time, so a
  // write that lets the server run first looks as long as the server's work).
  const perfFile = join(profileDir, 'perf.data');
  if (perf)
    watcher('perf', [
      'record',
      '-e',
      'cpu-clock',
      '-F',
      '999',
      '-g',
      '-p',
      String(proxy.pid),
      '-o',
      perfFile,
    ]);
  const r = await run(proxy.endpoint, seconds);
  const cpu1 = proxy.pid === undefined ? null : processTreeCpuMs(proxy.pid);
  if (!r.ok || !d.ok) throw new Error(r.ok ? (d.ok ? '' : d.error) : r.error);
  const queries = r.figures.qps * seconds;
  const cpuUs = cpu0 === null || cpu1 === null ? Number.NaN : ((cpu1 - cpu0) * 1000) / queries;
  for (const w of watchers) await stopWatcher(w);
  await proxy.stop();
  proxy = undefined;
  console.log(
    `${test} threads=${threads}, ${seconds} s: ${r.figures.tps.toFixed(0)} tps, proxy CPU ${cpuUs.toFixed(1)} us per query (direct: ${d.figures.tps.toFixed(0)} tps)`,
  );
  if (tracer)
    console.log(
      `\nsyscalls (${queries.toFixed(0)} queries):\n${readFileSync(join(profileDir, 'strace.txt'), 'utf8')}`,
    );
  if (perf)
    console.log(
      execFileSync(
        'perf',
        ['report', '-i', perfFile, '--no-children', '--sort', 'sym', '--stdio', '-g', 'none'],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        },
      )
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('#'))
        .slice(0, top)
        .join('\n'),
    );
  printCpuProfile(profileDir, root, top);
} finally {
  for (const w of watchers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await proxy?.stop();
  await primary.cluster.stop();
}
