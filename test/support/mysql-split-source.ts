// What the MySQL data-plane tests that copy and capture by hand share: one MariaDB shard whose
// primary is the source, two spares as its halves, and a copy of some tables followed by a binlog
// capture from the copy's snapshot position.
import {
  type MariadbCluster,
  type MariadbServer,
  startMariadbCluster,
} from '../../src/local/mariadb-cluster.js';
import { MysqlBinlogCapture } from '../../src/migration/mysql-binlog-capture.js';
import { copyMysqlTables, type MysqlCopyResult } from '../../src/migration/mysql-copier.js';
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
 * Copies `tables` from the source to the halves at the tests' pace, then starts a binlog capture
 * (client id `serverId`) from the copy's snapshot position. The caller stops the capture.
 */
export async function copyThenCapture(
  split: Pick<MysqlSplitSource, 'source' | 'targets'>,
  tables: readonly MovedTable[],
  serverId: number,
): Promise<{ copy: MysqlCopyResult; capture: MysqlBinlogCapture }> {
  const { source, targets } = split;
  const copy = await copyMysqlTables({ source, targets, tables, throttle: testThrottle() });
  const capture = await MysqlBinlogCapture.start({
    source,
    targets,
    tables,
    fromGtid: copy.state.gtidPosition,
    serverId,
  });
  return { copy, capture };
}
