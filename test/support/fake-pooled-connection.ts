// The generic pool (src/backend/pool.ts) with no sockets: fake connections, opened now, closed by
// either way of closing, never silent, and the driver that opens, checks and closes them. A test
// subclasses the connection for what its lane or server needs.
import type { PoolDriver, PooledConnection } from '../../src/backend/pool.js';

export class FakePooledConnection<F = void> implements PooledConnection {
  readonly createdAt = Date.now();
  lastUsedAt = Date.now();
  closed = false;
  /** shardgate closed it (terminate or destroy), not the server. */
  closedLocally = false;
  /** The first way it was closed locally. */
  ended: 'terminate' | 'destroy' | null = null;
  /** What the fake server says of it: a validation fails when false; reset refuses when busy. */
  healthy = true;
  busy = false;
  onClose: ((err: Error | null) => void) | null = null;
  constructor(readonly flavour: F) {}
  terminate(): void {
    this.closeLocally('terminate');
  }
  destroy(): void {
    this.closeLocally('destroy');
  }
  abortIfSilent(): boolean {
    return false;
  }
  /** The server ends the connection. */
  serverClose(): void {
    this.closed = true;
    this.onClose?.(null);
  }
  private closeLocally(how: 'terminate' | 'destroy'): void {
    this.closed = true;
    this.closedLocally = true;
    this.ended ??= how;
  }
}

/** Opens what `open` makes of the flavour asked for, unless a queued failure comes first. */
export class FakePoolDriver<C extends FakePooledConnection<F>, F> implements PoolDriver<C, F> {
  readonly opened: C[] = [];
  /** Errors the next connects throw, one each. */
  readonly failures: Error[] = [];
  validations = 0;
  constructor(private readonly open: (flavour: F) => C) {}
  async connect(flavour: F): Promise<C> {
    const err = this.failures.shift();
    if (err) throw err;
    const conn = this.open(flavour);
    this.opened.push(conn);
    return conn;
  }
  async validate(conn: C): Promise<void> {
    this.validations++;
    if (!conn.healthy) throw new Error('validation failed');
  }
  reset(conn: C): boolean {
    return !conn.busy;
  }
  close(conn: C): void {
    conn.destroy();
  }
  flavourOf(conn: C): F {
    return conn.flavour;
  }
  closedLocally(conn: C): boolean {
    return conn.closedLocally;
  }
}
