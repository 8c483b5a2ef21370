// Polls every MariaDB server on its own connection (the twin of lag-monitor.ts): primaries for
// @@gtid_binlog_pos and @@read_only, replicas for @@gtid_slave_pos and SHOW SLAVE STATUS. It keeps
// each ServerView's health, lag, position and probe round-trip time up to date. A replica whose
// position covers its primary's has no lag; otherwise the lag is Seconds_Behind_Master rounded
// up to the next whole second (MariaDB counts whole seconds, so a replica 0.3 s behind says 0):
// never understated, and unknown (replication stopped, no answer) stays unknown, never zero.
// Shunning is shunning.ts, shared with the PostgreSQL side. A replica that is writable
// (@@read_only off) and replicates from nobody reports it was promoted: it is fenced, and the
// topology decides whether to follow it (see promotions.ts).
import type { ShardgateConfig } from '../config/schema.js';
import { positionCovers } from '../router/positions.js';
import { MysqlServerConnection } from './mysql-server-connection.js';
import type { MysqlRuntimeServer, MysqlTopology } from './mysql-topology.js';
import { type ShunHealth, Shunning, unshunned } from './shunning.js';

export interface MysqlServerHealth extends ShunHealth {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  healthy: boolean;
  lagMs: number | null;
  position: string | null;
  rttMs: number | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** @@read_only disagrees with the configured role. */
  roleMismatch: boolean;
  /** Replicas: SHOW SLAVE STATUS Seconds_Behind_Master (null: replication not running). */
  secondsBehindMaster: number | null;
}

interface Waiter {
  position: string;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

/** Lag in ms from a replica's and its primary's positions and Seconds_Behind_Master. */
export function replicaLagMs(
  replicaPosition: string | null,
  primaryPosition: string | null,
  secondsBehindMaster: number | null,
): number | null {
  if (
    replicaPosition !== null &&
    primaryPosition !== null &&
    positionCovers(replicaPosition, primaryPosition)
  )
    return 0;
  if (secondsBehindMaster === null || !Number.isFinite(secondsBehindMaster)) return null;
  return (Math.max(0, secondsBehindMaster) + 1) * 1000 - 1;
}

class MysqlServerProbe {
  conn: MysqlServerConnection | null = null;
  busy = false;
  timer: NodeJS.Timeout | null = null;
  waiters: Waiter[] = [];
  health: MysqlServerHealth;
  stopped = false;
  readonly shunning: Shunning;

  constructor(
    public server: MysqlRuntimeServer,
    private readonly monitor: MysqlLagMonitor,
  ) {
    const primary = server.role === 'primary';
    this.health = {
      name: server.name,
      shard: server.shard,
      role: server.role,
      healthy: true,
      lagMs: primary ? 0 : null,
      position: null,
      rttMs: null,
      lastError: null,
      consecutiveFailures: 0,
      roleMismatch: false,
      secondsBehindMaster: null,
      ...unshunned(),
    };
    this.shunning = new Shunning(
      this.health,
      server.view,
      () => monitor.config,
      (shunned, reason) => monitor.onShunChange?.(server.name, shunned, reason),
    );
  }

