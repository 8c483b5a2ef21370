// The PostgreSQL side's topology (topology.ts with PgPool and the PostgreSQL prober), and what only
// it does: pools opened ahead of a split's cutover (prewarm), a client database mapped to a
// backend database per shard, pools of a named role, and ParameterStatus values for new clients.
import type { ServerConfig, ShardgateConfig } from '../config/schema.js';
import { Gate } from './gate.js';
import {
  type BackendIdentity,
  backendDatabase,
  configuredIdentity,
  identityPoolKey,
  SERVICE_IDENTITY,
} from './identity.js';
import { PgPool } from './pg-pool.js';
import { type PgHealthFigures, pgProber } from './pg-prober.js';
import type { PgServerConnection, ServerAddress } from './pg-server-connection.js';
import {
  identityAddress,
  type StandbyPools,
  Topology,
  type TopologyServer,
  type TopologySide,
} from './topology.js';

/** Two: one can log in while the other forks, and the proxy thread never queues a burst. */
const PREWARM_OPENING = 2;

export type RuntimeServer = TopologyServer<PgPool>;

const postgresSide: TopologySide<PgPool, ServerAddress, PgServerConnection, PgHealthFigures> = {
  protocol: 'postgres',
  shardList: 'shards',
  makePool: (address, config) => new PgPool(address, config),
  userLogin: (identity) => ({
    user: identity.user,
    password: identity.password,
    scramKeys: identity.scramKeys,
  }),
  prober: pgProber,
};

export class RuntimeTopology extends Topology<PgPool, ServerAddress, PgServerConnection, PgHealthFigures> {
  /** Pools opened ahead of a rebuild that will add their server (see prewarm). */
  private readonly standby = new Map<string, StandbyPools<PgPool>>();
  /**
   * Readies a connection prewarm opened as the clients of `like` (a source's pool) want it: the
   * PostgreSQL front end sets their session settings (server-binding.ts, warmLike). Null: as opened.
   */
  warmLike: ((conn: PgServerConnection, like: PgPool) => Promise<void>) | null = null;
  /** Connections prewarm opens at once, over every target and identity (see warm below). */
  private readonly opening = new Gate(PREWARM_OPENING);

  constructor(config: ShardgateConfig) {
    super(config, postgresSide);
  }

  /**
   * Opens connections to a server a coming rebuild will add as `shard`'s primary (a split's
   * target), so the statements a cutover releases do not each wait for a connection to be set up:
   * `connections` of the service identity, and for each user with own pools open on the primaries
   * of `sources` (the shards the target takes over) as many as those pools hold together, logged
   * in the same way. Users reach the servers as their own roles unless `backend: service`, so the service pool
   * alone leaves every released write of theirs to open a connection (fork, login) on the target.
   * Each connection also gets the session settings the clients of its source pool use (warmLike),
   * so a released write's first statement there needs no settings round trip either.
   * The next rebuild that names the server takes the pools over; a rebuild that does not keeps them.
   */
  async prewarm(
    name: string,
    shard: string,
    server: ServerConfig,
    connections: number,
    sources: readonly string[] = [],
  ): Promise<void> {
    const database = server.database ?? this.config.backend.database;
    const address: ServerAddress = {
      name,
      shard,
      role: 'primary',
      host: server.host,
      port: server.port,
      database,
      user: this.config.backend.user,
      password: this.config.backend.password,
    };
    let standby = this.standby.get(name);
    if (!standby) {
      standby = { base: new PgPool(address, this.config.pool), identities: [] };
      this.standby.set(name, standby);
    }
    // Opened a few at a time and held until all are open (so each acquire opens a new one): opening
    // them all at once (dozens of forks, logins and settings round trips on two cores) stalled the
    // proxy thread and the servers for up to 100 ms right before the block (bench split, "slowest
    // write catching up, before the block"). Before the block there is time; inside it there is none.
    const warm = async (pool: PgPool, n: number, like: PgPool | undefined) => {
      const held: PgServerConnection[] = [];
      try {
        for (let i = 0; i < Math.max(0, Math.min(n, this.config.pool.size)); i++) {
          const conn = await this.opening.run(() => pool.acquire());
          try {
            if (like && this.warmLike) await this.warmLike(conn, like);
          } catch {
            // A setting the server refuses: the client's own sync will say so, on a fresh connection.
            pool.discard(conn);
            continue;
          }
          held.push(conn);
        }
      } finally {
        for (const conn of held) pool.release(conn);
      }
    };
    const ready = standby;
    const sourceShards = this.shards.filter((s) => sources.includes(s.name));
    // One warm-up per identity: a merge's two sources hold pools of the same users, and two
    // warm-ups of one target pool, each holding its connections until all are open, would wait
    // on each other at the pool's size.
    const own = new Map<string, { identity: BackendIdentity; like: PgPool; connections: number }>();
    for (const s of sourceShards)
      for (const p of s.primary.pools.identityPools()) {
        // Only pools on the source's own database: a `databases:` mapping names its database per shard.
        if (p.database !== s.primary.database) continue;
        const key = identityPoolKey(p.identity, database);
        const seen = own.get(key);
        if (seen) seen.connections += p.pool.size;
        else own.set(key, { identity: p.identity, like: p.pool, connections: p.pool.size });
      }
    const [base] = await Promise.allSettled([
      warm(ready.base, connections, sourceShards[0]?.primary.pool),
      ...[...own].map(async ([key, { identity, like, connections: wanted }]) => {
        let entry = ready.identities.find((e) => identityPoolKey(e.identity, e.database) === key);
        if (!entry) {
          const pool = new PgPool(
            identityAddress(postgresSide, address, identity, database),
            this.config.pool,
          );
          entry = { identity, database, pool };
          ready.identities.push(entry);
        }
        const target = entry;
        try {
          await warm(target.pool, wanted, like);
        } catch {
          // This identity could not log in there (a SCRAM proof is per server): not taken over, its
          // first statements there open connections as before.
          const at = ready.identities.indexOf(target);
          if (at >= 0) ready.identities.splice(at, 1);
          void target.pool.close();
        }
      }),
    ]);
    if (base.status === 'rejected') throw base.reason;
  }

  protected override takeStandby(name: string, address: ServerAddress): StandbyPools<PgPool> | undefined {
    // Called from the constructor's first rebuild, before this class's fields exist.
    const standby = this.standby?.get(name);
    if (!standby) return undefined;
    this.standby.delete(name);
    const a = standby.base.address;
    if (
      a.host === address.host &&
      a.port === address.port &&
      a.database === address.database &&
      a.shard === address.shard
    )
      return standby;
    void standby.base.close();
    for (const e of standby.identities) void e.pool.close();
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
    for (const standby of this.standby.values())
      for (const pool of [standby.base, ...standby.identities.map((e) => e.pool)]) void pool.close();
    this.standby.clear();
    await super.close();
  }
}
