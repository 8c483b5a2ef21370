// A bounded pool of connections to one PostgreSQL server. Waiters queue FIFO with a timeout;
// idle connections expire; old connections retire at max lifetime; a connection idle for long is
// validated before it is handed out; connects retry with exponential backoff.
import type { PoolConfig } from '../config/schema.js';
import { ShardgateError } from '../errors.js';
import { PgServerConnection, type ServerAddress } from './pg-server-connection.js';
import type { ServerEvents } from './shunning.js';

interface Waiter {
  resolve: (conn: PgServerConnection) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  enqueuedAt: number;
}

export interface PoolStats {
  server: string;
  shard: string;
  role: 'primary' | 'replica';
  active: number;
  idle: number;
  waiting: number;
  total: number;
  /** The bound on connections: pool.size, or the shard's poolSize. */
  size: number;
  /** Checkouts that had to wait, and that timed out, since start. */
  waitedTotal: number;
  timeoutsTotal: number;
  checkoutsTotal: number;
  waitSecondsTotal: number;
  /** Most connections in use at once since the last stats reset. */
  peakActive: number;
}

export class PgPool {
  private readonly idle: PgServerConnection[] = [];
  private readonly active = new Set<PgServerConnection>();
  private readonly waiters: Waiter[] = [];
  private connecting = 0;
  private closed = false;
  private reaper: NodeJS.Timeout;
  private counters = {
    waitedTotal: 0,
    timeoutsTotal: 0,
    checkoutsTotal: 0,
    waitSecondsTotal: 0,
    peakActive: 0,
  };
  /** Server parameters learned from the first connection (ParameterStatus for clients). */
  parameters: Map<string, string> | null = null;
  /** Last connect failure, for health reporting. */
  lastError: string | null = null;
  /** The topology's shunning (lag-monitor.ts): told of failures, asked whether to keep retrying. */
  serverEvents: ServerEvents | null = null;

  constructor(
    readonly address: ServerAddress,
    private config: PoolConfig,
    private readonly onConnectionLost?: (conn: PgServerConnection) => void,
  ) {
    this.reaper = setInterval(
      () => this.reap(),
      Math.max(1_000, Math.min(config.idleTimeoutMs || 10_000, 10_000)),
    );
    this.reaper.unref();
  }

  updateConfig(config: PoolConfig): void {
    this.config = config;
    // A smaller size applies now: idle connections above it close; busy ones close on release.
    while (this.size > config.size && this.idle.length > 0) this.idle.pop()!.terminate();
  }

  get size(): number {
    return this.idle.length + this.active.size + this.connecting;
  }

