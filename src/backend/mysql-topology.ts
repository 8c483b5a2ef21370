// The MySQL side's runtime topology (the twin of topology.ts): every server of `mysqlShards` with
// its MysqlPool and live ServerView, behind the same TopologyView the router plans against. The
// routing rules (tables, data types, routing) are the config's, shared with the PostgreSQL side,
// so a rule change applied there is applied here too (see proxy.ts). Shunning and promotions are
// the PostgreSQL side's mechanisms (shunning.ts, promotions.ts).
import type { ShardConfig, ShardgateConfig } from '../config/schema.js';
import { type KeyRange, parseKeyRange } from '../domain/keyspace.js';
import type { ServerView, ShardView, TopologyView } from '../router/inputs.js';
import { resolveBackendTls, sameTls } from './backend-tls.js';
import { IdentityPools } from './identity.js';
import { MysqlLagMonitor } from './mysql-lag-monitor.js';
import { MysqlPool } from './mysql-pool.js';
import { applyPromotions, recordPromotion } from './promotions.js';
import { serverNames, shardPoolConfig } from './topology.js';

export interface MysqlRuntimeServer {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  host: string;
  port: number;
  database: string;
  /** The service identity's pool (monitors, service users). */
  pool: MysqlPool;
  /** Pools per identity (identity.ts); a session's schema is set on each use, so one per user. */
  pools: IdentityPools<MysqlPool>;
  view: ServerView;
}

export interface MysqlRuntimeShard {
  name: string;
  range: KeyRange;
  readOnly: boolean;
  primary: MysqlRuntimeServer;
  replicas: MysqlRuntimeServer[];
}

export class MysqlTopology {
  private servers = new Map<string, MysqlRuntimeServer>();
  private shards: MysqlRuntimeShard[] = [];
  private currentView!: TopologyView;
  version = 0;
  readonly monitor: MysqlLagMonitor;
  private readonly listeners = new Set<(view: TopologyView) => void>();
  /** Server connections lost under a client, and reads re-planned onto another server after one. */
  readonly faultCounters = { serverConnectionsLost: 0, readRetries: 0 };
  /** Replicas promoted since start, by shard (see promotions.ts). */
  private readonly promoted = new Map<string, string>();
  /** Told of each primary change (shard, new primary, old primary). */
  onPromotion: ((shard: string, server: string, previous: string) => void) | null = null;

  constructor(private config: ShardgateConfig) {
    this.monitor = new MysqlLagMonitor(this, config);
    this.monitor.onPrimarySeen = (name) => this.primarySeen(name);
    this.rebuild(config);
  }

  /** A replica reports it is a primary: promoted, if its shard's primary is out of rotation. */
  private primarySeen(name: string): void {
    const promotion = recordPromotion(this.shards, this.promoted, name);
    if (!promotion) return;
    this.rebuild(this.config);
    this.onPromotion?.(promotion.shard, name, promotion.previous);
  }

  /** Applies a new config: pools of unchanged servers are kept; promotions since start stay. */
  rebuild(configured: ShardgateConfig): void {
    const config = applyPromotions(configured, this.promoted, 'mysqlShards');
    this.config = config;
    const next = new Map<string, MysqlRuntimeServer>();
    const shards: MysqlRuntimeShard[] = [];
    const make = (shard: ShardConfig, name: string, role: 'primary' | 'replica', index: number) => {
      const server = role === 'primary' ? shard.primary : shard.replicas[index]!;
      const database = server.database ?? config.backend.mysqlDatabase;
      const existing = this.servers.get(name);
      if (
        existing &&
        existing.host === server.host &&
        existing.port === server.port &&
        existing.database === database &&
        existing.shard === shard.name &&
        existing.role === role &&
        sameTls(existing.pool.address.tls, resolveBackendTls(config.backend.mysqlTls, server.tls))
      ) {
        for (const p of existing.pools.all()) p.updateConfig(shardPoolConfig(config, shard));
        next.set(name, existing);
        return existing;
      }
      const address = {
        name,
        shard: shard.name,
        role,
        host: server.host,
        port: server.port,
        database,
        user: config.backend.mysqlUser,
        password: config.backend.mysqlPassword,
        allowCleartextPassword: config.backend.allowCleartextPassword,
        tls: resolveBackendTls(config.backend.mysqlTls, server.tls),
      };
      const pool = new MysqlPool(address, shardPoolConfig(config, shard));
      const runtime: MysqlRuntimeServer = {
        name,
        shard: shard.name,
        role,
        host: server.host,
        port: server.port,
        database,
        pool,
        pools: new IdentityPools(pool, (identity) => {
          const own = new MysqlPool(
            { ...address, user: identity.user, password: identity.password },
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
          drained: false,
          lagMs: role === 'primary' ? 0 : null,
          position: null,
          outstanding: 0,
          rttMs: null,
        },
      };
      runtime.pool.serverEvents = {
        failed: (reason) => this.monitor.shun(name, reason),
        shunned: () => this.monitor.isShunned(name),
      };
      next.set(name, runtime);
      return runtime;
    };
    for (const shard of config.mysqlShards) {
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
    const names = shards.map((s) => s.name);
    const wanted = config.routing.defaultShard;
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
      defaultShard: wanted && names.includes(wanted) ? wanted : (names[0] ?? ''),
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

  server(name: string): MysqlRuntimeServer | undefined {
    return this.servers.get(name);
  }

  allServers(): MysqlRuntimeServer[] {
    return [...this.servers.values()];
  }

  shardList(): MysqlRuntimeShard[] {
    return this.shards;
  }

  shardNames(): string[] {
    return this.shards.map((s) => s.name);
  }

  hasReplicas(shard: string): boolean {
    return (this.shards.find((s) => s.name === shard)?.replicas.length ?? 0) > 0;
  }

  defaultPrimary(): MysqlRuntimeServer {
    const shard = this.shards.find((s) => s.name === this.currentView.defaultShard) ?? this.shards[0]!;
    return shard.primary;
  }

  /** A connection to `name` failed or died: out of rotation until its probes succeed again. */
  shun(name: string, reason: string): void {
    this.monitor.shun(name, reason);
  }

  setDrained(server: string, drained: boolean): void {
    const s = this.servers.get(server);
    if (s) s.view.drained = drained;
  }

  waitForPosition(server: string, position: string, maxWaitMs: number): Promise<boolean> {
    return this.monitor.waitForPosition(server, position, maxWaitMs);
  }

  async close(): Promise<void> {
    this.monitor.stop();
    await Promise.all([...this.servers.values()].map((s) => s.pools.close()));
  }
}
