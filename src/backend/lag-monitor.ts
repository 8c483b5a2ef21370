// Polls every server on its own connection: primaries for pg_current_wal_lsn(), replicas for
// pg_is_in_recovery(), the replay LSN and the replay timestamp. It keeps each ServerView's
// health, lag (ms and bytes), position and probe round-trip time up to date, takes a replica out
// of rotation when it stops answering or lags past the hard limit, and puts it back when it
// recovers. read_your_writes waiters make it poll their replica quickly until caught up.
// Shunning (shunning.ts, shared with the MySQL side) takes a failing server out at once.
import type { ShardgateConfig } from '../config/schema.js';
import { PgServerConnection } from './pg-server-connection.js';
import { type ShunHealth, Shunning, unshunned } from './shunning.js';
import type { RuntimeServer, RuntimeTopology } from './topology.js';

export function parseLsn(lsn: string | null | undefined): bigint | null {
  if (!lsn) return null;
  const slash = lsn.indexOf('/');
  if (slash < 0) return null;
  try {
    return (BigInt(`0x${lsn.slice(0, slash)}`) << 32n) | BigInt(`0x${lsn.slice(slash + 1)}`);
  } catch {
    return null;
  }
}

interface Waiter {
  target: bigint;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

export interface ServerHealth extends ShunHealth {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  healthy: boolean;
  lagMs: number | null;
  lagBytes: number | null;
  position: string | null;
  rttMs: number | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** pg_is_in_recovery() disagrees with the configured role. */
  roleMismatch: boolean;
  /** Shard stats from the primary, refreshed every healthIntervalMs; null = not known yet. */
  dataBytes: number | null;
  serverConnections: number | null;
  /** Seconds all sessions currently waiting on locks have waited so far. */
  lockWaitSeconds: number | null;
  /** Sum of pg_class.reltuples over user tables (planner estimates: cheap, not exact). */
  rowsEstimate: number | null;
  /** Shared-buffer hits and disk reads of the database since the server's stats reset. */
  blocksHit: number | null;
  blocksRead: number | null;
  /** WAL archiving as pg_stat_archiver shows it; null until read. */
  archiver: ArchiverStatus | null;
}

export interface ArchiverStatus {
  archiveMode: string;
  archivedCount: number;
  lastArchivedAt: string | null;
  failedCount: number;
  lastFailedAt: string | null;
}

class ServerProbe {
  conn: PgServerConnection | null = null;
  connecting = false;
  busy = false;
  timer: NodeJS.Timeout | null = null;
  waiters: Waiter[] = [];
  health: ServerHealth;
  replayLsn: bigint | null = null;
  stopped = false;
  readonly shunning: Shunning;

  constructor(
    public server: RuntimeServer,
    private readonly monitor: LagMonitor,
  ) {
    this.health = {
      name: server.name,
      shard: server.shard,
      role: server.role,
      healthy: true,
      lagMs: server.role === 'primary' ? 0 : null,
      lagBytes: server.role === 'primary' ? 0 : null,
      position: null,
      rttMs: null,
      lastError: null,
      consecutiveFailures: 0,
      roleMismatch: false,
      ...unshunned(),
      dataBytes: null,
      serverConnections: null,
      lockWaitSeconds: null,
      rowsEstimate: null,
      blocksHit: null,
      blocksRead: null,
      archiver: null,
    };
    this.shunning = new Shunning(
      this.health,
      server.view,
      () => monitor.config,
      (shunned, reason) => monitor.onShunChange?.(server.name, shunned, reason),
    );
  }

  private lastStatsAt = 0;

  /** Data size, connections and lock waits: heavier than the lag probe, so on a slower interval. */
  private async refreshStats(): Promise<void> {
    if (!this.conn || this.server.role !== 'primary') return;
    if (Date.now() - this.lastStatsAt < this.monitor.config.observability.healthIntervalMs) return;
    this.lastStatsAt = Date.now();
    const r = await this.conn.exec(
      "SELECT pg_database_size(current_database())::text, count(*)::text, coalesce(sum(extract(epoch FROM clock_timestamp() - state_change)) FILTER (WHERE wait_event_type = 'Lock'), 0)::text, " +
        "(SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'), " +
        '(SELECT blks_hit::text FROM pg_stat_database WHERE datname = current_database()), (SELECT blks_read::text FROM pg_stat_database WHERE datname = current_database()), ' +
        "current_setting('archive_mode'), (SELECT json_build_object('archived', archived_count, 'lastArchivedAt', last_archived_time, 'failed', failed_count, 'lastFailedAt', last_failed_time)::text FROM pg_stat_archiver) " +
        'FROM pg_stat_activity WHERE datname = current_database()',
      2_000,
    );
    const row = r.rows[0] ?? [];
    this.health.dataBytes = row[0] ? Number(row[0]) : null;
    this.health.serverConnections = row[1] ? Number(row[1]) : null;
    this.health.lockWaitSeconds = row[2] ? Number(row[2]) : null;
    this.health.rowsEstimate = row[3] ? Number(row[3]) : null;
    this.health.blocksHit = row[4] ? Number(row[4]) : null;
    this.health.blocksRead = row[5] ? Number(row[5]) : null;
    this.health.archiver = row[6] && row[7] ? archiverStatus(row[6], row[7]) : null;
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
        this.conn = await PgServerConnection.connect(
          { ...this.server.pool.address, name: `${this.server.name}/monitor` },
          this.monitor.config.pool.connectTimeoutMs,
        );
      }
      const sql =
        this.server.role === 'primary'
          ? 'SELECT pg_is_in_recovery()::text, pg_current_wal_lsn()::text'
          : 'SELECT pg_is_in_recovery()::text, pg_last_wal_replay_lsn()::text, (extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8::text';
      const result = await this.conn.exec(sql, this.monitor.config.routing.probeTimeoutMs);
      const rtt = performance.now() - started;
      const row = result.rows[0] ?? [];
      this.onSample(row[0] === 'true', row[1] ?? null, row[2] ?? null, rtt);
      await this.refreshStats();
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

