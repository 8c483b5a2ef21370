// Who shardgate's service identity logs in as on each protocol's servers: backend.user & co for
// PostgreSQL, backend.mysqlUser & co for MySQL/MariaDB. One place reads those keys.
import type { ShardgateConfig } from '../config/schema.js';

export interface BackendLogin {
  user: string;
  password: string;
  /** The database a server without its own `database` uses. */
  database: string;
  tls: ShardgateConfig['backend']['tls'];
  allowCleartextPassword: boolean;
}

export function backendLogin(config: ShardgateConfig, protocol: 'postgres' | 'mysql'): BackendLogin {
  const b = config.backend;
  const own =
    protocol === 'mysql'
      ? { user: b.mysqlUser, password: b.mysqlPassword, database: b.mysqlDatabase, tls: b.mysqlTls }
      : { user: b.user, password: b.password, database: b.database, tls: b.tls };
  return { ...own, allowCleartextPassword: b.allowCleartextPassword };
}
