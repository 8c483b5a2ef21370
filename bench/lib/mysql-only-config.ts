// A shardgate config for MariaDB shards alone (the MySQL split scenario, the MySQL oracle): the
// config needs a PostgreSQL shard, so its one shard points at a port nothing listens on; every
// front end listens on a free loopback port and the backend is the launcher's root.
import type { ShardgateConfig } from '../../src/config/schema.js';
import { configForLocalShards, type LaunchedShard, mysqlShardsFor } from '../../src/local/local-config.js';
import { freePort } from '../../src/local/ports.js';

const loopback = () => ({ host: '127.0.0.1', port: 0 });

/** `overrides` are merged last (pool, migration, routing, dataTypes ...). */
export async function mysqlOnlyConfig(
  shards: readonly LaunchedShard[],
  mysqlDatabase: string,
  overrides: Record<string, unknown> = {},
): Promise<ShardgateConfig> {
  const closedPort = await freePort();
  return configForLocalShards(
    [{ name: 'pg0', primary: { name: 'pg0-primary', host: '127.0.0.1', port: closedPort }, replicas: [] }],
    {
      database: 'shardgate',
      overrides: {
        listen: { postgres: loopback(), mysql: loopback(), admin: loopback() },
        mysqlShards: mysqlShardsFor(shards),
        backend: { mysqlUser: 'root', mysqlPassword: '', mysqlDatabase },
        ...overrides,
      },
    },
  );
}
