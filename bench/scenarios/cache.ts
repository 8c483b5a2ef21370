// The result cache scenario: zipfian reads of a cached table through shardgate (hit ratio from
// /api/cache), then, at one client, the latency of a cache hit against the same read of an
// uncached eventual table (a replica round trip through shardgate), alternated, both with the
// `pg` driver and with a bare wire client (no driver work in the figure). Prints a JSON report.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import pg from 'pg';
import { intFlag } from '../lib/cli-args.js';
import { adminJson, DEMO_DATABASE, startDemoTopology, startShardgateOn } from '../lib/demo-topology.js';
import { processTreeCpuMs } from '../lib/process-cpu.js';
import { printJsonReport, sharedOption, withDefaults } from '../lib/scenario-options.js';
import { median } from '../lib/stats.js';
import type { PgEndpoint } from '../lib/target.js';
import { WireClient } from '../lib/wire-client.js';
import { Zipf } from '../lib/zipf.js';
import { type PgbenchPair, pgbenchPair } from './cache-pgbench.js';

interface CacheOptions {
  keys: number;
  zipf: number;
  ops: number;
  latencyOps: number;
  seed: number;
  /** A checkout of an older build (dist/ built): its hits are timed against this build's. */
  before: string | null;
  /** pgbench rounds (each: a run of every kind) per protocol mode, and seconds per run; 0 rounds skips. */
  pgbenchRounds: number;
  pgbenchSeconds: number;
}

const CACHE_DEFAULTS: CacheOptions = {
  keys: 10_000,
  zipf: 1.1,
  ops: 20_000,
  latencyOps: 2_000,
  seed: 1,
  before: null,
  pgbenchRounds: 5,
  pgbenchSeconds: 5,
};

interface CacheApi {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

const CACHED = 'SELECT item_id, score FROM recommendations WHERE user_id = $1';
const UNCACHED = 'SELECT post_id FROM likes WHERE user_id = $1';
// pgbench sends the same text every time: the value is in it.
const CACHED_LITERAL = 'SELECT item_id, score FROM recommendations WHERE user_id = 1';
const UNCACHED_LITERAL = 'SELECT post_id FROM likes WHERE user_id = 1';

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
      tell(
        `latency at 1 client: ${o.latencyOps} cache hits and ${o.latencyOps} replica reads, alternated ...`,
      );
      const wire = await WireClient.connect(proxy.endpoint);
      try {
        const viaDriver = await alternate(o.latencyOps, {
          hit: () => client.query(CACHED, [1]),
          replica: () => client.query(UNCACHED, [1]),
        });
        // One of each in turn: a hit right after a replica read also waits for what the proxy still
        // does after forwarding that read (the figure an earlier version of this bench reported).
        const viaDriverOneByOne = await alternate(
          o.latencyOps,
          { hit: () => client.query(CACHED, [1]), replica: () => client.query(UNCACHED, [1]) },
          1,
        );
        const cachedBytes = WireClient.extendedQuery(CACHED, ['1']);
        const uncachedBytes = WireClient.extendedQuery(UNCACHED, ['1']);
        const viaWire = await alternate(o.latencyOps, {
          hit: () => wire.roundTrip(cachedBytes),
          replica: () => wire.roundTrip(uncachedBytes),
        });
        const viaPgbench = o.pgbenchRounds > 0 ? await wireFigures(topology, proxy.endpoint, o, tell) : null;
        const againstBefore = o.before
          ? await hitsAgainstBefore(
              topology,
              o,
              { hit: () => wire.roundTrip(cachedBytes), pid: proxy.process.pid },
              cachedBytes,
              tell,
            )
          : null;
        return {
          scenario: 'cache',
          options: o,
          zipfian: { reads: o.ops, hits, misses, hitRatio: hits / Math.max(1, hits + misses) },
          cache: { entries: after.entries, bytes: after.bytes },
          latencyAtOneClient: {
            viaDriver,
            viaWire,
            viaDriverOneByOne,
            ...(viaPgbench ? { viaPgbench } : {}),
          },
          ...(againstBefore ? { hitAgainstBeforeBuild: againstBefore } : {}),
          // Machine load (1, 5, 15 min) at the end: ratios are taken under whatever load there was.
          loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
        };
      } finally {
        wire.close();
      }
    } finally {
      await client.end().catch(() => undefined);
      await proxy.stop();
    }
  } finally {
    await topology.stop();
  }
}

/** The pgbench figures (cache-pgbench.ts) in both protocol modes; the direct run reads the replica that serves user 1's likes. */
async function wireFigures(
  topology: Parameters<typeof startShardgateOn>[0],
  endpoint: PgEndpoint,
  o: CacheOptions,
  tell: (line: string) => void,
): Promise<PgbenchPair[]> {
  const shard = topology.ownerOf('likes', 1);
  const replica = topology.cluster.shards.find((s) => s.name === shard)?.replicas[0];
  if (!replica) throw new Error(`no replica of ${shard} for the direct pgbench run`);
  const direct: PgEndpoint = {
    host: replica.host,
    port: replica.port,
    user: 'postgres',
    database: DEMO_DATABASE,
  };
  const figures: PgbenchPair[] = [];
  for (const mode of ['simple', 'extended'] as const) {
    tell(`pgbench -M ${mode}: ${o.pgbenchRounds} rounds of ${o.pgbenchSeconds} s per kind, alternated ...`);
    figures.push(
      await pgbenchPair(
        {
          hit: { sql: CACHED_LITERAL, endpoint },
          replica: { sql: UNCACHED_LITERAL, endpoint },
          directReplica: { sql: UNCACHED_LITERAL, endpoint: direct },
        },
        { rounds: o.pgbenchRounds, seconds: o.pgbenchSeconds, mode },
      ),
    );
  }
  return figures;
}

