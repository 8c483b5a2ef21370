// The two sides of the PostgreSQL oracle: the demo schema and rows in one unsharded database (the
// oracle, "oracle<N>" on the first shard's primary server) and in a shardgate topology of N shards
// with replicas started by the local launcher, every data type at level strong so replica lag
// plays no part. shardgate runs in this process on a free port. One cluster serves several
// topologies (2 shards, 3 shards), each in its own databases, so a run starts the servers once.
import pg from 'pg';
import { loadDemoData } from '../../src/local/demo-data.js';
import { DEMO_TOPICS, demoRows, demoSchemaSql } from '../../src/local/demo-schema.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import {
  type LocalServer,
  type PostgresCluster,
  startPostgresCluster,
} from '../../src/local/postgres-cluster.js';
import {
  type OracleCluster,
  type OracleTopology,
  openOracleTopology,
  oracleCluster,
  strongOverrides,
} from './oracle-topology.js';

export type PgOracleTopology = OracleTopology<pg.Client>;
/**
 * topology(n): a fresh topology on the first n shards: database sg<n> on each primary, the demo
 * rows spread by shardgate's own sharding, and oracle<n> holding all of them.
 */
export type PgOracleCluster = OracleCluster<PostgresCluster, pg.Client>;

function literal(v: string | number | boolean): string {
  return typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v);
}

/** The demo rows as INSERTs for one unsharded database (the same rows loadDemoData spreads). */
export function oracleDataSql(users: number): string[] {
  const byTable = new Map<string, string[]>();
  for (const r of demoRows(users)) {
    const cols = ['id', 'user_id', ...Object.keys(r.extra)];
    const values = `(${[r.id, r.userId, ...Object.values(r.extra)].map(literal).join(', ')})`;
    const key = `${r.table} (${cols.join(', ')})`;
    let list = byTable.get(key);
    if (!list) byTable.set(key, (list = []));
    list.push(values);
  }
  const out = [...byTable].map(([target, values]) => `INSERT INTO ${target} VALUES ${values.join(', ')}`);
  out.push(
    `INSERT INTO trending_topics (id, user_id, topic, score) VALUES ${DEMO_TOPICS.map((t, i) => `(${i + 1}, 0, '${t}', ${(DEMO_TOPICS.length - i) * 10})`).join(', ')}`,
  );
  return out;
}

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const c = new pg.Client(config);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function recreateDatabase(server: LocalServer, name: string): Promise<void> {
  const admin = await connect({
    host: server.host,
    port: server.port,
    user: 'postgres',
    database: 'postgres',
  });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

async function startTopology(
  cluster: PostgresCluster,
  shards: number,
  users: number,
): Promise<PgOracleTopology> {
  const database = `sg${shards}`;
  const launched = cluster.shards
    .slice(0, shards)
    .map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas }));
  for (const s of launched) await recreateDatabase(s.primary as LocalServer, database);
  const base = configForLocalShards(launched, { database });
  const config = configForLocalShards(launched, {
    database,
    overrides: {
      listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
      ...strongOverrides(base.dataTypes),
    },
  });
  await loadDemoData(config, { users });
  const primary = cluster.shards[0]!.primary;
  await recreateDatabase(primary, `oracle${shards}`);
  return openOracleTopology(shards, config, {
    openOracle: () =>
      connect({ host: primary.host, port: primary.port, user: 'postgres', database: `oracle${shards}` }),
    async loadOracle(oracle) {
      await oracle.query(demoSchemaSql());
      for (const sql of oracleDataSql(users)) await oracle.query(sql);
    },
    proxyOptions: { postgresPort: 0, adminPort: 0 },
    openShardgate: (proxy) =>
      connect({ host: '127.0.0.1', port: proxy.postgres.port, user: 'app', password: 'app', database }),
    close: (c) => c.end().catch(() => undefined),
    // end() waits for the server to close, which it does only after the running statement.
    destroy: (c) =>
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy(),
  });
}

/** Local PostgreSQL servers: `shards` primaries with `replicas` streaming replicas each. */
export async function startPgOracleCluster(options: {
  shards: number;
  replicas: number;
}): Promise<PgOracleCluster> {
  const cluster = await startPostgresCluster({
    shards: options.shards,
    replicasPerShard: options.replicas,
    database: 'shardgate',
  });
  return oracleCluster(cluster, (shards, users) => startTopology(cluster, shards, users));
}
