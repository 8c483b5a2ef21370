// sysbench through two shardgate builds in front of the same MariaDB, alternating (direct, before,
// after in every round), medians: the before/after figure for a change on the MySQL hot path, the
// MySQL twin of ab-builds.ts. BEFORE and AFTER are repository checkouts with dist/ built (e.g. a
// `git worktree` of the previous commit). Loopback only, bounded.
// Run: BEFORE=/path/old AFTER=. npx vite-node bench/ab-sysbench.ts
// (env: T=seconds per run, R=rounds, THREADS=client threads, TEST=sysbench test, POOL=pool size)
// Besides TPS it prints each proxy's CPU per query (user + system from /proc, medians): on a
// shared machine TPS moves with the neighbours' load, CPU per query much less.
import { join, resolve } from 'node:path';
import { processTreeCpuMs } from './lib/process-cpu.js';
import { startSbtestPrimary } from './lib/sbtest-primary.js';
import type { ShardgateMysqlTarget } from './lib/shardgate-mysql.js';
import { type MysqlEndpoint, runSysbench, type SysbenchTest } from './lib/sysbench.js';

const seconds = Number(process.env.T ?? 5);
const rounds = Number(process.env.R ?? 3);
const threads = Number(process.env.THREADS ?? 16);
const test = (process.env.TEST ?? 'oltp_point_select') as SysbenchTest;
const poolSize = Number(process.env.POOL ?? 20);
if (!process.env.BEFORE) throw new Error('set BEFORE to a checkout of the older build (with dist/ built)');
const builds = { before: resolve(process.env.BEFORE), after: resolve(process.env.AFTER ?? '.') };
const primary = await startSbtestPrimary(test, 100 + threads * 2 + poolSize * 3);
const proxies: Partial<Record<'before' | 'after', ShardgateMysqlTarget>> = {};
try {
  const { direct } = primary;
  for (const k of ['before', 'after'] as const)
    proxies[k] = await primary.startProxy(poolSize, join(builds[k], 'dist', 'src', 'cli', 'main.js'));
  /** One sysbench run: its TPS and QPS, and the proxy's CPU microseconds per query (NaN for direct). */
  const run = async (endpoint: MysqlEndpoint, pid: number | undefined) => {
    const cpu0 = pid === undefined ? null : processTreeCpuMs(pid);
    const r = await runSysbench({ endpoint, ...primary.spec, threads, durationS: seconds });
    const cpu1 = pid === undefined ? null : processTreeCpuMs(pid);
    if (!r.ok) throw new Error(r.error);
    const queries = r.figures.qps * seconds;
    const cpuUs = cpu0 === null || cpu1 === null ? Number.NaN : ((cpu1 - cpu0) * 1000) / queries;
    return { tps: r.figures.tps, cpuUs };
  };
  const targets = {
    direct: () => run(direct, undefined),
    before: () => run(proxies.before!.endpoint, proxies.before!.pid),
    after: () => run(proxies.after!.endpoint, proxies.after!.pid),
  };
  // One unmeasured run each first: the JIT, the pools and the parse caches warm up.
  for (const t of Object.values(targets)) await t();
  const tps: Record<keyof typeof targets, number[]> = { direct: [], before: [], after: [] };
  const cpu: Record<keyof typeof targets, number[]> = { direct: [], before: [], after: [] };
  for (let i = 0; i < rounds; i++) {
    // Alternate which build goes first, so drift on the machine hits both alike.
    const order =
      i % 2 === 0 ? (['direct', 'before', 'after'] as const) : (['direct', 'after', 'before'] as const);
    for (const k of order) {
      const r = await targets[k]();
      tps[k].push(r.tps);
      cpu[k].push(r.cpuUs);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  const d = median(tps.direct);
  const b = median(tps.before);
  const a = median(tps.after);
  const cb = median(cpu.before);
  const ca = median(cpu.after);
  console.log(
    `${test} threads=${threads}, ${seconds} s x ${rounds}: direct ${d.toFixed(0)} tps [${list(tps.direct)}]; ` +
      `before ${b.toFixed(0)} tps [${list(tps.before)}] ${cb.toFixed(1)} us cpu/query [${list(cpu.before)}] (${(b / d).toFixed(2)}x direct); ` +
      `after ${a.toFixed(0)} tps [${list(tps.after)}] ${ca.toFixed(1)} us cpu/query [${list(cpu.after)}] (${(a / d).toFixed(2)}x direct); ` +
      `after/before tps ${(a / b).toFixed(2)}, cpu/query ${(ca / cb).toFixed(2)}`,
  );
} finally {
  await proxies.before?.stop();
  await proxies.after?.stop();
  await primary.cluster.stop();
}
