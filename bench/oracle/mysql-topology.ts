// The two sides of the MySQL oracle (the twin of pg-topology.ts): the demo schema and rows in one
// unsharded MariaDB database (the oracle, "oracle<N>" on the first shard's primary) and in a
// shardgate topology of N MariaDB shards with GTID replicas started by the local launcher, every
// data type at level strong so replica lag plays no part. shardgate runs in this process with its
// MySQL front end on a free port. One cluster serves several topologies (2 shards, 3 shards),
// each in its own databases, so a run starts the servers once.
import mysql from 'mysql2/promise';
import type { ShardgateConfig } from '../../src/config/schema.js';
import {
  type MariadbCluster,
  type MariadbServer,
  startMariadbCluster,
} from '../../src/local/mariadb-cluster.js';
import { loadMysqlDemoData, mysqlDemoSchemaStatements } from '../../src/local/mysql-demo-schema.js';
import { mysqlOnlyConfig } from '../lib/mysql-only-config.js';
import {
  type OracleCluster,
  type OracleTopology,
  openOracleTopology,
  oracleCluster,
  strongOverrides,
} from './oracle-topology.js';
import { oracleDataSql } from './pg-topology.js';

export type MysqlOracleTopology = OracleTopology<mysql.Connection>;
export type MysqlOracleCluster = OracleCluster<MariadbCluster, mysql.Connection>;

async function connect(options: mysql.ConnectionOptions): Promise<mysql.Connection> {
  const c = await mysql.createConnection(options);
  c.on('error', () => undefined);
  return c;
}

async function recreateDatabase(cluster: MariadbCluster, server: MariadbServer, name: string): Promise<void> {
  const admin = await cluster.connect(server.name, null);
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

async function topologyConfig(cluster: MariadbCluster, shards: number): Promise<ShardgateConfig> {
  const launched = cluster.shards.slice(0, shards);
  const base = await mysqlOnlyConfig(launched, `sg${shards}`);
  return mysqlOnlyConfig(launched, `sg${shards}`, strongOverrides(base.dataTypes));
}

async function startTopology(
  cluster: MariadbCluster,
  shards: number,
  users: number,
): Promise<MysqlOracleTopology> {
  const launched = cluster.shards.slice(0, shards);
  for (const s of launched) await recreateDatabase(cluster, s.primary, `sg${shards}`);
  const config = await topologyConfig(cluster, shards);
  await loadMysqlDemoData(config, { users });
  const primary = launched[0]!.primary;
  await recreateDatabase(cluster, primary, `oracle${shards}`);
  return openOracleTopology(shards, config, {
    openOracle: () =>
      connect({ host: primary.host, port: primary.port, user: 'root', database: `oracle${shards}` }),
    async loadOracle(oracle) {
      for (const ddl of mysqlDemoSchemaStatements()) await oracle.query(ddl);
      for (const sql of oracleDataSql(users)) await oracle.query(sql);
    },
    proxyOptions: { postgresPort: 0, mysqlPort: 0, adminPort: null },
    openShardgate(proxy) {
      if (!proxy.mysql) throw new Error('the MySQL front end did not start');
      return connect({
        host: '127.0.0.1',
        port: proxy.mysql.port,
        user: 'app',
        password: 'app',
        database: `sg${shards}`,
      });
    },
    close: (c) => c.end().catch(() => c.destroy()),
    destroy: (c) => c.destroy(),
  });
}

/** Local MariaDB servers: `shards` primaries with `replicas` GTID replicas each. */
export async function startMysqlOracleCluster(options: {
  shards: number;
  replicas: number;
}): Promise<MysqlOracleCluster> {
  const cluster = await startMariadbCluster({ shards: options.shards, replicasPerShard: options.replicas });
  return oracleCluster(cluster, (shards, users) => startTopology(cluster, shards, users));
}
