// The MariaDB/MySQL driver of the generic pool (pool.ts). Connections differ in one way a client
// can see: CLIENT_FOUND_ROWS (affected rows of an UPDATE count matched rather than changed rows),
// fixed at login. That is the pool's flavour: a checkout names the one it needs, and an idle
// connection of the other flavour is closed to make room when the pool is full.
import type { PoolConfig } from '../config/schema.js';
import { type MysqlServerAddress, MysqlServerConnection } from './mysql-server-connection.js';
import { Pool, type PoolDriver } from './pool.js';

class MysqlDriver implements PoolDriver<MysqlServerConnection, boolean> {
  constructor(private readonly address: MysqlServerAddress) {}

  connect(foundRows: boolean, timeoutMs: number): Promise<MysqlServerConnection> {
    return MysqlServerConnection.connect(this.address, { foundRows, timeoutMs });
  }

  async validate(conn: MysqlServerConnection, query: string, timeoutMs: number): Promise<void> {
    const r = await conn.query(query, { timeoutMs });
    if (r.error) throw new Error(r.error.message);
  }

  /**
   * Reusable when no command waits for its response and no transaction is open (a connection given
   * back inside one, e.g. under a client's autocommit=0, would hand the next user its locks and
   * uncommitted rows); nothing pinned is the caller's business.
   */
  reset(conn: MysqlServerConnection): boolean {
    return conn.idle && !conn.inTransaction;
  }

  close(conn: MysqlServerConnection): void {
    conn.destroy();
  }

  flavourOf(conn: MysqlServerConnection): boolean {
    return conn.foundRows;
  }

  closedLocally(conn: MysqlServerConnection): boolean {
    return conn.closedLocally;
  }
}

export class MysqlPool extends Pool<MysqlServerConnection, boolean, MysqlServerAddress> {
  constructor(address: MysqlServerAddress, config: PoolConfig) {
    super(address, config, new MysqlDriver(address));
  }
}
