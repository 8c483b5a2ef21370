// A bounded pool of connections to one MariaDB/MySQL server (the twin of pool.ts). Connections
// differ in one way a client can see: CLIENT_FOUND_ROWS (affected rows of an UPDATE count matched
// rather than changed rows), fixed at login. So a checkout names the flavour it needs; an idle
// connection of the other flavour is closed to make room when the pool is full. Waiters queue
// FIFO with a timeout; idle connections expire; old ones retire; stale ones are validated.
import type { PoolConfig } from '../config/schema.js';
import { ShardgateError } from '../errors.js';
import { type MysqlServerAddress, MysqlServerConnection } from './mysql-server-connection.js';
import type { PoolStats } from './pool.js';
import type { ServerEvents } from './shunning.js';

interface Waiter {
  foundRows: boolean;
  resolve: (conn: MysqlServerConnection) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  enqueuedAt: number;
}

export class MysqlPool {
  private readonly idle: MysqlServerConnection[] = [];
  private readonly active = new Set<MysqlServerConnection>();
  private readonly waiters: Waiter[] = [];
  private connecting = 0;
  private closed = false;
  private readonly reaper: NodeJS.Timeout;
  private counters = {
    waitedTotal: 0,
    timeoutsTotal: 0,
    checkoutsTotal: 0,
    waitSecondsTotal: 0,
    peakActive: 0,
  };
  /** Server version from the first connection (announced to clients). */
  serverVersion: string | null = null;
  lastError: string | null = null;
  /** The topology's shunning: told of failures, asked whether to keep retrying. */
  serverEvents: ServerEvents | null = null;

  constructor(
    readonly address: MysqlServerAddress,
    private config: PoolConfig,
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

  acquire(foundRows = false): Promise<MysqlServerConnection> {
    if (this.closed) return Promise.reject(this.unavailable('pool is closed'));
    this.counters.checkoutsTotal++;
    const conn = this.takeIdle(foundRows);
    if (conn) return this.validateIfStale(conn, foundRows);
    if (this.size >= this.config.size) this.evictIdleOfOtherFlavour(foundRows);
    if (this.size < this.config.size) return this.openForCheckout(foundRows);
    this.counters.waitedTotal++;
    return new Promise<MysqlServerConnection>((resolve, reject) => {
      const waiter: Waiter = {
        foundRows,
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

  /** An idle connection that needs no validation, without waiting; null otherwise. */
  tryAcquire(foundRows: boolean): MysqlServerConnection | null {
    if (this.closed) return null;
    const conn = this.takeIdle(foundRows);
    if (!conn) return null;
    this.counters.checkoutsTotal++;
    if (this.config.validateAfterMs > 0 && Date.now() - conn.lastUsedAt >= this.config.validateAfterMs) {
      // Stale: give it back for acquire() to validate.
      this.active.delete(conn);
      this.idle.push(conn);
      this.counters.checkoutsTotal--;
      return null;
    }
    return conn;
  }

  private takeIdle(foundRows: boolean): MysqlServerConnection | null {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const conn = this.idle[i]!;
      if (conn.closed) {
        this.idle.splice(i, 1);
        continue;
      }
      if (conn.foundRows !== foundRows) continue;
      this.idle.splice(i, 1);
      if (this.config.maxLifetimeMs > 0 && now - conn.createdAt > this.config.maxLifetimeMs) {
        conn.terminate();
        continue;
      }
      this.markActive(conn);
      return conn;
    }
    return null;
  }

  private evictIdleOfOtherFlavour(foundRows: boolean): void {
    const i = this.idle.findIndex((c) => c.foundRows !== foundRows);
    if (i < 0) return;
    const [conn] = this.idle.splice(i, 1);
    conn?.terminate();
  }

  private markActive(conn: MysqlServerConnection): void {
    this.active.add(conn);
    if (this.active.size > this.counters.peakActive) this.counters.peakActive = this.active.size;
  }

  private async validateIfStale(
    conn: MysqlServerConnection,
    foundRows: boolean,
  ): Promise<MysqlServerConnection> {
    if (this.config.validateAfterMs <= 0 || Date.now() - conn.lastUsedAt < this.config.validateAfterMs)
      return conn;
    try {
      const r = await conn.query(this.config.validationQuery, { timeoutMs: this.config.connectTimeoutMs });
      if (r.error) throw new Error(r.error.message);
      return conn;
    } catch {
      this.active.delete(conn);
      conn.destroy();
      if (this.size < this.config.size) return this.openForCheckout(foundRows);
      return this.acquire(foundRows);
    }
  }

  private async openForCheckout(foundRows: boolean): Promise<MysqlServerConnection> {
    this.connecting++;
    try {
      const conn = await this.connectWithRetry(foundRows);
      this.connecting--;
      this.markActive(conn);
      return conn;
    } catch (err) {
      this.connecting--;
      throw err;
    }
  }

  private async connectWithRetry(foundRows: boolean): Promise<MysqlServerConnection> {
    let delay = this.config.connectBackoffMs;
    let lastErr: unknown;
    for (let attempt = 0; attempt <= this.config.connectRetries; attempt++) {
      if (this.closed) break;
      try {
        const conn = await MysqlServerConnection.connect(this.address, {
          foundRows,
          timeoutMs: this.config.connectTimeoutMs,
        });
        this.lastError = null;
        this.serverVersion ??= conn.serverVersion;
        conn.onClose = () => this.forget(conn);
        return conn;
      } catch (err) {
        lastErr = err;
        // A refused user is the user's configuration, not the server's health: no retry.
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

  /** Returns a clean, idle connection (no transaction, nothing pinned) to the pool. */
  release(conn: MysqlServerConnection): void {
    this.active.delete(conn);
    conn.lastUsedAt = Date.now();
    conn.onClose = () => this.forget(conn);
    if (conn.closed || this.closed || !conn.idle || this.size >= this.config.size) {
      if (!conn.closed) conn.destroy();
      this.wakeWaiter();
      return;
    }
    const i = this.waiters.findIndex((w) => w.foundRows === conn.foundRows);
    if (i >= 0) {
      const [waiter] = this.waiters.splice(i, 1);
      clearTimeout(waiter!.timer);
      this.counters.waitSecondsTotal += (Date.now() - waiter!.enqueuedAt) / 1000;
      this.markActive(conn);
      waiter!.resolve(conn);
      return;
    }
    if (this.waiters.length > 0) {
      // Someone waits for the other flavour: this slot becomes theirs.
      conn.terminate();
      this.wakeWaiter();
      return;
    }
    this.idle.push(conn);
  }

  /** Drops a broken connection; a waiter then gets a fresh one. */
  discard(conn: MysqlServerConnection): void {
    this.active.delete(conn);
    conn.destroy();
    this.wakeWaiter();
  }

  private forget(conn: MysqlServerConnection): void {
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // The server closed a connection nobody was using: it is shutting down or has died.
    if (!this.closed && !conn.closedLocally)
      this.serverEvents?.failed('the server closed a pooled connection');
    this.active.delete(conn);
    this.wakeWaiter();
  }

  private wakeWaiter(): void {
    if (this.waiters.length === 0 || this.closed || this.size >= this.config.size) return;
    const waiter = this.waiters.shift()!;
    clearTimeout(waiter.timer);
    const waited = (Date.now() - waiter.enqueuedAt) / 1000;
    this.openForCheckout(waiter.foundRows).then(
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
