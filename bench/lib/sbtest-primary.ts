// One MariaDB holding sysbench's tables, and shardgates (MySQL front end, one worker) in front of
// it: what the MySQL hot-path scripts (ab-sysbench.ts, profile-sysbench.ts) start alike.
import { type MariadbCluster, startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { type ShardgateMysqlTarget, startShardgateMysql } from './shardgate-mysql.js';
import { type MysqlEndpoint, type SysbenchTest, sysbenchEndpoints, sysbenchPrepare } from './sysbench.js';

const DATABASE = 'sbtest';
const CLIENT = { user: 'sbtest', password: 'sbtest' };

export interface SbtestPrimary {
  cluster: MariadbCluster;
  /** sysbench's user on the primary, no proxy. */
  direct: MysqlEndpoint;
  /** runSysbench's spec but for the endpoint, threads and duration. */
  spec: { test: SysbenchTest; tables: number; tableSize: number; psMode: 'disable' };
  /** A shardgate with a pool of `poolSize`, of this checkout or of the build at `cliPath`. */
  startProxy(poolSize: number, cliPath?: string): Promise<ShardgateMysqlTarget>;
}

/** Starts the server and prepares `test`'s tables (4 x 10,000 rows, text protocol). */
export async function startSbtestPrimary(test: SysbenchTest, maxConnections = 151): Promise<SbtestPrimary> {
  const cluster = await startMariadbCluster({
    shards: 1,
    replicasPerShard: 0,
    database: DATABASE,
    settings: { max_connections: maxConnections },
  });
  try {
    const { direct, root } = await sysbenchEndpoints(cluster, DATABASE, CLIENT);
    const spec = { test, tables: 4, tableSize: 10_000, psMode: 'disable' } as const;
    await sysbenchPrepare({ endpoint: direct, ...spec });
    return {
      cluster,
      direct,
      spec,
      async startProxy(poolSize, cliPath) {
        const started = await startShardgateMysql({
          backend: root,
          client: CLIENT,
          tables: spec.tables,
          workers: 1,
          poolSize,
          ...(cliPath ? { cliPath } : {}),
          startTimeoutMs: 120_000,
        });
        if (!started.ok) throw new Error(`${cliPath ?? 'shardgate'}: ${started.note}`);
        return started.target;
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
