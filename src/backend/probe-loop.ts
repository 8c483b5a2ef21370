// Polls every server of a topology on its own connection, for either protocol: the protocol's
// part is a Prober (connect, one sample query, how far a replica is behind). The loop keeps each
// ServerView's health, lag, position and probe round-trip time up to date, takes a replica out of
// rotation when it stops answering or lags past the hard limit, and puts it back when it
// recovers. read_your_writes waiters make it poll their replica quickly until caught up.
// Shunning (shunning.ts) takes a failing server out at once; a replica that reports it is a
// primary is fenced, and the topology decides whether to follow it (promotions.ts).
import type { ShardgateConfig } from '../config/schema.js';
import type { ServerView } from '../router/inputs.js';
import { positionCovers } from '../router/positions.js';
import { type ShunHealth, Shunning, unshunned } from './shunning.js';

export type Protocol = 'postgres' | 'mysql';

/** What every server's health says, whatever its protocol; X adds the protocol's own figures. */
export type ServerHealth<X extends object = object> = ShunHealth &
  X & {
    name: string;
    shard: string;
    role: 'primary' | 'replica';
    protocol: Protocol;
    healthy: boolean;
    lagMs: number | null;
    position: string | null;
    rttMs: number | null;
    lastError: string | null;
    consecutiveFailures: number;
    /** The server's own idea of its role disagrees with the configured one. */
    roleMismatch: boolean;
  };

/** What the probe loop needs of a topology's server. */
export interface ProbedServer<A> {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  view: ServerView;
  pool: { address: A };
  pools: { all(): ReadonlyArray<{ abortSilent(ms: number, reason: string): number }> };
}

/** One probe's answer. */
export interface ProbeSample<X> {
  position: string | null;
  roleMismatch: boolean;
  /** How a replica shows it is a primary (promoted, or a rogue one), e.g. "not in recovery"; null: it does not. */
  promoted: string | null;
  /** A replica's lag in ms, given its shard's primary's last position (null: unknown); may set figures of `extra`. */
  replicaLag(primaryPosition: string | null, extra: X): number | null;
}

/** The protocol's part of the probe loop. */
export interface Prober<C, A, X extends object> {
  readonly protocol: Protocol;
  /** The protocol's own figures of a server not probed yet. */
  initial(role: 'primary' | 'replica'): X;
  connect(address: A, timeoutMs: number): Promise<C>;
  isClosed(conn: C): boolean;
  destroy(conn: C): void;
  sample(conn: C, role: 'primary' | 'replica', timeoutMs: number): Promise<ProbeSample<X>>;
  /** Heavier figures of a primary (data size, connections...), every observability.healthIntervalMs. */
  refresh?(conn: C, extra: X): Promise<void>;
}

/** What the loop needs of its topology. */
export interface ProbedTopology<A> {
  readonly currentConfig: ShardgateConfig;
  allServers(): ReadonlyArray<ProbedServer<A>>;
}

interface Waiter {
  position: string;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

class ServerProbe<C, A, X extends object> {
  conn: C | null = null;
  busy = false;
  timer: NodeJS.Timeout | null = null;
  waiters: Waiter[] = [];
  health: ServerHealth<X>;
  stopped = false;
  private refreshedAt = 0;
  readonly shunning: Shunning;

  constructor(
    public server: ProbedServer<A>,
    private readonly loop: ProbeLoop<C, A, X>,
    private readonly prober: Prober<C, A, X>,
  ) {
    const primary = server.role === 'primary';
    this.health = {
      name: server.name,
      shard: server.shard,
      role: server.role,
      protocol: prober.protocol,
      healthy: true,
      lagMs: primary ? 0 : null,
      position: null,
      rttMs: null,
      lastError: null,
      consecutiveFailures: 0,
      roleMismatch: false,
      ...unshunned(),
      ...prober.initial(server.role),
    } as ServerHealth<X>;
    this.shunning = new Shunning(
      this.health,
      server.view,
      () => loop.config,
      (shunned, reason) => loop.onShunChange?.(server.name, shunned, reason),
    );
  }

  schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref();
  }

  async poll(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    const started = performance.now();
    const config = this.loop.config;
    try {
      if (!this.conn || this.prober.isClosed(this.conn)) {
        this.conn = await this.prober.connect(
          { ...this.server.pool.address, name: `${this.server.name}/monitor` },
          config.pool.connectTimeoutMs,
        );
      }
      const sample = await this.prober.sample(this.conn, this.server.role, config.routing.probeTimeoutMs);
      this.onSample(sample, performance.now() - started);
      await this.refresh(this.conn);
    } catch (err) {
      this.onFailure(err instanceof Error ? err.message : String(err));
      // A server that does not answer its probe: statements waiting on it as long fail (a retryable
      // coded error; a read runs elsewhere) rather than hang their clients.
      const silentMs = config.routing.probeTimeoutMs;
      // Every identity's pool: clients reach the server as their own roles (identity.ts).
      for (const pool of this.server.pools.all())
        pool.abortSilent(silentMs, `no answer from the server for ${silentMs} ms`);
    } finally {
      this.busy = false;
      this.schedule(this.waiters.length > 0 ? 2 : this.shunning.nextProbeMs());
    }
  }

  /** Heavier than the lag probe, so on a slower interval, and only on primaries. */
  private async refresh(conn: C): Promise<void> {
    if (!this.prober.refresh || this.server.role !== 'primary' || this.stopped) return;
    if (Date.now() - this.refreshedAt < this.loop.config.observability.healthIntervalMs) return;
    this.refreshedAt = Date.now();
    await this.prober.refresh(conn, this.health);
  }

