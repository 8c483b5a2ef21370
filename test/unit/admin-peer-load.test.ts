// The bounds on calls to other members (admin/peer-load.ts), with a clock of the test's own:
// concurrent reads share one round of fetches and its answer for the ttl, a failure is not kept,
// and the cancel budget drops what exceeds its burst until time refills it.
import { describe, expect, it } from 'vitest';
import { CancelBudget, Coalescer } from '../../src/admin/peer-load.js';
import { deferred } from '../support/deferred.js';

describe('Coalescer', () => {
  it('runs one round for concurrent requests and shares its answer until the ttl passes', async () => {
    let t = 0;
    const c = new Coalescer<number>(1000, () => t);
    let rounds = 0;
    const pending = deferred<number>();
    const produce = () => {
      rounds++;
      return rounds === 1 ? pending.promise : Promise.resolve(rounds);
    };
    const many = Array.from({ length: 50 }, () => c.get('/api/cluster', produce));
    expect(rounds).toBe(1);
    pending.resolve(1);
    expect(await Promise.all(many)).toEqual(Array(50).fill(1));
    t = 999;
    expect(await c.get('/api/cluster', produce)).toBe(1);
    expect(rounds).toBe(1);
    // Another path is its own round.
    expect(await c.get('/metrics', produce)).toBe(2);
    t = 2000;
    expect(await c.get('/api/cluster', produce)).toBe(3);
    expect(rounds).toBe(3);
  });

  it('does not keep a failed round', async () => {
    const c = new Coalescer<number>(1000, () => 0);
    await expect(c.get('k', () => Promise.reject(new Error('control plane unreachable')))).rejects.toThrow();
    expect(await c.get('k', () => Promise.resolve(5))).toBe(5);
  });
});

describe('CancelBudget', () => {
  it('allows the burst, then as many a second as the rate', () => {
    let t = 0;
    const b = new CancelBudget(20, 50, () => t);
    const taken = () => Array.from({ length: 100 }, () => b.take()).filter(Boolean).length;
    expect(taken()).toBe(50);
    t = 500;
    expect(taken()).toBe(10);
    // Never more than the burst, however long it waited.
    t = 3_600_000;
    expect(taken()).toBe(50);
  });
});