  private onSample(
    inRecovery: boolean,
    lsn: string | null,
    replaySecondsAgoMs: string | null,
    rtt: number,
  ): void {
    const h = this.health;
    const view = this.server.view;
    h.consecutiveFailures = 0;
    h.lastError = null;
    h.rttMs = h.rttMs === null ? rtt : h.rttMs * 0.8 + rtt * 0.2;
    h.position = lsn;
    h.roleMismatch = inRecovery !== (this.server.role === 'replica');
    view.rttMs = h.rttMs;
    view.position = lsn;
    if (this.server.role === 'replica' && !inRecovery) {
      // A replica that left recovery: promoted (the topology may follow it), or a rogue primary.
      this.fence('it reports it is a primary (not in recovery)');
      this.monitor.onPrimarySeen?.(this.server.name);
      return;
    }
    const serving = this.shunning.recovered();
    if (this.server.role === 'primary') {
      h.healthy = !inRecovery && serving;
      view.healthy = h.healthy;
      return;
    }
    this.replayLsn = parseLsn(lsn);
    const primaryLsn = this.monitor.primaryLsn(this.server.shard);
    if (this.replayLsn !== null && primaryLsn !== null) {
      const behind = primaryLsn - this.replayLsn;
      h.lagBytes = behind > 0n ? Number(behind) : 0;
      // Caught up with the primary's last known position: no lag, however old the last commit.
      const ago = replaySecondsAgoMs === null ? null : Number(replaySecondsAgoMs);
      h.lagMs = behind <= 0n ? 0 : ago === null || Number.isNaN(ago) ? null : Math.max(0, ago);
    } else {
      h.lagBytes = null;
      h.lagMs = null;
    }
    const hardLimit = this.monitor.config.routing.replicaHardLagLimitMs;
    h.healthy = serving && inRecovery && (h.lagMs === null || h.lagMs <= hardLimit);
    view.lagMs = h.lagMs;
    view.healthy = h.healthy;
    this.resolveWaiters();
  }

  private onFailure(message: string): void {
    const h = this.health;
    h.consecutiveFailures++;
    h.lastError = message;
    if (this.conn) {
      this.conn.destroy();
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
    if (this.waiters.length === 0 || this.replayLsn === null) return;
    const replay = this.replayLsn;
    this.waiters = this.waiters.filter((w) => {
      if (replay >= w.target) {
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

export class LagMonitor {
  private probes = new Map<string, ServerProbe>();
  private running = false;
  /** Told when a server is shunned (true) or returns to rotation (false). */
  onShunChange: ((server: string, shunned: boolean, reason: string | null) => void) | null = null;
  /** Told when a replica reports it is not in recovery (the topology decides: promote or fence). */
  onPrimarySeen: ((server: string) => void) | null = null;

  constructor(
    private readonly topology: RuntimeTopology,
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
      const probe = new ServerProbe(server, this);
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

  primaryLsn(shard: string): bigint | null {
    for (const probe of this.probes.values()) {
      if (probe.server.shard === shard && probe.server.role === 'primary')
        return parseLsn(probe.health.position);
    }
    return null;
  }

  health(): ServerHealth[] {
    return [...this.probes.values()].map((p) => ({ ...p.health }));
  }

  /** Resolves true once `server` has replayed `position`, false after maxWaitMs. */
  waitForPosition(server: string, position: string, maxWaitMs: number): Promise<boolean> {
    const probe = this.probes.get(server);
    const target = parseLsn(position);
    if (!probe || target === null) return Promise.resolve(false);
    if (probe.replayLsn !== null && probe.replayLsn >= target) return Promise.resolve(true);
    if (maxWaitMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        target,
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

function archiverStatus(mode: string, json: string): ArchiverStatus {
  const a = JSON.parse(json) as {
    archived: number;
    lastArchivedAt: string | null;
    failed: number;
    lastFailedAt: string | null;
  };
  return {
    archiveMode: mode,
    archivedCount: Number(a.archived),
    lastArchivedAt: a.lastArchivedAt,
    failedCount: Number(a.failed),
    lastFailedAt: a.lastFailedAt,
  };
}
