// Where the proxy's CPU goes under pgbench -S: one PostgreSQL, one shardgate (workers 1) started
// with --cpu-prof, pgbench for T seconds, then the profile's self time summed by function and by
// category (idle, GC, socket writes and reads, parsing, routing...). The "profile that explains the
// remaining cost" of the benchmark section. Loopback only, bounded by T.
// Run: npx vite-node bench/profile-pgbench.ts   (env: T=seconds, C=clients, M=simple|extended,
// TOP=functions listed, POOL=YAML flow entries added to the pool section, e.g. 'multiplex: { enabled: true }')
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pgToolPath } from '../src/local/pg-binaries.js';
import { freePort } from '../src/local/ports.js';
import { startPostgresCluster } from '../src/local/postgres-cluster.js';
import { type PgbenchMode, pgbenchArgs, untilPgbenchConnects } from './lib/pgbench.js';
import { processTreeCpuMs } from './lib/process-cpu.js';

const seconds = Number(process.env.T ?? 10);
const clients = Number(process.env.C ?? 16);
const mode = (process.env.M ?? 'extended') as PgbenchMode;
const top = Number(process.env.TOP ?? 25);
const root = resolve('.');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which part of the work a function belongs to, from its name and file. */
function category(name: string, url: string): string {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'program (V8/native, unattributed)';
  if (/writev|writeBuffer|writeGeneric|doWrite|_write|writeOrBuffer/.test(name)) return 'socket writes';
  if (/onStreamRead|readableAddChunk|emitReadable|onread/.test(name)) return 'socket reads';
  if (url.includes('/src/sql/') || url.includes('libpg-query') || url.includes('node-sql-parser'))
    return 'SQL analysis';
  if (url.includes('/src/router/')) return 'routing';
  if (url.includes('/src/protocol/')) return 'protocol (framing, session)';
  if (url.includes('/src/backend/')) return 'pools and bindings';
  if (url.includes('/src/observability/')) return 'metrics and statistics';
  if (url.includes('pg-protocol')) return 'pg-protocol';
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return 'native';
  return 'other JavaScript';
}

const cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'bench' });
const pgbench = await pgToolPath('pgbench');
const primary = cluster.shards[0]!.primary;
const profileDir = mkdtempSync(join(tmpdir(), 'shardgate-prof-'));
let child: ReturnType<typeof spawn> | undefined;
try {
  execFileSync(
    pgbench,
    ['-i', '-s', '10', '-q', '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', 'bench'],
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const file = join(profileDir, 'shardgate.yaml');
  writeFileSync(
    file,
    `listen: { postgres: { host: 127.0.0.1, port: ${port} }, admin: { host: 127.0.0.1, port: ${await freePort()} } }
users: [{ name: bench, password: '', auth: trust, backend: service }]
backend: { user: postgres, database: bench }
pool: { mode: transaction, size: 20${process.env.POOL ? `, ${process.env.POOL}` : ''} }
shards:
  - { name: s0, keyRange: '-', primary: { host: 127.0.0.1, port: ${primary.port} } }
log: { level: warn }
`,
  );
  child = spawn(
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${profileDir}`,
      join(root, 'dist', 'src', 'cli', 'main.js'),
      'start',
      '--config',
      file,
    ],
    { stdio: 'inherit' },
  );
  const endpoint = { host: '127.0.0.1', port, user: 'bench', database: 'bench' };
  await untilPgbenchConnects(pgbench, port);
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

  const name = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!name) throw new Error(`no .cpuprofile written in ${profileDir}`);
  const profile = JSON.parse(readFileSync(join(profileDir, name), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries())
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byCategory = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const file = frame.url.replace(/^file:\/\//, '').replace(root, '.');
    const key = `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const c = category(frame.functionName, frame.url);
    byCategory.set(c, (byCategory.get(c) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
  console.log(
    `pgbench -S -M ${mode} -c ${clients}, ${seconds} s: ${tps.toFixed(0)} tps, proxy CPU ${cpuUs.toFixed(1)} us per transaction (direct: ${directTps.toFixed(0)} tps)`,
  );
  console.log('\nself time by category (share of all samples, idle included):');
  for (const [c, us] of [...byCategory].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(us)}  ${c}`);
  console.log(`\ntop ${top} functions by self time:`);
  for (const [f, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${pct(us)}  ${f}`);
  console.log(`\nprofile: ${join(profileDir, name)} (open in Chrome DevTools, Performance tab)`);
} finally {
  child?.kill('SIGKILL');
  await cluster.stop();
}
