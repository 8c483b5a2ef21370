// What the MySQL data-plane tests that copy and capture by hand share: one MariaDB shard whose
// primary is the source, two spares as its halves, and a new table copied to them followed by a
// binlog capture from the copy's snapshot position.
import {
  type MariadbCluster,
  type MariadbServer,
  startMariadbCluster,
} from '../../src/local/mariadb-cluster.js';
import { MysqlBinlogCapture } from '../../src/migration/mysql-binlog-capture.js';
import { copyMysqlTables } from '../../src/migration/mysql-copier.js';
import type { MovedTable, ServerAddress, SplitTarget } from '../../src/migration/types.js';
import { serverAddress, spareHalves, testThrottle } from './mysql-split-targets.js';

export interface MysqlSplitSource {
  cluster: MariadbCluster;
  /** The primary of the cluster's one shard. */
  source: ServerAddress;
  /** Two spares as halves owning -80 and 80-. */
  targets: SplitTarget[];
}

/** A one-shard MariaDB cluster without replicas and two spares as the halves of its split. */
export async function startMysqlSplitSource(): Promise<MysqlSplitSource> {
  const cluster = await startMariadbCluster({ shards: 1, replicasPerShard: 0 });
  const { targets } = await spareHalves(cluster, ['-80', '80-']);
  const source = serverAddress(cluster.shards[0]?.primary as MariadbServer);
  return { cluster, source, targets };
}

/**
 * A new table `name` (id BIGINT PRIMARY KEY, body TEXT, sharded by id) on the source holding
 * `rows` (SQL VALUES, none by default), copied to the halves at the tests' pace, and a binlog
 * capture of it (client id `serverId`) from the copy's snapshot position. The caller stops it.
 */
export async function captureNewTable(
  split: MysqlSplitSource,
  name: string,
  serverId: number,
  rows?: string,
): Promise<MysqlBinlogCapture> {
  const { cluster, source, targets } = split;
  const tables: MovedTable[] = [{ name, shardKey: 'id', keyType: 'int', kind: 'sharded' }];
  await cluster.query(source.name, `CREATE TABLE ${name} (id BIGINT PRIMARY KEY, body TEXT)`);
  if (rows) await cluster.query(source.name, `INSERT INTO ${name} VALUES ${rows}`);
  const copy = await copyMysqlTables({ source, targets, tables, throttle: testThrottle() });
  return MysqlBinlogCapture.start({ source, targets, tables, fromGtid: copy.state.gtidPosition, serverId });
}