  /** Takes the server out of rotation now; probes bring it back. */
  shun(reason: string): void {
    if (this.stopped || !this.shunning.shun(reason)) return;
    if (!this.busy) this.schedule(this.shunning.backoffMs);
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
    try {
      if (!this.conn || this.conn.closed) {
        this.conn = await MysqlServerConnection.connect(
          { ...this.server.pool.address, name: `${this.server.name}/monitor` },
          { foundRows: false, timeoutMs: this.monitor.config.pool.connectTimeoutMs },
        );
      }
      const primary = this.server.role === 'primary';
      const sql = primary
        ? 'SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.read_only'
        : 'SELECT @@GLOBAL.gtid_slave_pos, @@GLOBAL.read_only; SHOW SLAVE STATUS';
      const r = await this.conn.query(sql, { timeoutMs: this.monitor.config.routing.probeTimeoutMs });
      if (r.error) throw new Error(r.error.message);
      const rtt = performance.now() - started;
      const row = r.results[0]?.rows[0] ?? [];
      const position = row[0]?.toString() ?? null;
      const readOnly = row[1]?.toString() === '1';
      let sbm: number | null = null;
      let running = true;
      let replicating = false;
      if (!primary) {
        const status = r.results[1];
        const cols = status?.columns ?? [];
        const values = status?.rows[0] ?? [];
        const field = (name: string) => values[cols.findIndex((c) => c.name === name)]?.toString() ?? null;
        const behind = field('Seconds_Behind_Master');
        sbm = behind === null || behind === '' ? null : Number(behind);
        running = field('Slave_SQL_Running') === 'Yes' && values.length > 0;
        replicating = running || field('Slave_IO_Running') === 'Yes';
      }
      if (!primary && !readOnly && !replicating) {
        // Promoted (STOP SLAVE, RESET SLAVE ALL, read_only off), or a rogue primary: never a replica.
        this.fence('it reports it is a primary (writable, replicating from nobody)');
        this.monitor.onPrimarySeen?.(this.server.name);
        return;
      }
      this.onSample(position, readOnly, sbm, running, rtt);
    } catch (err) {
      this.onFailure(err instanceof Error ? err.message : String(err));
      // A server that does not answer its probe: statements waiting on it as long fail (a retryable
      // coded error; a read runs elsewhere) rather than hang their clients.
      const silentMs = this.monitor.config.routing.probeTimeoutMs;
      // Every identity's pool: clients reach the server as their own roles (identity.ts).
      for (const pool of this.server.pools.all())
        pool.abortSilent(silentMs, `no answer from the server for ${silentMs} ms`);
    } finally {
      this.busy = false;
      this.schedule(this.waiters.length > 0 ? 2 : this.shunning.nextProbeMs());
    }
  }

  private fence(reason: string): void {
    if (!this.stopped) this.shunning.fence(reason);
    this.health.lagMs = null;
    this.server.view.lagMs = null;
  }

  private onSample(
    position: string | null,
    readOnly: boolean,
    sbm: number | null,
    running: boolean,
    rtt: number,
  ): void {
    const h = this.health;
    const view = this.server.view;
    h.consecutiveFailures = 0;
    h.lastError = null;
    h.rttMs = h.rttMs === null ? rtt : h.rttMs * 0.8 + rtt * 0.2;
    h.position = position;
    view.rttMs = h.rttMs;
    view.position = position;
    const primary = this.server.role === 'primary';
    h.roleMismatch = primary ? readOnly : !readOnly;
    const serving = this.shunning.recovered();
    if (primary) {
      h.healthy = !readOnly && serving;
      view.healthy = h.healthy;
      return;
    }
    h.secondsBehindMaster = running ? sbm : null;
    h.lagMs = replicaLagMs(position, this.monitor.primaryPosition(this.server.shard), h.secondsBehindMaster);
    const hardLimit = this.monitor.config.routing.replicaHardLagLimitMs;
    // Unknown lag keeps a replica in rotation for eventual reads (as on PostgreSQL); no bound accepts it.
    h.healthy = serving && (h.lagMs === null || h.lagMs <= hardLimit);
    view.lagMs = h.lagMs;
    view.healthy = h.healthy;
    this.resolveWaiters();
  }

  private onFailure(message: string): void {
    const h = this.health;
    h.consecutiveFailures++;
    h.lastError = message;
    this.conn?.destroy();
    this.conn = null;
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
    this.conn?.destroy();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters = [];
  }
}

export class MysqlLagMonitor {
  private probes = new Map<string, MysqlServerProbe>();
  private running = false;
  /** Told when a server is shunned (true) or returns to rotation (false). */
  onShunChange: ((server: string, shunned: boolean, reason: string | null) => void) | null = null;
  /** Told when a replica reports it is a primary (the topology decides: promote or fence). */
  onPrimarySeen: ((server: string) => void) | null = null;

  constructor(
    private readonly topology: MysqlTopology,
    public config: ShardgateConfig,
  ) {}

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
      const probe = new MysqlServerProbe(server, this);
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

  primaryPosition(shard: string): string | null {
    for (const probe of this.probes.values()) {
      if (probe.server.shard === shard && probe.server.role === 'primary') return probe.health.position;
    }
    return null;
  }

  health(): MysqlServerHealth[] {
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
      if (!probe.busy) probe.schedule(0);
    });
  }

  stop(): void {
    this.running = false;
    for (const probe of this.probes.values()) probe.stop();
    this.probes.clear();
  }
}
