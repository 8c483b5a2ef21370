// pgbench -S -M extended through two shardgate processes that differ in one switch, alternating,
// medians: COMPARE=routing (pgbench_accounts sharded by aid over 2 shards vs everything to the
// first shard) or COMPARE=tracking (observability on vs off, routing on in both).
// Loopback only, bounded. Run: COMPARE=routing npx vite-node bench/proxy-on-off.ts
// (env: T=seconds per run, R=repeats, C=clients, W=workers)
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../src/local/local-config.js';
import { pgToolPath } from '../src/local/pg-binaries.js';
import { freePort, startPostgresCluster } from '../src/local/postgres-cluster.js';
import { pgbenchArgs } from './lib/pgbench.js';

const seconds = process.env.T ?? '5';
const repeats = Number(process.env.R ?? 3);
const clients = process.env.C ?? '16';
const compare = process.env.COMPARE === 'tracking' ? 'tracking' : 'routing';
const cluster = await startPostgresCluster({ shards: 2, replicasPerShard: 0, database: 'bench' });
const pgbench = await pgToolPath('pgbench');
for (const s of cluster.shards) {
  execFileSync(
    pgbench,
    ['-i', '-s', '5', '-q', '-h', '127.0.0.1', '-p', String(s.primary.port), '-U', 'postgres', 'bench'],
    { stdio: 'ignore' },
  );
}
async function startProxy(on: boolean) {
  const port = await freePort();
  const file = `/tmp/shardgate-${compare}-${on ? 'on' : 'off'}.yaml`;
  const toggle = compare === 'routing' ? `routing: { enabled: ${on} }` : `observability: { enabled: ${on} }`;
  writeFileSync(
    file,
    `listen: { postgres: { host: 127.0.0.1, port: ${port} }, admin: { host: 127.0.0.1, port: ${await freePort()} } }
workers: ${process.env.W ?? 1}
users: [{ name: bench, password: '', auth: trust, backend: service }]
backend: { user: postgres, database: bench }
pool: { mode: transaction, size: 20 }
${toggle}
tables: { pgbench_accounts: { shardKey: aid } }
shards:
${cluster.shards.map((s, i) => `  - { name: ${s.name}, keyRange: '${i === 0 ? '-80' : '80-'}', primary: { host: 127.0.0.1, port: ${s.primary.port} } }`).join('\n')}
log: { level: warn }
`,
  );
  const child = spawn(
    process.execPath,
    [join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), 'start', '--config', file],
    { stdio: 'inherit' },
  );
  await new Promise((r) => setTimeout(r, 2_500));
  return { port, child };
}
const on = await startProxy(true);
const off = await startProxy(false);
const run = (port: number) => {
  const out = execFileSync(
    pgbench,
    pgbenchArgs({
      endpoint: { host: '127.0.0.1', port, user: 'bench', database: 'bench' },
      mode: 'extended',
      clients: Number(clients),
      durationS: Number(seconds),
      script: 'select',
    }),
    { encoding: 'utf8' },
  );
  return Number(/tps = ([\d.]+)/.exec(out)?.[1]);
};
const results = { on: [] as number[], off: [] as number[] };
for (let r = 0; r < repeats; r++) {
  for (const which of r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
    results[which].push(run(which === 'on' ? on.port : off.port));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  JSON.stringify({
    compare,
    clients,
    seconds,
    repeats,
    on: results.on,
    off: results.off,
    ratio: median(results.on) / median(results.off),
  }),
);
on.child.kill('SIGTERM');
off.child.kill('SIGTERM');
await new Promise((r) => setTimeout(r, 500));
await cluster.stop();
