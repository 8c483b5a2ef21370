// The versioned runtime topology of one protocol's shards: every server with its pools and live
// state, every shard with its key range. The router sees it through view(), a TopologyView whose
// ServerView objects the probe loop and executor update in place. Changes of shape (rules, a
// cutover's switch, a promotion) bump the version and build a new view atomically: a plan made
// against version N names servers of N. The protocol's part is a TopologySide: which shards of
// the config, how its servers are logged in to, its pool and its prober.
import type { PoolConfig, ShardConfig, ShardgateConfig } from '../config/schema.js';
import { type KeyRange, parseKeyRange } from '../domain/keyspace.js';
import type { ServerView, ShardView, TopologyView } from '../router/inputs.js';
import { positionCovers } from '../router/positions.js';
import { backendLogin } from './backend-login.js';
import { resolveBackendTls, sameTls } from './backend-tls.js';
import { type BackendIdentity, IdentityPools, type RetirablePool } from './identity.js';
import type { PoolAddress } from './pool.js';
import { ProbeLoop, type Prober, type Protocol } from './probe-loop.js';
import { applyPromotions, recordPromotion } from './promotions.js';
import type { ServerLogin, ServerPlace } from './server-address.js';
import { serverNames } from './server-names.js';
import type { ServerEvents } from './shunning.js';

/**
 * How long a dropped server's pools keep their connections after a rebuild: past the release of a
 * switch's held writes, which came back within a few hundred ms of it in the split bench.
 */
const RETIRED_POOL_LINGER_MS = 2_000;

/** What a topology's servers are reached at: the pool's address, whatever the protocol adds. */
export interface TopologyAddress extends PoolAddress, ServerLogin {}

/** What the topology needs of a pool (pool.ts, whatever its connection and flavour). */
export interface TopologyPool<A> {
  readonly address: A;
  serverEvents: ServerEvents | null;
  updateConfig(config: PoolConfig): void;
  abortSilent(ms: number, reason: string): number;
  close(): Promise<void>;
  retire(lingerMs: number, done?: () => void): void;
}

export interface TopologyServer<P extends RetirablePool> extends ServerPlace {
  /** The service identity's pool on the server's own database (monitors, migrations, service users). */
  pool: P;
  /** Pools per (identity, backend database): see identity.ts. */
  pools: IdentityPools<P>;
  view: ServerView;
}

/** Pools opened for a server before a rebuild adds it: the service pool and users' own pools. */
export interface StandbyPools<P> {
  base: P;
  identities: Array<{ identity: BackendIdentity; database: string; pool: P }>;
}

export interface TopologyShard<P extends RetirablePool> {
  name: string;
  range: KeyRange;
  readOnly: boolean;
  primary: TopologyServer<P>;
  replicas: TopologyServer<P>[];
}

/** The protocol's part of a topology. */
export interface TopologySide<P extends TopologyPool<A>, A extends TopologyAddress, C, X extends object> {
  readonly protocol: Protocol;
  /** The config's list of this protocol's shards. */
  readonly shardList: 'shards' | 'mysqlShards';
  makePool(address: A, config: PoolConfig): P;
  /** How a user's own pool logs in (the service identity keeps the configured login). */
  userLogin(identity: BackendIdentity): Partial<A>;
  readonly prober: Prober<C, A, X>;
}

/** The address a pool of `identity` on `database` logs in with, for either protocol. */
export function identityAddress<A extends TopologyAddress>(
  side: { userLogin(identity: BackendIdentity): Partial<A> },
  base: A,
  identity: BackendIdentity,
  database: string,
): A {
  return { ...base, database, ...(identity.service ? {} : side.userLogin(identity)) };
}

/** The pool settings of a shard's servers: pool.*, with the shard's own poolSize when it has one. */
export function shardPoolConfig(config: ShardgateConfig, shard: ShardConfig): PoolConfig {
  return shard.poolSize === undefined ? config.pool : { ...config.pool, size: shard.poolSize };
}

