// The versioned runtime topology: every server with its pool and live state, every shard with
// its key range. The router sees it through view(), a TopologyView whose ServerView objects the
// lag monitor and executor update in place. Changes of shape (rules, a cutover's switch) bump the
// version and build a new view atomically: a plan made against version N names servers of N.
import type { PoolConfig, ServerConfig, ShardConfig, ShardgateConfig } from '../config/schema.js';
import type { ServerView, ShardView, TopologyView } from '../router/inputs.js';
import { type KeyRange, parseKeyRange } from '../router/sharding/keyspace.js';
import { resolveBackendTls, sameTls } from './backend-tls.js';
import {
  type BackendIdentity,
  backendDatabase,
  configuredIdentity,
  IdentityPools,
  SERVICE_IDENTITY,
} from './identity.js';
import { LagMonitor } from './lag-monitor.js';
import { PgPool } from './pg-pool.js';
import { applyPromotions, recordPromotion } from './promotions.js';

export interface RuntimeServer {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  host: string;
  port: number;
  database: string;
  /** The service identity's pool on the server's own database (monitors, migrations, service users). */
  pool: PgPool;
  /** Pools per (identity, backend database): see identity.ts. */
  pools: IdentityPools<PgPool>;
  view: ServerView;
}

export interface RuntimeShard {
  name: string;
  range: KeyRange;
  readOnly: boolean;
  primary: RuntimeServer;
  replicas: RuntimeServer[];
}

export function serverNames(shard: ShardConfig): { primary: string; replicas: string[] } {
  return {
    primary: shard.primary.name ?? `${shard.name}-primary`,
    replicas: shard.replicas.map((r, i) => r.name ?? `${shard.name}-replica${i + 1}`),
  };
}

/** The pool settings of a shard's servers: pool.*, with the shard's own poolSize when it has one. */
export function shardPoolConfig(config: ShardgateConfig, shard: ShardConfig): PoolConfig {
  return shard.poolSize === undefined ? config.pool : { ...config.pool, size: shard.poolSize };
}

export class RuntimeTopology {
  private servers = new Map<string, RuntimeServer>();
  private shards: RuntimeShard[] = [];
  private currentView!: TopologyView;
  version = 0;
  readonly monitor: LagMonitor;
  private drained = new Set<string>();
  /** Pools opened ahead of a rebuild that will add their server (see prewarm). */
  private readonly standby = new Map<string, PgPool>();
  private readonly listeners = new Set<(view: TopologyView) => void>();
  /** Server connections lost under a client, and reads re-planned onto another server after one. */
  readonly faultCounters = { serverConnectionsLost: 0, readRetries: 0 };
  /** Replicas promoted since start, by shard (see promotions.ts). */
  private readonly promoted = new Map<string, string>();
  /** Told of each primary change (shard, new primary, old primary). */
  onPromotion: ((shard: string, server: string, previous: string) => void) | null = null;

  constructor(private config: ShardgateConfig) {
    this.monitor = new LagMonitor(this, config);
    this.monitor.onPrimarySeen = (name) => this.primarySeen(name);
    this.rebuild(config);
  }

  /** A replica reports it is not in recovery: promoted, if its shard's primary is out of rotation. */
  private primarySeen(name: string): void {
    const promotion = recordPromotion(this.shards, this.promoted, name);
    if (!promotion) return;
    this.rebuild(this.config);
    this.onPromotion?.(promotion.shard, name, promotion.previous);
  }

