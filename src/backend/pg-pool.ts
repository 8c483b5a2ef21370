// The PostgreSQL driver of the generic pool (pool.ts), and PgPool: a pool of PgServerConnections
// that also keeps the server parameters of its first connection (ParameterStatus for clients).
import type { PoolConfig } from '../config/schema.js';
import { PgServerConnection, type ServerAddress } from './pg-server-connection.js';
import { Pool, type PoolDriver } from './pool.js';

class PgDriver implements PoolDriver<PgServerConnection, void> {
  parameters: Map<string, string> | null = null;

  constructor(private readonly address: ServerAddress) {}

  async connect(_flavour: unknown, timeoutMs: number): Promise<PgServerConnection> {
    const conn = await PgServerConnection.connect(this.address, timeoutMs);
    this.parameters ??= new Map(conn.parameters);
    return conn;
  }

  async validate(conn: PgServerConnection, query: string, timeoutMs: number): Promise<void> {
    await conn.exec(query, timeoutMs);
  }

  /** Returned clean (transaction status I, reset done): only the session's data handler goes. */
  reset(conn: PgServerConnection): boolean {
    conn.onData = null;
    return true;
  }

  close(conn: PgServerConnection): void {
    conn.terminate();
  }

  flavourOf(): void {}

  /** A PostgreSQL connection reports a close only when the server ended it. */
  closedLocally(): boolean {
    return false;
  }
}

export class PgPool extends Pool<PgServerConnection, void, ServerAddress> {
  constructor(address: ServerAddress, config: PoolConfig) {
    super(address, config, new PgDriver(address));
  }

  /** Server parameters learned from the first connection (ParameterStatus for clients). */
  get parameters(): Map<string, string> | null {
    return (this.driver as PgDriver).parameters;
  }
}
