// The cost of a scatter: one ordered query over `rows` rows spread on `shards` PostgreSQL shards,
// through shardgate (A) against the shards answering their parts directly (B: all shards asked at
// once, as the scatter asks them, timed until the slowest has answered; C: each shard asked
// alone, the slowest one's time). A, B and C alternate in rotating order within every repeat; the
// figures are medians over the repeats, and the ratio A / B is the merge's price: what a client
// pays for one answer instead of N it would have to merge itself.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import { rotation } from '../lib/alternate.js';
import { median, ratio } from '../lib/stats.js';

export interface ScatterCostOptions {
  shards: number;
  rows: number;
  repeats: number;
  warmup: number;
  log(line: string): void;
}

export interface ScatterCostResult {
  query: string;
  rowsPerShard: Record<string, number>;
  /** Median milliseconds: through shardgate, shards at once directly, slowest shard alone. */
  shardgateMs: number;
  directAllMs: number;
  slowestAloneMs: number;
  /** Median of the per-repeat ratios. */
  ratioToDirectAll: number;
  ratioToSlowestAlone: number;
}

const TABLE = 'scatter_rows';
const DATABASE = 'scatter';
export const SCATTER_QUERY = `SELECT id, user_id, score, label FROM ${TABLE} ORDER BY id`;
const RAW_TYPES = { getTypeParser: () => (value: string) => value };

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const c = new pg.Client(config);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Rows 1..n, user_id spread over 10,000 users and placed on their shard by shardgate's own hash. */
async function load(cluster: PostgresCluster, config: ReturnType<typeof configForLocalShards>, rows: number) {
  const table = config.tables[TABLE]!;
  const ranges = config.shards.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange) }));
  const parts = new Map<string, { id: number[]; user: number[]; score: number[]; label: string[] }>(
    ranges.map((r) => [r.name, { id: [], user: [], score: [], label: [] }]),
  );
  for (let i = 1; i <= rows; i++) {
    const user = (i % 10_000) + 1;
    const p = parts.get(shardForValue(table, String(user), ranges))!;
    p.id.push(i);
    p.user.push(user);
    p.score.push((i * 7919) % 1000);
    p.label.push(`row ${i}`);
  }
  await Promise.all(
    cluster.shards.map(async (s) => {
      const c = await connect({
        host: s.primary.host,
        port: s.primary.port,
        user: 'postgres',
        database: DATABASE,
      });
      try {
        await c.query(
          `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, user_id bigint NOT NULL, score int NOT NULL, label text NOT NULL)`,
        );
        const p = parts.get(s.name)!;
        await c.query(
          `INSERT INTO ${TABLE} SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[])`,
          [p.id, p.user, p.score, p.label],
        );
        await c.query(`VACUUM ANALYZE ${TABLE}`);
      } finally {
        await c.end();
      }
    }),
  );
  return Object.fromEntries([...parts].map(([name, p]) => [name, p.id.length]));
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

export async function runScatterCost(options: ScatterCostOptions): Promise<ScatterCostResult> {
  options.log(`starting ${options.shards} PostgreSQL shards ...`);
  const cluster = await startPostgresCluster({
    shards: options.shards,
    replicasPerShard: 0,
    database: DATABASE,
  });
  let proxy: ProxyHandle | null = null;
  const clients: pg.Client[] = [];
  try {
    const launched = cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: [] }));
    const config = configForLocalShards(launched, {
      database: DATABASE,
      overrides: {
        listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
        // The shards have no role "app": shardgate reaches them as its service identity.
        users: [{ name: 'app', password: 'app', auth: 'scram-sha-256', backend: 'service' }],
        tables: { [TABLE]: { shardKey: 'user_id' } },
        routing: { maxMergeRows: options.rows + 1 },
        observability: { enabled: false },
      },
    });
    options.log(`loading ${options.rows} rows ...`);
    const rowsPerShard = await load(cluster, config, options.rows);
    proxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: 0 });
    const through = await connect({
      host: '127.0.0.1',
      port: proxy.postgres.port,
      user: 'app',
      password: 'app',
      database: DATABASE,
    });
    clients.push(through);
    const direct: pg.Client[] = [];
    for (const s of cluster.shards) {
      const c = await connect({
        host: s.primary.host,
        port: s.primary.port,
        user: 'postgres',
        database: DATABASE,
      });
      clients.push(c);
      direct.push(c);
    }
    const query = (c: pg.Client) => c.query({ text: SCATTER_QUERY, rowMode: 'array', types: RAW_TYPES });
    const got = await query(through);
    if (got.rows.length !== options.rows)
      throw new Error(`shardgate answered ${got.rows.length} rows, ${options.rows} expected`);
    const runs = {
      shardgate: () => timed(() => query(through)),
      directAll: () => timed(() => Promise.all(direct.map(query))),
      slowestAlone: async () => {
        let slowest = 0;
        for (const c of direct) slowest = Math.max(slowest, await timed(() => query(c)));
        return slowest;
      },
    };
    const names = Object.keys(runs) as Array<keyof typeof runs>;
    const samples: Record<keyof typeof runs, number[]> = { shardgate: [], directAll: [], slowestAlone: [] };
    for (let r = 0; r < options.warmup + options.repeats; r++) {
      const round: Partial<Record<keyof typeof runs, number>> = {};
      for (const name of rotation(names, r)) round[name] = await runs[name]();
      if (r < options.warmup) continue;
      for (const name of names) samples[name].push(round[name]!);
      options.log(
        `repeat ${r - options.warmup + 1}: shardgate ${round.shardgate!.toFixed(1)} ms, shards at once ${round.directAll!.toFixed(1)} ms, slowest shard alone ${round.slowestAlone!.toFixed(1)} ms`,
      );
    }
    const perRepeat = (b: number[]) => median(samples.shardgate.map((a, i) => ratio(a, b[i]!)));
    return {
      query: SCATTER_QUERY,
      rowsPerShard,
      shardgateMs: median(samples.shardgate),
      directAllMs: median(samples.directAll),
      slowestAloneMs: median(samples.slowestAlone),
      ratioToDirectAll: perRepeat(samples.directAll),
      ratioToSlowestAlone: perRepeat(samples.slowestAlone),
    };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await proxy?.close().catch(() => undefined);
    await cluster.stop();
  }
}
