// The MySQL side's topology: topology.ts over `mysqlShards`, with MysqlPool and the MariaDB
// prober. The routing rules (tables, data types, routing) are the config's, shared with the
// PostgreSQL side, so a rule change applied there is applied here too (see proxy.ts).
import type { ShardgateConfig } from '../config/schema.js';
import { MysqlPool } from './mysql-pool.js';
import { type MysqlHealthFigures, mysqlProber } from './mysql-prober.js';
import type { MysqlServerAddress, MysqlServerConnection } from './mysql-server-connection.js';
import { Topology, type TopologyServer, type TopologySide } from './topology.js';

export type MysqlRuntimeServer = TopologyServer<MysqlPool>;

const mysqlSide: TopologySide<MysqlPool, MysqlServerAddress, MysqlServerConnection, MysqlHealthFigures> = {
  protocol: 'mysql',
  shardList: 'mysqlShards',
  makePool: (address, config) => new MysqlPool(address, config),
  // A session's schema is set on each use, so one pool per user.
  userLogin: (identity) => ({ user: identity.user, password: identity.password }),
  prober: mysqlProber,
};

export class MysqlTopology extends Topology<
  MysqlPool,
  MysqlServerAddress,
  MysqlServerConnection,
  MysqlHealthFigures
> {
  constructor(config: ShardgateConfig) {
    super(config, mysqlSide);
  }
}