  /** Applies a new config (rules change, cutover switch): pools of unchanged servers are kept. */
  rebuild(configured: ShardgateConfig): void {
    const config = applyPromotions(configured, this.promoted);
    this.config = config;
    const next = new Map<string, RuntimeServer>();
    const shards: RuntimeShard[] = [];
    const make = (
      shard: ShardConfig,
      name: string,
      role: 'primary' | 'replica',
      index: number,
    ): RuntimeServer => {
      const server = role === 'primary' ? shard.primary : shard.replicas[index]!;
      const database = server.database ?? config.backend.database;
      const existing = this.servers.get(name);
      if (
        existing &&
        existing.host === server.host &&
        existing.port === server.port &&
        existing.database === database &&
        existing.shard === shard.name &&
        existing.role === role &&
        sameTls(existing.pool.address.tls, resolveBackendTls(config.backend.tls, server.tls))
      ) {
        for (const p of existing.pools.all()) p.updateConfig(shardPoolConfig(config, shard));
        next.set(name, existing);
        existing.view.drained = this.drained.has(name);
        return existing;
      }
      const address = {
        name,
        shard: shard.name,
        role,
        host: server.host,
        port: server.port,
        database,
        user: config.backend.user,
        password: config.backend.password,
        allowCleartextPassword: config.backend.allowCleartextPassword,
        tls: resolveBackendTls(config.backend.tls, server.tls),
      };
      const pool = this.takeStandby(name, address) ?? new PgPool(address, shardPoolConfig(config, shard));
      const runtime: RuntimeServer = {
        name,
        shard: shard.name,
        role,
        host: server.host,
        port: server.port,
        database,
        pool,
        pools: new IdentityPools(pool, (identity, db) => {
          const own = new PgPool(
            {
              ...address,
              database: db,
              ...(identity.service
                ? {}
                : { user: identity.user, password: identity.password, scramKeys: identity.scramKeys }),
            },
            shardPoolConfig(this.config, shard),
          );
          // A user's own pool shuns the server on a failure like the service pool does.
          own.serverEvents = pool.serverEvents;
          return own;
        }),
        view: {
          name,
          shard: shard.name,
          role,
          // A server changing role keeps its known health until its new probe reports.
          healthy: existing ? existing.view.healthy : true,
          drained: this.drained.has(name),
          lagMs: role === 'primary' ? 0 : null,
          position: null,
          outstanding: 0,
          rttMs: null,
        },
      };
      runtime.pool.updateConfig(shardPoolConfig(config, shard));
      runtime.pool.serverEvents = {
        failed: (reason) => this.monitor.shun(name, reason),
        shunned: () => this.monitor.isShunned(name),
      };
      next.set(name, runtime);
      return runtime;
    };
    for (const shard of config.shards) {
      const names = serverNames(shard);
      shards.push({
        name: shard.name,
        range: parseKeyRange(shard.keyRange),
        readOnly: shard.readOnly,
        primary: make(shard, names.primary, 'primary', 0),
        replicas: names.replicas.map((n, i) => make(shard, n, 'replica', i)),
      });
    }
    for (const [name, old] of this.servers) {
      if (next.get(name) !== old) void old.pools.close();
    }
    this.servers = next;
    this.shards = shards;
    this.version++;
    this.currentView = {
      version: this.version,
      shards: shards.map(
        (s): ShardView => ({
          name: s.name,
          range: s.range,
          readOnly: s.readOnly,
          primary: s.primary.view,
          replicas: s.replicas.map((r) => r.view),
        }),
      ),
      defaultShard: config.routing.defaultShard ?? config.shards[0]!.name,
      tables: config.tables,
      dataTypes: config.dataTypes,
      routing: config.routing,
    };
    this.monitor.sync();
    for (const l of this.listeners) l(this.currentView);
  }

  get currentConfig(): ShardgateConfig {
    return this.config;
  }

  view(): TopologyView {
    return this.currentView;
  }

  onChange(listener: (view: TopologyView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  server(name: string): RuntimeServer | undefined {
    return this.servers.get(name);
  }

  allServers(): RuntimeServer[] {
    return [...this.servers.values()];
  }

  shardList(): RuntimeShard[] {
    return this.shards;
  }

  shardNames(): string[] {
    return this.shards.map((s) => s.name);
  }

  hasReplicas(shard: string): boolean {
    return (this.shards.find((s) => s.name === shard)?.replicas.length ?? 0) > 0;
  }

  /** A connection to `name` failed or died: out of rotation until its probes succeed again. */
  shun(name: string, reason: string): void {
    this.monitor.shun(name, reason);
  }

  /** Operator rule: stop sending reads to a replica (without closing its connections). */
  setDrained(server: string, drained: boolean): void {
    if (drained) this.drained.add(server);
    else this.drained.delete(server);
    const s = this.servers.get(server);
    if (s) s.view.drained = drained;
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

  private takeStandby(
    name: string,
    address: { shard: string; host: string; port: number; database: string },
  ) {
    const pool = this.standby.get(name);
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
    const shard = this.shards.find((s) => s.name === this.currentView.defaultShard) ?? this.shards[0]!;
    const pool = this.poolFor(shard.primary, identity, clientDatabase);
    if (!pool.parameters) {
      const conn = await pool.acquire();
      pool.release(conn);
    }
    return pool.parameters ?? new Map();
  }

  /** read_your_writes: wait until a replica has replayed `position`; false on timeout. */
  waitForPosition(server: string, position: string, maxWaitMs: number): Promise<boolean> {
    return this.monitor.waitForPosition(server, position, maxWaitMs);
  }

  async close(): Promise<void> {
    this.monitor.stop();
    for (const pool of this.standby.values()) void pool.close();
    this.standby.clear();
    await Promise.all([...this.servers.values()].map((s) => s.pools.close()));
  }
}