  /**
   * Takes a connection, waiting up to checkoutTimeoutMs when the pool is at its bound. `validate`:
   * an idle one runs the validation query first however recently used (a session-pooling client
   * owns it from here: a backend terminated while idle here must not fail that client's first
   * statement, which a fresh connection to the server would run).
   */
  acquire(validate = false): Promise<PgServerConnection> {
    if (this.closed) return Promise.reject(this.unavailable('pool is closed'));
    this.counters.checkoutsTotal++;
    const conn = this.takeIdle();
    if (conn) return Promise.resolve(this.validateIfStale(conn, validate));
    if (this.size < this.config.size) return this.openForCheckout();
    this.counters.waitedTotal++;
    return new Promise<PgServerConnection>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: Date.now(),
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          this.counters.timeoutsTotal++;
          reject(
            new ShardgateError('POOL_TIMEOUT', {
              server: this.address.name,
              ms: this.config.checkoutTimeoutMs,
              size: this.config.size,
            }),
          );
        }, this.config.checkoutTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private takeIdle(): PgServerConnection | null {
    const now = Date.now();
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (conn.closed) continue;
      if (this.config.maxLifetimeMs > 0 && now - conn.createdAt > this.config.maxLifetimeMs) {
        conn.terminate();
        continue;
      }
      this.markActive(conn);
      return conn;
    }
    return null;
  }

  private markActive(conn: PgServerConnection): void {
    this.active.add(conn);
    if (this.active.size > this.counters.peakActive) this.counters.peakActive = this.active.size;
  }

  private async validateIfStale(conn: PgServerConnection, always: boolean): Promise<PgServerConnection> {
    const stale =
      this.config.validateAfterMs > 0 && Date.now() - conn.lastUsedAt >= this.config.validateAfterMs;
    if (!always && !stale) return conn;
    try {
      await conn.exec(this.config.validationQuery, this.config.connectTimeoutMs);
      return conn;
    } catch {
      this.active.delete(conn);
      conn.destroy();
      if (this.size < this.config.size) return this.openForCheckout();
      return this.acquire(always);
    }
  }

  private async openForCheckout(): Promise<PgServerConnection> {
    this.connecting++;
    try {
      const conn = await this.connectWithRetry();
      this.connecting--;
      this.markActive(conn);
      return conn;
    } catch (err) {
      this.connecting--;
      throw err;
    }
  }

  private async connectWithRetry(): Promise<PgServerConnection> {
    let delay = this.config.connectBackoffMs;
    let lastErr: unknown;
    for (let attempt = 0; attempt <= this.config.connectRetries; attempt++) {
      if (this.closed) break;
      try {
        const conn = await PgServerConnection.connect(this.address, this.config.connectTimeoutMs);
        this.lastError = null;
        if (!this.parameters) this.parameters = new Map(conn.parameters);
        conn.onClose = () => this.forget(conn);
        return conn;
      } catch (err) {
        lastErr = err;
        // A refused role is the user's configuration, not the server's health: no shun, no retry.
        if (err instanceof ShardgateError && err.code === 'BACKEND_LOGIN_REFUSED') break;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.serverEvents?.failed(this.lastError);
        // A shunned replica: fail now so the read is planned again elsewhere. A primary keeps its
        // retries: its writes have nowhere else to go, and it may be restarting.
        if (this.address.role === 'replica' && this.serverEvents?.shunned()) break;
        if (attempt < this.config.connectRetries) {
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5_000);
        }
      }
    }
    if (lastErr instanceof ShardgateError) throw lastErr;
    throw this.unavailable(lastErr instanceof Error ? lastErr.message : 'pool is closed');
  }

  private unavailable(detail: string): ShardgateError {
    return new ShardgateError('BACKEND_UNAVAILABLE', {
      server: this.address.name,
      shard: this.address.shard,
      detail,
    });
  }

  /** Returns a clean, idle connection (transaction status I, reset done) to the pool. */
  release(conn: PgServerConnection): void {
    this.active.delete(conn);
    conn.lastUsedAt = Date.now();
    conn.onData = null;
    conn.onClose = () => this.forget(conn);
    if (conn.closed || this.closed || this.size >= this.config.size) {
      if (!conn.closed) conn.terminate();
      this.wakeWaiter();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      this.counters.waitSecondsTotal += (Date.now() - waiter.enqueuedAt) / 1000;
      this.markActive(conn);
      waiter.resolve(conn);
      return;
    }
    this.idle.push(conn);
  }

  /** Drops a broken connection; a waiter then gets a fresh one. */
  discard(conn: PgServerConnection): void {
    this.active.delete(conn);
    conn.destroy();
    this.wakeWaiter();
  }

  private forget(conn: PgServerConnection): void {
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // The server closed a connection nobody was using: it is shutting down or has died.
    if (!this.closed) this.serverEvents?.failed('the server closed a pooled connection');
    if (this.active.delete(conn)) this.onConnectionLost?.(conn);
    this.wakeWaiter();
  }

  private wakeWaiter(): void {
    if (this.waiters.length === 0 || this.closed || this.size >= this.config.size) return;
    const waiter = this.waiters.shift()!;
    clearTimeout(waiter.timer);
    const waited = (Date.now() - waiter.enqueuedAt) / 1000;
    this.openForCheckout().then(
      (conn) => {
        this.counters.waitSecondsTotal += waited;
        waiter.resolve(conn);
      },
      (err: Error) => waiter.reject(err),
    );
  }

  /** The server stopped answering (its probe timed out): connections waiting on it that long fail. */
  abortSilent(ms: number, reason: string): number {
    let aborted = 0;
    for (const conn of [...this.active]) if (conn.abortIfSilent(ms, reason)) aborted++;
    return aborted;
  }

  private reap(): void {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const conn = this.idle[i]!;
      const tooOld = this.config.maxLifetimeMs > 0 && now - conn.createdAt > this.config.maxLifetimeMs;
      const tooIdle = this.config.idleTimeoutMs > 0 && now - conn.lastUsedAt > this.config.idleTimeoutMs;
      if ((tooOld || tooIdle) && this.size > this.config.minIdle) {
        this.idle.splice(i, 1);
        conn.terminate();
      }
    }
  }

  stats(): PoolStats {
    return {
      server: this.address.name,
      shard: this.address.shard,
      role: this.address.role,
      active: this.active.size,
      idle: this.idle.length,
      waiting: this.waiters.length,
      total: this.size,
      size: this.config.size,
      ...this.counters,
    };
  }

  /** The same figures with the role and database this pool logs in as (GET /api/pools). */
  identityStats(): PoolStats & { user: string; database: string } {
    return { ...this.stats(), user: this.address.user, database: this.address.database };
  }

  resetPeak(): void {
    this.counters.peakActive = this.active.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new ShardgateError('ADMIN_SHUTDOWN'));
    }
    for (const conn of this.idle.splice(0)) conn.terminate();
    for (const conn of this.active) conn.terminate();
    this.active.clear();
  }
}

/** One server's figures over its pools (one per identity and database): what metrics and advice see. */
export function serverPoolStats(pools: readonly PgPool[]): PoolStats {
  const [first, ...rest] = pools.map((p) => p.stats());
  const total = { ...first! };
  for (const p of rest) {
    total.active += p.active;
    total.idle += p.idle;
    total.waiting += p.waiting;
    total.total += p.total;
    total.waitedTotal += p.waitedTotal;
    total.timeoutsTotal += p.timeoutsTotal;
    total.checkoutsTotal += p.checkoutsTotal;
    total.waitSecondsTotal += p.waitSecondsTotal;
    total.peakActive += p.peakActive;
  }
  return total;
}
