// The differential tests' servers: one local PostgreSQL and one MariaDB oracle cluster, started
// together (the slowest part of each file), stopped together.
import { type MysqlOracleCluster, startMysqlOracleCluster } from '../../bench/oracle/mysql-topology.js';
import { type PgOracleCluster, startPgOracleCluster } from '../../bench/oracle/pg-topology.js';

export interface OracleClusters {
  pg: PgOracleCluster;
  my: MysqlOracleCluster;
  stop(): Promise<void>;
}

/** Both clusters with this shape; when one fails to start, the other is stopped and the error thrown. */
export async function startOracleClusters(shape: {
  shards: number;
  replicas: number;
}): Promise<OracleClusters> {
  const [p, m] = await Promise.allSettled([startPgOracleCluster(shape), startMysqlOracleCluster(shape)]);
  const stop = async () => {
    await Promise.all([
      p.status === 'fulfilled' ? p.value.stop() : undefined,
      m.status === 'fulfilled' ? m.value.stop() : undefined,
    ]);
  };
  if (p.status === 'rejected' || m.status === 'rejected') {
    await stop();
    throw p.status === 'rejected' ? p.reason : (m as PromiseRejectedResult).reason;
  }
  return { pg: p.value, my: m.value, stop };
}