/**
 * Cache hits through an older build (`before`, a checkout with dist/ built) against this one's,
 * both on the same topology, alternated in rounds, through the wire client: "hit" is the old
 * build, "replica" this one (speedup = old hit / new hit).
 */
async function hitsAgainstBefore(
  topology: Parameters<typeof startShardgateOn>[0],
  o: CacheOptions,
  here: { hit: () => Promise<void>; pid: number | undefined },
  cachedBytes: Buffer,
  tell: (line: string) => void,
): Promise<{
  beforeCache: { hits: number; misses: number };
  /** Proxy CPU (user + system) per hit while the hits were timed, in microseconds. */
  cpuPerHitUs: { before: number | null; after: number | null };
  beforeHitMedianMs: number;
  afterHitMedianMs: number;
  speedup: number;
  speedupRoundMedian: number;
}> {
  tell(`${o.latencyOps} hits through the build in ${o.before} and through this one, alternated ...`);
  const old = await startShardgateOn(topology, {
    workers: 1,
    extra: { dataTypes: { user_recommendations: { cacheTtlMs: 600_000 } } },
    cliPath: join(o.before!, 'dist', 'src', 'cli', 'main.js'),
  });
  try {
    const wire = await WireClient.connect(old.endpoint);
    try {
      // The other proxy was warmed by the zipfian reads: this one gets as many hits and its
      // start-up work (first health probes, history) settles before anything is timed.
      for (let i = 0; i < o.ops; i++) await wire.roundTrip(cachedBytes);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const cpu0 = [processTreeCpuMs(old.process.pid), processTreeCpuMs(here.pid)];
      const pair = await alternate(o.latencyOps, {
        hit: () => wire.roundTrip(cachedBytes),
        replica: here.hit,
      });
      const cpu1 = [processTreeCpuMs(old.process.pid), processTreeCpuMs(here.pid)];
      const perHit = (i: number) =>
        cpu0[i] == null || cpu1[i] == null ? null : ((cpu1[i]! - cpu0[i]!) * 1000) / (o.latencyOps + 1);
      const oldCache = await adminJson<CacheApi>(old.adminUrl, '/api/cache');
      return {
        beforeCache: { hits: oldCache.hits, misses: oldCache.misses },
        cpuPerHitUs: { before: perHit(0), after: perHit(1) },
        beforeHitMedianMs: pair.hitMedianMs,
        afterHitMedianMs: pair.replicaMedianMs,
        speedup: pair.hitMedianMs / pair.replicaMedianMs,
        speedupRoundMedian: 1 / pair.speedupRoundMedian,
      };
    } finally {
      wire.close();
    }
  } finally {
    await old.stop();
  }
}

/** Rounds of this many reads of each kind; the order of the two kinds rotates every round. */
const ROUND = 50;

interface Pair {
  hitMedianMs: number;
  replicaMedianMs: number;
  /** Replica read median over hit median, and the same ratio's median over the rounds. */
  speedup: number;
  speedupRoundMedian: number;
  rounds: number;
}

/**
 * `ops` reads of each kind in rounds of ROUND, hit and replica alternating which goes first, so
 * both see the same machine load; medians of the single reads and of the per-round ratios.
 */
async function alternate(
  ops: number,
  run: { hit: () => Promise<unknown>; replica: () => Promise<unknown> },
  round = ROUND,
): Promise<Pair> {
  await run.hit();
  await run.replica();
  const all = { hit: [] as number[], replica: [] as number[] };
  const ratios: number[] = [];
  const rounds = Math.max(1, Math.ceil(ops / round));
  for (let r = 0; r < rounds; r++) {
    const order: Array<'hit' | 'replica'> = r % 2 === 0 ? ['hit', 'replica'] : ['replica', 'hit'];
    const latencies = { hit: [] as number[], replica: [] as number[] };
    for (const kind of order) {
      for (let i = 0; i < round; i++) {
        const t0 = process.hrtime.bigint();
        await run[kind]();
        latencies[kind].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      all[kind].push(...latencies[kind]);
    }
    ratios.push(median(latencies.replica) / median(latencies.hit));
  }
  const hitMedianMs = median(all.hit);
  const replicaMedianMs = median(all.replica);
  return {
    hitMedianMs,
    replicaMedianMs,
    speedup: replicaMedianMs / hitMedianMs,
    speedupRoundMedian: median(ratios),
    rounds,
  };
}

export function registerCacheCommand(program: Command): void {
  program
    .command('cache')
    .description(
      'result cache: hit ratio of zipfian reads of a cached table, and a hit against a replica read',
    )
    .addOption(intFlag('--keys <n>', 'distinct user_id values read (default 10000)', 1, 10_000_000))
    .addOption(sharedOption.zipf('Zipf exponent (default 1.1)'))
    .addOption(intFlag('--ops <n>', 'zipfian reads (default 20000)', 1, 10_000_000))
    .addOption(
      intFlag('--latency-ops <n>', 'reads of each kind for the latency figures (default 2000)', 1, 1_000_000),
    )
    .addOption(sharedOption.seed())
    .option('--before <checkout>', 'also time hits through the build of this checkout (dist/ built)')
    .addOption(
      intFlag(
        '--pgbench-rounds <n>',
        'pgbench rounds per protocol mode, hit against replica read (default 5; 0 skips)',
        0,
        1000,
      ),
    )
    .addOption(intFlag('--pgbench-seconds <n>', 'seconds per pgbench run (default 5)', 1, 600))
    .action(async (raw: Partial<CacheOptions>) => {
      const options = withDefaults(CACHE_DEFAULTS, raw);
      await printJsonReport((say) => runCacheScenario(options, say));
    });
}
