// What the fake connections of the pool tests share: opened now, closed by either way of closing,
// never silent. Each test adds what its fake server or lane needs.
import type { PooledConnection } from '../../src/backend/pool.js';

export class FakePooledConnection implements PooledConnection {
  readonly createdAt = Date.now();
  lastUsedAt = Date.now();
  closed = false;
  onClose: ((err: Error | null) => void) | null = null;
  terminate(): void {
    this.closed = true;
  }
  destroy(): void {
    this.closed = true;
  }
  abortIfSilent(): boolean {
    return false;
  }
}
