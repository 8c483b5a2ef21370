// The PostgreSQL side's topology (topology.ts with PgPool and the PostgreSQL prober), and what only
// it does: pools opened ahead of a split's cutover (prewarm), a client database mapped to a
// backend database per shard, pools of a named role, and ParameterStatus values for new clients.
import type { ServerConfig, ShardgateConfig } from '../config/schema.js';
import { type BackendIdentity, backendDatabase, configuredIdentity, SERVICE_IDENTITY } from './identity.js';
import { PgPool } from './pg-pool.js';
import { type PgHealthFigures, pgProber } from './pg-prober.js';
import type { PgServerConnection, ServerAddress } from './pg-server-connection.js';
import { Topology, type TopologyServer, type TopologyShard, type TopologySide } from './topology.js';

export type RuntimeServer = TopologyServer<PgPool>;
export type RuntimeShard = TopologyShard<PgPool>;

const postgresSide: TopologySide<PgPool, ServerAddress, PgServerConnection, PgHealthFigures> = {
  protocol: 'postgres',
  shardList: 'shards',
  login: (config) => ({
    user: config.backend.user,
    password: config.backend.password,
    database: config.backend.database,
    tls: config.backend.tls,
    allowCleartextPassword: config.backend.allowCleartextPassword,
  }),
  makePool: (address, config) => new PgPool(address, config),
  identityAddress: (base, identity, database) => ({
    ...base,
    database,
    ...(identity.service
      ? {}
      : { user: identity.user, password: identity.password, scramKeys: identity.scramKeys }),
  }),
  prober: pgProber,
};

export class RuntimeTopology extends Topology<PgPool, ServerAddress, PgServerConnection, PgHealthFigures> {
  /** Pools opened ahead of a rebuild that will add their server (see prewarm). */
  private readonly standby = new Map<string, PgPool>();

  constructor(config: ShardgateConfig) {
    super(config, postgresSide);
  }

  /**
   * Opens `connections` to a server a coming rebuild will add as `shard`'s primary (a split's
   * target), so the statements a cutover releases do not each wait for a connection to be set up.
   * The next rebuild that names the server takes the pool over; a rebuild that does not keeps it.
   */
  async prewarm(name: string, shard: string, server: ServerConfig, connections: number): Promise<void> {
    const database = server.database ?? this.config.backend.database;
    let pool = this.standby.get(name);
    if (!pool) {
      pool = new PgPool(
        {
          name,
          shard,
          role: 'primary',
          host: server.host,
          port: server.port,
          database,
          user: this.config.backend.user,
          password: this.config.backend.password,
        },
        this.config.pool,
      );
      this.standby.set(name, pool);
    }
    const n = Math.max(0, Math.min(connections, this.config.pool.size));
    const opened = await Promise.all(Array.from({ length: n }, () => pool.acquire()));
    for (const c of opened) pool.release(c);
  }

  protected override takeStandby(name: string, address: ServerAddress): PgPool | undefined {
    // Called from the constructor's first rebuild, before this class's fields exist.
    const pool = this.standby?.get(name);
    if (!pool) return undefined;
    this.standby.delete(name);
    const a = pool.address;
    if (
      a.host === address.host &&
      a.port === address.port &&
      a.database === address.database &&
      a.shard === address.shard
    )
      return pool;
    void pool.close();
    return undefined;
  }

  /** The pool a session of `identity` connected to `clientDatabase` uses on `server`. */
  poolFor(server: RuntimeServer, identity: BackendIdentity, clientDatabase: string): PgPool {
    const database = backendDatabase(this.config, clientDatabase, server.shard, server.database);
    return server.pools.poolFor(identity, database, server.database);
  }

  /**
   * A pool logging in to `server`'s own database as `role`: from a secret of the config, else one a
   * client of that role opened since start; null when shardgate knows no way to be that role.
   */
  rolePool(server: RuntimeServer, role: string): PgPool | null {
    const identity = configuredIdentity(this.config, role);
    if (identity) return server.pools.poolFor(identity, server.database, server.database);
    return server.pools.existingFor(role, server.database) ?? null;
  }

  /**
   * ParameterStatus values for new clients, from the default shard's primary as the client's
   * identity (is_superuser and session_authorization are the role's); its first connection
   * also proves the server accepts the role.
   */
  async serverParameters(
    identity: BackendIdentity = SERVICE_IDENTITY,
    clientDatabase = '',
  ): Promise<Map<string, string>> {
    const pool = this.poolFor(this.defaultPrimary(), identity, clientDatabase);
    if (!pool.parameters) {
      const conn = await pool.acquire();
      pool.release(conn);
    }
    return pool.parameters ?? new Map();
  }

  override async close(): Promise<void> {
    for (const pool of this.standby.values()) void pool.close();
    this.standby.clear();
    await super.close();
  }
}