export class Topology<P extends TopologyPool<A>, A extends TopologyAddress, C, X extends object> {
  protected servers = new Map<string, TopologyServer<P>>();
  protected shards: TopologyShard<P>[] = [];
  private currentView!: TopologyView;
  version = 0;
  readonly monitor: ProbeLoop<C, A, X>;
  private drained = new Set<string>();
  private readonly listeners = new Set<(view: TopologyView) => void>();
  private readonly fenceForwards = new Set<(shard: string, position: string, protocol: Protocol) => void>();
  /** Fences taken for the other protocol's shards, by protocol and shard: replayed to a late forwardFences. */
  private readonly foreignFences = new Map<string, { shard: string; position: string; protocol: Protocol }>();
  /** Server connections lost under a client, and reads re-planned onto another server after one. */
  readonly faultCounters = { serverConnectionsLost: 0, readRetries: 0 };
  /** Replicas promoted since start, by shard (see promotions.ts). */
  private readonly promoted = new Map<string, string>();
  /** Pools of servers a rebuild dropped, still ending their connections: close() ends them now. */
  private readonly retired = new Set<IdentityPools<P>>();
  /** Told of each primary change (shard, new primary, old primary). */
  onPromotion: ((shard: string, server: string, previous: string) => void) | null = null;

  constructor(
    protected config: ShardgateConfig,
    protected readonly side: TopologySide<P, A, C, X>,
  ) {
    this.monitor = new ProbeLoop(this, config, side.prober);
    this.monitor.onPrimarySeen = (name) => this.primarySeen(name);
    this.rebuild(config);
  }

  get protocol(): Protocol {
    return this.side.protocol;
  }

  /** A replica reports it is a primary: promoted, if its shard's primary is out of rotation. */
  private primarySeen(name: string): void {
    const promotion = recordPromotion(this.shards, this.promoted, name);
    if (!promotion) return;
    this.rebuild(this.config);
    this.onPromotion?.(promotion.shard, name, promotion.previous);
  }

  /** Pools opened ahead for `name` at `address` (PostgreSQL's prewarm), if any. */
  protected takeStandby(_name: string, _address: A): StandbyPools<P> | undefined {
    return undefined;
  }

