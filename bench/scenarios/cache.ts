// The result cache scenario: zipfian reads of a cached table through shardgate (hit ratio from
// /api/cache), then, at one client, the latency of a cache hit against the same read of an
// uncached eventual table (a replica round trip through shardgate). Prints a JSON report.
import type { Command } from 'commander';
import pg from 'pg';
import { intOption, numberOption } from '../lib/cli-args.js';
import { adminJson, startDemoTopology, startShardgateOn } from '../lib/demo-topology.js';
import { LatencyRecorder } from '../lib/hdr.js';
import { Zipf } from '../lib/zipf.js';

interface CacheOptions {
  keys: number;
  zipf: number;
  ops: number;
  latencyOps: number;
  seed: number;
}

interface CacheApi {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

const CACHED = 'SELECT item_id, score FROM recommendations WHERE user_id = $1';
const UNCACHED = 'SELECT post_id FROM likes WHERE user_id = $1';

export async function runCacheScenario(o: CacheOptions, tell: (line: string) => void): Promise<unknown> {
  tell('starting 2 shards x (primary + replica) and loading the demo data ...');
  const topology = await startDemoTopology({ shards: 2, replicas: 1, demoUsers: 20 });
  try {
    const proxy = await startShardgateOn(topology, {
      workers: 1,
      extra: { dataTypes: { user_recommendations: { cacheTtlMs: 600_000 } } },
    });
    const client = new pg.Client({ ...proxy.endpoint });
    try {
      await client.connect();
      tell(`${o.ops} zipfian reads (s=${o.zipf}) over ${o.keys} keys ...`);
      const zipf = new Zipf(o.keys, o.zipf, o.seed);
      const before = await adminJson<CacheApi>(proxy.adminUrl, '/api/cache');
      for (let i = 0; i < o.ops; i++) await client.query(CACHED, [zipf.next()]);
      const after = await adminJson<CacheApi>(proxy.adminUrl, '/api/cache');
      const hits = after.hits - before.hits;
      const misses = after.misses - before.misses;
      tell(`latency at 1 client: ${o.latencyOps} cache hits, ${o.latencyOps} replica reads ...`);
      const hit = new LatencyRecorder();
      const replica = new LatencyRecorder();
      await client.query(CACHED, [1]);
      await client.query(UNCACHED, [1]);
      // Interleaved, so both see the same machine load.
      for (let i = 0; i < o.latencyOps; i++) {
        await hit.time(() => client.query(CACHED, [1]));
        await replica.time(() => client.query(UNCACHED, [1]));
      }
      const h = hit.summary();
      const r = replica.summary();
      return {
        scenario: 'cache',
        options: o,
        zipfian: { reads: o.ops, hits, misses, hitRatio: hits / Math.max(1, hits + misses) },
        cache: { entries: after.entries, bytes: after.bytes },
        latencyAtOneClient: {
          hitMs: { p50: h.p50Ms, p99: h.p99Ms, mean: h.meanMs },
          replicaReadMs: { p50: r.p50Ms, p99: r.p99Ms, mean: r.meanMs },
          speedupP50: r.p50Ms / h.p50Ms,
        },
      };
    } finally {
      await client.end().catch(() => undefined);
      await proxy.stop();
    }
  } finally {
    await topology.stop();
  }
}

export function registerCacheCommand(program: Command): void {
  program
    .command('cache')
    .description(
      'result cache: hit ratio of zipfian reads of a cached table, and a hit against a replica read',
    )
    .option('--keys <n>', 'distinct user_id values read (default 10000)', intOption('--keys', 1, 10_000_000))
    .option('--zipf <s>', 'Zipf exponent (default 1.1)', numberOption('--zipf', 0, 5))
    .option('--ops <n>', 'zipfian reads (default 20000)', intOption('--ops', 1, 10_000_000))
    .option(
      '--latency-ops <n>',
      'reads of each kind for the latency figures (default 2000)',
      intOption('--latency-ops', 1, 1_000_000),
    )
    .option('--seed <n>', 'random seed (default 1)', intOption('--seed', 0, 2 ** 31 - 1))
    .action(async (raw: Partial<CacheOptions>) => {
      const options: CacheOptions = {
        keys: raw.keys ?? 10_000,
        zipf: raw.zipf ?? 1.1,
        ops: raw.ops ?? 20_000,
        latencyOps: raw.latencyOps ?? 2_000,
        seed: raw.seed ?? 1,
      };
      const report = await runCacheScenario(options, (line) => process.stderr.write(`${line}\n`));
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    });
}
