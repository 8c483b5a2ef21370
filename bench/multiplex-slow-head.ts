// Head-of-line blocking under pool.multiplex: one client runs pg_sleep(SLOW) in a loop while C
// others run point selects; the fast clients' p99 and queries/s through shardgate with
// multiplexing off, on (this build) and, when BEFORE names another checkout's root, on with that
// build's lane policy. Targets alternate inside each repeat; medians over repeats.
// Loopback only, bounded. Run: npx vite-node bench/multiplex-slow-head.ts
// (env: T=seconds per run, R=repeats, C=fast clients, POOL=pool.size, SLOW=seconds, BEFORE=root)
import pg from 'pg';
import { repoRoot } from '../src/local/local-config.js';
import { freePort, startPostgresCluster } from '../src/local/postgres-cluster.js';
import { superuserOf } from './lib/bench-primary.js';
import { launchShardgateProcess, shardgateBenchConfig, shardgateCliPath } from './lib/shardgate-process.js';

const seconds = Number(process.env.T ?? 5);
const repeats = Number(process.env.R ?? 3);
const fastClients = Number(process.env.C ?? 16);
const poolSize = Number(process.env.POOL ?? 4);
const slowSeconds = Number(process.env.SLOW ?? 0.5);
const before = process.env.BEFORE ?? null;

const cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'bench' });
const primary = cluster.shards[0]!.primary;
const admin = new pg.Client({
  host: '127.0.0.1',
  port: primary.port,
  user: superuserOf(primary.url),
  database: 'bench',
});
await admin.connect();
await admin.query('CREATE TABLE points (id int PRIMARY KEY, v int NOT NULL)');
await admin.query('INSERT INTO points SELECT g, g FROM generate_series(1, 10000) g');
await admin.end();

async function startProxy(name: string, root: string, multiplex: boolean) {
  const port = await freePort();
  const config = shardgateBenchConfig({
    postgresPort: port,
    adminPort: await freePort(),
    backend: { host: '127.0.0.1', port: primary.port, user: superuserOf(primary.url), database: 'bench' },
    benchUser: 'bench',
    workers: 1,
    poolSize,
    extra: { pool: { multiplex: { enabled: multiplex } } },
  });
  const launched = await launchShardgateProcess({
    config,
    postgresPort: port,
    workers: 1,
    cliPath: shardgateCliPath(root),
    startTimeoutMs: 120_000,
  });
  if (!launched.ok) throw new Error(launched.note);
  return { name, port, stop: launched.process.stop };
}

const targets = [await startProxy('off', repoRoot(), false), await startProxy('on', repoRoot(), true)];
// Killed (a timeout): the proxies go too.
process.on('SIGTERM', () => {
  void Promise.all(targets.map((t) => t.stop())).finally(() => process.exit(1));
});
if (before) targets.push(await startProxy('on-before', before, true));

async function run(port: number): Promise<{ p99: number; p50: number; qps: number; slowDone: number }> {
  const connect = async () => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'bench', database: 'bench' });
    await c.connect();
    return c;
  };
  const slow = await connect();
  const fast = await Promise.all(Array.from({ length: fastClients }, connect));
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let slowDone = 0;
  const slowLoop = (async () => {
    while (performance.now() < end) {
      await slow.query(`SELECT pg_sleep(${slowSeconds})`);
      slowDone++;
    }
  })();
  const fastLoops = fast.map(async (c, i) => {
    let id = i * 613;
    while (performance.now() < end) {
      id = (id % 10000) + 1;
      const t = performance.now();
      await c.query('SELECT v FROM points WHERE id = $1', [id]);
      latencies.push(performance.now() - t);
    }
  });
  await Promise.all([slowLoop, ...fastLoops]);
  await Promise.all([slow, ...fast].map((c) => c.end()));
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
  return { p99: at(0.99), p50: at(0.5), qps: latencies.length / seconds, slowDone };
}

const results = new Map<string, Array<Awaited<ReturnType<typeof run>>>>(targets.map((t) => [t.name, []]));
for (let r = 0; r < repeats; r++) {
  // Rotate the order so no target always runs first.
  const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
  for (const t of order) {
    const result = await run(t.port);
    console.error(t.name, JSON.stringify(result));
    results.get(t.name)!.push(result);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary: Record<string, unknown> = { seconds, repeats, fastClients, poolSize, slowSeconds };
for (const [name, runs] of results) {
  summary[name] = {
    p99Ms: +median(runs.map((x) => x.p99)).toFixed(2),
    p50Ms: +median(runs.map((x) => x.p50)).toFixed(2),
    qps: Math.round(median(runs.map((x) => x.qps))),
    p99sMs: runs.map((x) => +x.p99.toFixed(2)),
    slowDone: runs.map((x) => x.slowDone),
  };
}
console.log(JSON.stringify(summary));
await Promise.all(targets.map((t) => t.stop()));
await cluster.stop();
