// A bounded pool of connections to one server, for either protocol: the protocol's part is a small
// PoolDriver (connect, validate, reset, close). Waiters queue FIFO with a timeout; idle connections
// expire; old connections retire at max lifetime; a connection idle for long is validated before
// it is handed out; connects retry with exponential backoff. A checkout names a flavour: what a
// connection fixes at login and a client can see (MySQL's CLIENT_FOUND_ROWS); PostgreSQL has one.
// tryAcquire is the hot path: a synchronous checkout of an idle connection, no promise or closure.
import type { PoolConfig } from '../config/schema.js';
import { ShardgateError } from '../errors.js';
import type { ServerEvents } from './shunning.js';

/** What the pool needs of a connection (PgServerConnection, MysqlServerConnection, test fakes). */
export interface PooledConnection {
  readonly createdAt: number;
  lastUsedAt: number;
  readonly closed: boolean;
  onClose: ((err: Error | null) => void) | null;
  /** Closes politely (Terminate, COM_QUIT). */
  terminate(): void;
  /** Closes at once: the connection is broken or in an unknown state. */
  destroy(): void;
  /** Closes it when a request has waited `ms` for an answer; true when it did. */
  abortIfSilent(ms: number, reason: string): boolean;
}

/** The protocol's part of a pool. */
export interface PoolDriver<C extends PooledConnection, F> {
  connect(flavour: F, timeoutMs: number): Promise<C>;
  /** Runs the validation query; throws when the connection is not usable. */
  validate(conn: C, query: string, timeoutMs: number): Promise<void>;
  /** Readies a returned connection for the next checkout; false: it cannot be reused. */
  reset(conn: C): boolean;
  /** Closes a returned connection the pool does not keep. */
  close(conn: C): void;
  flavourOf(conn: C): F;
  /** shardgate itself closed it: its closing says nothing about the server's health. */
  closedLocally(conn: C): boolean;
}

/** What the pool knows of its server. */
export interface PoolAddress {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  user: string;
  database: string;
}

interface Waiter<C, F> {
  flavour: F;
  resolve: (conn: C) => void;
  reject: (err: Error) => void;
  enqueuedAt: number;
  /** When it fails with POOL_TIMEOUT (enqueuedAt + checkoutTimeoutMs). */
  deadline: number;
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

/** How far apart a retired pool's idle connections end (see Pool.retire). */
const RETIRE_STEP_MS = 10;

export class Pool<C extends PooledConnection, F, A extends PoolAddress = PoolAddress> {
  private readonly idle: C[] = [];
  private readonly active = new Set<C>();
  private readonly waiters: Waiter<C, F>[] = [];
  /**
   * One timer for every waiter, armed for the earliest deadline: at 64 clients on a pool of 20
   * most checkouts wait, and a timer each (set, then cleared a millisecond later) is work per
   * checkout. Waiters queue in arrival order, so the earliest deadline is near the front.
   */
  private waitTimer: NodeJS.Timeout | null = null;
  private waitTimerAt = 0;
  private connecting = 0;
  private closed = false;
  private readonly reaper: NodeJS.Timeout;
  /** While retire() ends the connections one at a time: the next step. */
  private retiring: NodeJS.Timeout | null = null;
  private counters = {
    waitedTotal: 0,
    timeoutsTotal: 0,
    checkoutsTotal: 0,
    waitSecondsTotal: 0,
    peakActive: 0,
  };
  /** Last connect failure, for health reporting. */
  lastError: string | null = null;
  /** The topology's shunning (probe-loop.ts): told of failures, asked whether to keep retrying. */
  serverEvents: ServerEvents | null = null;

