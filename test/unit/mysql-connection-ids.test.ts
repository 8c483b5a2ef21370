import { describe, expect, it } from 'vitest';
import { ConnectionIds } from '../../src/protocol/mysql/connection-ids.js';

describe('MySQL connection ids', () => {
  it('name the worker that allocated them, and are unique among the ids in use', () => {
    const w0 = new ConnectionIds(0, 2);
    const w1 = new ConnectionIds(1, 2);
    const inUse = new Set<number>();
    for (let i = 0; i < 1_000; i++) {
      for (const ids of [w0, w1]) {
        const id = ids.allocate(inUse);
        expect(inUse.has(id)).toBe(false);
        expect(ConnectionIds.workerOf(id)).toBe(ids.worker);
        // Above every server thread id KILL also takes, and within a signed 32-bit integer.
        expect(id).toBeGreaterThanOrEqual(2 ** 30);
        expect(id).toBeLessThan(2 ** 31);
        inUse.add(id);
      }
    }
  });

  it('skip an id still in use after the counter wrapped', () => {
    const ids = new ConnectionIds(3, 4);
    // The first id offered is in use: it is skipped, not handed out twice.
    const offered: number[] = [];
    const id = ids.allocate({ has: (n) => offered.push(n) === 1 });
    expect(offered).toHaveLength(2);
    expect(id).toBe(offered[1]);
    expect(offered[1]).not.toBe(offered[0]);
  });

  it('say which numbers are not theirs', () => {
    expect(ConnectionIds.workerOf(12)).toBeNull();
    expect(ConnectionIds.workerOf(1_000_000_000)).toBeNull();
    expect(ConnectionIds.workerOf(2 ** 31)).toBeNull();
    expect(() => new ConnectionIds(128)).toThrow(/does not fit/);
  });
});