  /** Takes the server out of rotation now; probes bring it back (see onSample / onFailure). */
  shun(reason: string): void {
    if (this.stopped || !this.shunning.shun(reason)) return;
    // Probe soon: a refused connection fails fast, and a false alarm costs a few probes.
    if (!this.busy) this.schedule(this.shunning.backoffMs);
  }

  /** Out of rotation while the reason lasts (a replica that claims to be a primary). */
  private fence(reason: string): void {
    if (!this.stopped) this.shunning.fence(reason);
    this.health.lagMs = null;
    this.server.view.lagMs = null;
  }

  private onSample(sample: ProbeSample<X>, rtt: number): void {
    const h = this.health;
    const view = this.server.view;
    h.consecutiveFailures = 0;
    h.lastError = null;
    h.rttMs = h.rttMs === null ? rtt : h.rttMs * 0.8 + rtt * 0.2;
    h.position = sample.position;
    h.roleMismatch = sample.roleMismatch;
    view.rttMs = h.rttMs;
    view.position = sample.position;
    if (this.server.role === 'replica' && sample.promoted !== null) {
      this.fence(`it reports it is a primary (${sample.promoted})`);
      this.loop.onPrimarySeen?.(this.server.name);
      return;
    }
    const serving = this.shunning.recovered();
    if (this.server.role === 'primary') {
      h.healthy = !sample.roleMismatch && serving;
      view.healthy = h.healthy;
      return;
    }
    // A replica fenced at a cutover's switch position serves again once it has replayed it.
    if (view.catchUpTo && positionCovers(sample.position, view.catchUpTo)) view.catchUpTo = null;
    h.lagMs = sample.replicaLag(this.loop.primaryPosition(this.server.shard), h);
    const hardLimit = this.loop.config.routing.replicaHardLagLimitMs;
    // Unknown lag keeps a replica in rotation for eventual reads; no bound accepts it.
    h.healthy = serving && (h.lagMs === null || h.lagMs <= hardLimit);
    view.lagMs = h.lagMs;
    view.healthy = h.healthy;
    this.resolveWaiters();
  }

  private onFailure(message: string): void {
    const h = this.health;
    h.consecutiveFailures++;
    h.lastError = message;
    if (this.conn) {
      this.prober.destroy(this.conn);
      this.conn = null;
    }
    if (!this.stopped) this.shunning.probeFailed(message);
    if (h.consecutiveFailures >= 2) {
      h.healthy = false;
      this.server.view.healthy = false;
      if (this.server.role === 'replica') {
        h.lagMs = null;
        this.server.view.lagMs = null;
      }
    }
  }

  resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    const position = this.health.position;
    this.waiters = this.waiters.filter((w) => {
      if (positionCovers(position, w.position)) {
        clearTimeout(w.timer);
        w.resolve(true);
        return false;
      }
      return true;
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.conn) this.prober.destroy(this.conn);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters = [];
  }
}

export class ProbeLoop<C, A, X extends object> {
  private probes = new Map<string, ServerProbe<C, A, X>>();
  private running = false;
  /** Told when a server is shunned (true) or returns to rotation (false). */
  onShunChange: ((server: string, shunned: boolean, reason: string | null) => void) | null = null;
  /** Told when a replica reports it is a primary (the topology decides: promote or fence). */
  onPrimarySeen: ((server: string) => void) | null = null;

  constructor(
    private readonly topology: ProbedTopology<A>,
    public config: ShardgateConfig,
    private readonly prober: Prober<C, A, X>,
  ) {}

  get protocol(): Protocol {
    return this.prober.protocol;
  }

  start(): void {
    this.running = true;
    this.sync();
  }

  /** Follows topology changes: probes for new servers, none for removed ones. */
  sync(): void {
    this.config = this.topology.currentConfig ?? this.config;
    if (!this.running) return;
    const servers = this.topology.allServers();
    const names = new Set(servers.map((s) => s.name));
    for (const [name, probe] of this.probes) {
      if (!names.has(name)) {
        probe.stop();
        this.probes.delete(name);
      }
    }
    for (const server of servers) {
      const existing = this.probes.get(server.name);
      if (existing && existing.server === server) continue;
      existing?.stop();
      const probe = new ServerProbe(server, this, this.prober);
      this.probes.set(server.name, probe);
      probe.schedule(0);
    }
  }

  /** A connection to `server` failed or died: out of rotation now (no-op when not monitored). */
  shun(server: string, reason: string): void {
    this.probes.get(server)?.shun(reason);
  }

  isShunned(server: string): boolean {
    return this.probes.get(server)?.health.shunned ?? false;
  }

  /** The last position the probe of `shard`'s primary saw. */
  primaryPosition(shard: string): string | null {
    for (const probe of this.probes.values()) {
      if (probe.server.shard === shard && probe.server.role === 'primary') return probe.health.position;
    }
    return null;
  }

  health(): ServerHealth<X>[] {
    return [...this.probes.values()].map((p) => ({ ...p.health }));
  }

  /** Resolves true once `server` has replayed `position`, false after maxWaitMs (fast polling). */
  waitForPosition(server: string, position: string, maxWaitMs: number): Promise<boolean> {
    const probe = this.probes.get(server);
    if (!probe) return Promise.resolve(false);
    if (positionCovers(probe.health.position, position)) return Promise.resolve(true);
    if (maxWaitMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        position,
        resolve,
        timer: setTimeout(() => {
          probe.waiters = probe.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, maxWaitMs),
      };
      probe.waiters.push(waiter);
      // Poll now rather than at the next interval.
      if (!probe.busy) probe.schedule(0);
    });
  }

  stop(): void {
    this.running = false;
    for (const probe of this.probes.values()) probe.stop();
    this.probes.clear();
  }
}