  constructor(
    readonly address: A,
    private config: PoolConfig,
    protected readonly driver: PoolDriver<C, F>,
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

  /** Checkouts waiting for a connection (PostgreSQL multiplexing lets them go first). */
  get waitingCount(): number {
    return this.waiters.length;
  }

  /** At its bound with no idle connection: a checkout would wait. */
  get exhausted(): boolean {
    return this.idle.length === 0 && this.size >= this.config.size;
  }

  /**
   * An idle connection of `flavour` that needs no validation, without waiting; null otherwise
   * (then acquire() opens, validates or waits).
   */
  tryAcquire(flavour: F): C | null {
    if (this.closed) return null;
    const conn = this.takeIdle(flavour, false);
    if (conn) this.counters.checkoutsTotal++;
    return conn;
  }

  /**
   * Takes a connection, waiting up to checkoutTimeoutMs when the pool is at its bound. `validate`:
   * an idle one runs the validation query first however recently used (a session-pooling client
   * owns it from here: a backend terminated while idle here must not fail that client's first
   * statement, which a fresh connection to the server would run). `waitingSince`: when the caller
   * began waiting for a connection elsewhere (a multiplexed unit waiting for room in a lane first);
   * the timeout counts from there, so the whole wait stays within checkoutTimeoutMs.
   */
  acquire(flavour: F, validate = false, waitingSince?: number): Promise<C> {
    if (this.closed) return Promise.reject(this.unavailable('pool is closed'));
    this.counters.checkoutsTotal++;
    const conn = this.takeIdle(flavour, true);
    if (conn) return this.validateIfStale(conn, flavour, validate);
    if (this.size >= this.config.size) this.evictIdleOfOtherFlavour(flavour);
    if (this.size < this.config.size) return this.openForCheckout(flavour);
    this.counters.waitedTotal++;
    return new Promise<C>((resolve, reject) => {
      const enqueuedAt = waitingSince ?? Date.now();
      const deadline = enqueuedAt + this.config.checkoutTimeoutMs;
      this.waiters.push({ flavour, resolve, reject, enqueuedAt, deadline });
      this.armWaitTimer(deadline);
    });
  }

  /** Makes the shared waiter timer fire by `deadline` (it never fires later than the earliest one). */
  private armWaitTimer(deadline: number): void {
    if (this.waitTimer && this.waitTimerAt <= deadline) return;
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.waitTimerAt = deadline;
    this.waitTimer = setTimeout(() => this.expireWaiters(), Math.max(0, deadline - Date.now()));
    // A waiter is a client's session, which keeps the process up by itself; a timer left armed
    // after the last waiter was served must not.
    this.waitTimer.unref();
  }

  /** Fails the waiters whose deadline passed; the timer then waits for the earliest one left. */
  private expireWaiters(): void {
    this.waitTimer = null;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i]!;
      if (waiter.deadline > now) {
        next = Math.min(next, waiter.deadline);
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      this.counters.timeoutsTotal++;
      waiter.reject(
        new ShardgateError('POOL_TIMEOUT', {
          server: this.address.name,
          ms: waiter.deadline - waiter.enqueuedAt,
          size: this.config.size,
        }),
      );
    }
    if (next !== Number.POSITIVE_INFINITY) this.armWaitTimer(next);
  }

  /** The open connections, idle or checked out, most recently used first. */
  openConnections(): C[] {
    return [...this.idle, ...this.active]
      .filter((conn) => !conn.closed)
      .sort((a, b) => b.lastUsedAt - a.lastUsedAt);
  }

  /** The most recently used idle connection of `flavour`; a stale one only when `staleOk`. */
  private takeIdle(flavour: F, staleOk: boolean): C | null {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const conn = this.idle[i]!;
      if (conn.closed) {
        this.idle.splice(i, 1);
        continue;
      }
      if (this.config.maxLifetimeMs > 0 && now - conn.createdAt > this.config.maxLifetimeMs) {
        this.idle.splice(i, 1);
        conn.terminate();
        continue;
      }
      if (this.driver.flavourOf(conn) !== flavour) continue;
      if (!staleOk && this.isStale(conn, now)) return null;
      this.idle.splice(i, 1);
      this.markActive(conn);
      return conn;
    }
    return null;
  }

  private isStale(conn: C, now: number): boolean {
    return this.config.validateAfterMs > 0 && now - conn.lastUsedAt >= this.config.validateAfterMs;
  }

  /** At the bound with only idle connections of the other flavour: one makes room. */
  private evictIdleOfOtherFlavour(flavour: F): void {
    const i = this.idle.findIndex((c) => this.driver.flavourOf(c) !== flavour);
    if (i < 0) return;
    const [conn] = this.idle.splice(i, 1);
    conn?.terminate();
  }

  private markActive(conn: C): void {
    this.active.add(conn);
    if (this.active.size > this.counters.peakActive) this.counters.peakActive = this.active.size;
  }

  private async validateIfStale(conn: C, flavour: F, always: boolean): Promise<C> {
    if (!always && !this.isStale(conn, Date.now())) return conn;
    try {
      await this.driver.validate(conn, this.config.validationQuery, this.config.connectTimeoutMs);
      return conn;
    } catch {
      this.active.delete(conn);
      conn.destroy();
      if (this.size < this.config.size) return this.openForCheckout(flavour);
      return this.acquire(flavour, always);
    }
  }

  private async openForCheckout(flavour: F): Promise<C> {
    this.connecting++;
    try {
      const conn = await this.connectWithRetry(flavour);
      this.connecting--;
      this.markActive(conn);
      return conn;
    } catch (err) {
      this.connecting--;
      throw err;
    }
  }

