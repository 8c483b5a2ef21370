// pgbench -S through two shardgate builds in front of the same PostgreSQL, alternating, medians:
// the before/after figure for a change on the hot path. BEFORE and AFTER are repository checkouts
// with dist/ built (e.g. a `git worktree` of the previous commit). Loopback only, bounded.
// Run: BEFORE=/path/old AFTER=. npx vite-node bench/ab-builds.ts
// (env: T=seconds per run, R=repeats, C=clients list, M=modes list)
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pgToolPath } from '../src/local/pg-binaries.js';
import { freePort } from '../src/local/ports.js';
import { startPostgresCluster } from '../src/local/postgres-cluster.js';

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

async function startProxy(name: string, root: string) {
  const port = await freePort();
  const file = `/tmp/shardgate-ab-${name}.yaml`;
  writeFileSync(
    file,
    `listen: { postgres: { host: 127.0.0.1, port: ${port} }, admin: { host: 127.0.0.1, port: ${await freePort()} } }
users: [{ name: bench, password: '', auth: trust, backend: service }]
backend: { user: postgres, database: bench }
pool: { mode: transaction, size: 20 }
shards:
  - { name: s0, keyRange: '-', primary: { host: 127.0.0.1, port: ${primary.port} } }
log: { level: warn }
`,
  );
  const child = spawn(
    process.execPath,
    [join(root, 'dist', 'src', 'cli', 'main.js'), 'start', '--config', file],
    {
      stdio: 'inherit',
    },
  );
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync(
        pgbench,
        ['-S', '-n', '-t', '1', '-h', '127.0.0.1', '-p', String(port), '-U', 'bench', 'bench'],
        {
          stdio: 'ignore',
        },
      );
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { port, child };
}

const proxies = {
  before: await startProxy('before', builds.before),
  after: await startProxy('after', builds.after),
};
const run = (port: number, mode: string, clients: string) => {
  const out = execFileSync(
    pgbench,
    [
      '-S',
      '-n',
      '-M',
      mode,
      '-c',
      clients,
      '-j',
      '2',
      '-T',
      seconds,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'bench',
      'bench',
    ],
    { encoding: 'utf8' },
  );
  return Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 'NaN');
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const lines: string[] = [];
try {
  for (const mode of modes)
    for (const clients of clientsList) {
      const tps: Record<'before' | 'after', number[]> = { before: [], after: [] };
      for (let i = 0; i < repeats; i++) {
        // Alternate which goes first, so drift on the machine hits both alike.
        const order = i % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
        for (const k of order) tps[k].push(run(proxies[k].port, mode, clients));
      }
      const b = median(tps.before);
      const a = median(tps.after);
      const line = `${mode} c=${clients}: before ${b.toFixed(0)} tps [${tps.before.map((x) => x.toFixed(0)).join(', ')}], after ${a.toFixed(0)} tps [${tps.after.map((x) => x.toFixed(0)).join(', ')}], after/before ${(a / b).toFixed(2)}`;
      console.log(line);
      lines.push(line);
    }
} finally {
  proxies.before.child.kill('SIGINT');
  proxies.after.child.kill('SIGINT');
  await cluster.stop();
}