  /** Applies a new config (rules change, cutover switch): pools of unchanged servers are kept. */
  rebuild(configured: ShardgateConfig): void {
    const config = applyPromotions(configured, this.promoted, this.side.shardList);
    this.config = config;
    const login = backendLogin(config, this.side.protocol);
    const next = new Map<string, TopologyServer<P>>();
    const make = (
      shard: ShardConfig,
      name: string,
      role: 'primary' | 'replica',
      index: number,
    ): TopologyServer<P> => {
      const server = role === 'primary' ? shard.primary : shard.replicas[index]!;
      const database = server.database ?? login.database;
      const tls = resolveBackendTls(login.tls, server.tls);
      const poolConfig = shardPoolConfig(config, shard);
      const existing = this.servers.get(name);
      if (
        existing &&
        existing.host === server.host &&
        existing.port === server.port &&
        existing.database === database &&
        existing.shard === shard.name &&
        existing.role === role &&
        sameTls(existing.pool.address.tls, tls)
      ) {
        for (const p of existing.pools.all()) p.updateConfig(poolConfig);
        next.set(name, existing);
        existing.view.drained = this.drained.has(name);
        return existing;
      }
      const place: ServerPlace = {
        name,
        shard: shard.name,
        role,
        host: server.host,
        port: server.port,
        database,
      };
      const address = {
        ...place,
        user: login.user,
        password: login.password,
        allowCleartextPassword: login.allowCleartextPassword,
        tls,
      } as A;
      const standby = this.takeStandby(name, address);
      const pool = standby?.base ?? this.side.makePool(address, poolConfig);
      pool.updateConfig(poolConfig);
      pool.serverEvents = {
        failed: (reason) => this.monitor.shun(name, reason),
        shunned: () => this.monitor.isShunned(name),
      };
      const runtime: TopologyServer<P> = {
        ...place,
        pool,
        pools: new IdentityPools(pool, (identity, db) => {
          const own = this.side.makePool(
            identityAddress(this.side, address, identity, db),
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
      for (const s of standby?.identities ?? []) {
        s.pool.updateConfig(poolConfig);
        s.pool.serverEvents = pool.serverEvents;
        runtime.pools.adopt(s.identity, s.database, s.pool);
      }
      next.set(name, runtime);
      return runtime;
    };
    const shards = config[this.side.shardList].map((shard): TopologyShard<P> => {
      const names = serverNames(shard);
      return {
        name: shard.name,
        range: parseKeyRange(shard.keyRange),
        readOnly: shard.readOnly,
        primary: make(shard, names.primary, 'primary', 0),
        replicas: names.replicas.map((n, i) => make(shard, n, 'replica', i)),
      };
    });
    for (const [name, old] of this.servers) {
      if (next.get(name) === old) continue;
      // Not closed in this step: a switch releases its held writes right after it (Pool.retire).
      this.retired.add(old.pools);
      old.pools.retire(RETIRED_POOL_LINGER_MS, () => this.retired.delete(old.pools));
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

  server(name: string): TopologyServer<P> | undefined {
    return this.servers.get(name);
  }

  allServers(): TopologyServer<P>[] {
    return [...this.servers.values()];
  }

  shardList(): TopologyShard<P>[] {
    return this.shards;
  }

  shardNames(): string[] {
    return this.shards.map((s) => s.name);
  }

  hasReplicas(shard: string): boolean {
    return (this.shards.find((s) => s.name === shard)?.replicas.length ?? 0) > 0;
  }

  /** The default shard's primary (server parameters and version for new clients). */
  defaultPrimary(): TopologyServer<P> {
    const shard = this.shards.find((s) => s.name === this.currentView.defaultShard) ?? this.shards[0]!;
    return shard.primary;
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
   * Takes every replica of `shard` out of rotation until it has replayed `position` (its primary's
   * position at a cutover's switch: until then it lacks rows the shard's reads already expect).
   * Called in the same synchronous step as the switch's rebuild, so no read sees the replicas first.
   */
  fenceReplicas(shard: string, position: string, protocol: Protocol = this.protocol): void {
    for (const forward of this.fenceForwards) forward(shard, position, protocol);
    // The other side's topology may not exist yet (a migration's restore at start runs first):
    // keep its fences and hand them over when it subscribes (forwardFences).
    if (protocol !== this.protocol)
      this.foreignFences.set(`${protocol}\u0000${shard}`, { shard, position, protocol });
    // Shard names repeat across the protocols (PostgreSQL s0, MySQL s0): a position fences only
    // the side whose migration took it (an LSN never covers a GTID and would fence for ever).
    if (protocol !== this.protocol) return;
    const s = this.shards.find((x) => x.name === shard);
    if (!s) return;
    for (const r of s.replicas) {
      if (r.view.position === null || !positionCovers(r.view.position, position)) r.view.catchUpTo = position;
    }
  }

  /**
   * Passes every fence on to another topology (proxy.ts: the migration manager and the cutover
   * members fence through the PostgreSQL topology, the MySQL side's shards live in its own).
   */
  forwardFences(to: (shard: string, position: string, protocol: Protocol) => void): void {
    this.fenceForwards.add(to);
    for (const f of this.foreignFences.values()) to(f.shard, f.position, f.protocol);
  }

  /** read_your_writes: wait until a replica has replayed `position`; false on timeout. */
  waitForPosition(server: string, position: string, maxWaitMs: number): Promise<boolean> {
    return this.monitor.waitForPosition(server, position, maxWaitMs);
  }

  async close(): Promise<void> {
    this.monitor.stop();
    const retired = [...this.retired];
    this.retired.clear();
    await Promise.all(
      [...this.servers.values(), ...retired.map((pools) => ({ pools }))].map((s) => s.pools.close()),
    );
  }
}