  private async connectWithRetry(flavour: F): Promise<C> {
    let delay = this.config.connectBackoffMs;
    let lastErr: unknown;
    for (let attempt = 0; attempt <= this.config.connectRetries; attempt++) {
      if (this.closed) break;
      try {
        const conn = await this.driver.connect(flavour, this.config.connectTimeoutMs);
        this.lastError = null;
        conn.onClose = () => this.forget(conn);
        return conn;
      } catch (err) {
        lastErr = err;
        // A refused login is the user's configuration, not the server's health: no shun, no retry.
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

  /**
   * Called when a connection went idle or a slot freed with no waiter of the pool's own to take
   * it: PostgreSQL units waiting for room in a multiplexed lane (mux-lane.ts) then take it instead
   * of waiting for a lane member to finish.
   */
  onRoom: (() => void) | null = null;

  /** Returns a connection to the pool; one the driver cannot reset is closed. */
  release(conn: C): void {
    this.active.delete(conn);
    conn.lastUsedAt = Date.now();
    const reusable = this.driver.reset(conn);
    conn.onClose = () => this.forget(conn);
    if (conn.closed || this.closed || !reusable || this.size >= this.config.size) {
      if (!conn.closed) this.driver.close(conn);
      this.wakeWaiter();
      return;
    }
    if (this.waiters.length > 0) {
      const flavour = this.driver.flavourOf(conn);
      const i = this.waiters.findIndex((w) => w.flavour === flavour);
      if (i < 0) {
        // Someone waits for the other flavour: this slot becomes theirs.
        conn.terminate();
        this.wakeWaiter();
        return;
      }
      const waiter = this.waiters.splice(i, 1)[0]!;
      this.counters.waitSecondsTotal += (Date.now() - waiter.enqueuedAt) / 1000;
      this.markActive(conn);
      waiter.resolve(conn);
      return;
    }
    this.idle.push(conn);
    this.onRoom?.();
  }

  /** Drops a broken connection; a waiter then gets a fresh one. */
  discard(conn: C): void {
    this.active.delete(conn);
    conn.destroy();
    this.wakeWaiter();
  }

  private forget(conn: C): void {
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // The server closed a connection: it is shutting down or has died.
    if (!this.closed && !this.driver.closedLocally(conn))
      this.serverEvents?.failed('the server closed a pooled connection');
    this.active.delete(conn);
    this.wakeWaiter();
  }

  private wakeWaiter(): void {
    if (this.waiters.length === 0) {
      this.onRoom?.();
      return;
    }
    if (this.closed || this.size >= this.config.size) return;
    const waiter = this.waiters.shift()!;
    const waited = (Date.now() - waiter.enqueuedAt) / 1000;
    this.openForCheckout(waiter.flavour).then(
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

  /** The same figures with the user and database this pool logs in as (GET /api/pools). */
  identityStats(): PoolStats & { user: string; database: string } {
    return { ...this.stats(), user: this.address.user, database: this.address.database };
  }

  resetPeak(): void {
    this.counters.peakActive = this.active.size;
  }

  /**
   * Closed to checkouts now (waiters refused with BACKEND_UNAVAILABLE, a busy connection closes
   * on release); after `lingerMs` the idle connections end one every RETIRE_STEP_MS, then those
   * still busy, and `done` is called. A cutover's switch drops the
   * replaced servers' pools in the step that releases its held writes: ending dozens of
   * connections there at once (and their server processes exiting with them) stalled the loop
   * and those writes for a few hundred ms on 2 cores (bench/diagnostics/README.md).
   */
  retire(lingerMs: number, done?: () => void): void {
    if (this.closed) {
      done?.();
      return;
    }
    // Waiters are reads planned against the old topology: planned again, they find its successor.
    this.stopServing(this.unavailable('the server left the topology'));
    const step = (): void => {
      // Idle ones first; a connection still busy by then (a pinned session) ends as close() ends it.
      const conn = this.idle.pop() ?? this.active.values().next().value;
      if (conn) this.active.delete(conn);
      this.retiring = conn ? setTimeout(step, RETIRE_STEP_MS) : null;
      this.retiring?.unref();
      conn?.terminate();
      if (!conn) done?.();
    };
    this.retiring = setTimeout(step, lingerMs);
    this.retiring.unref();
  }

  private stopServing(refusal: ShardgateError = new ShardgateError('ADMIN_SHUTDOWN')): void {
    this.closed = true;
    clearInterval(this.reaper);
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.waitTimer = null;
    for (const w of this.waiters.splice(0)) w.reject(refusal);
  }

  async close(): Promise<void> {
    this.stopServing();
    if (this.retiring) clearTimeout(this.retiring);
    this.retiring = null;
    for (const conn of this.idle.splice(0)) conn.terminate();
    for (const conn of this.active) conn.terminate();
    this.active.clear();
  }
}

/** One server's figures over its pools (one per identity and database): what metrics and advice see. */
export function serverPoolStats(pools: readonly { stats(): PoolStats }[]): PoolStats {
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
