// The byte and row budget one multi-shard merge shares between its shards' collectors.
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { MergeBudget } from '../../src/executor/merge-budget.js';

describe('MergeBudget', () => {
  it('keeps rows while both bounds hold, then drops every further row', () => {
    const budget = new MergeBudget(1_000, 10_000);
    let kept = 0;
    for (let i = 0; i < 100; i++) if (budget.take(1_000, 1)) kept++;
    // 1,000 bytes + bookkeeping per row: 8 rows fit in 10,000 bytes, no more.
    expect(kept).toBe(8);
    expect(budget.bytes).toBeLessThanOrEqual(10_000);
    expect(budget.exceeded).toBe('bytes');
    expect(budget.take(1, 1)).toBe(false);
  });

  it('is shared: two shards together stay within one bound', () => {
    const budget = new MergeBudget(1_000_000, 100_000);
    let kept = 0;
    for (let i = 0; i < 1_000; i++) {
      if (budget.take(500, 2)) kept++;
      if (budget.take(500, 2)) kept++;
    }
    expect(budget.bytes).toBeLessThanOrEqual(100_000);
    expect(kept).toBe(Math.floor(100_000 / (500 + 64 + 2 * 80)));
  });

  it('counts rows as well', () => {
    const budget = new MergeBudget(3, 1 << 30);
    expect([1, 2, 3, 4].map(() => budget.take(0, 1))).toEqual([true, true, true, false]);
    expect(budget.exceeded).toBe('rows');
  });

  it('refuses with the code of the bound that was passed, telling what to do', () => {
    const bytes = new MergeBudget(10, 1_000);
    bytes.take(2_000, 1);
    const err = (() => {
      try {
        bytes.check();
      } catch (e) {
        return e as ShardgateError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ShardgateError);
    expect(err?.code).toBe('MERGE_MEMORY_LIMIT');
    expect(err?.sqlstate).toBe('53200');
    expect(err?.message).toMatch(/shard-key condition or a LIMIT/);
    const rows = new MergeBudget(1, 1_000_000);
    rows.take(1, 1);
    rows.take(1, 1);
    expect(() => rows.check()).toThrow(/routing\.maxMergeRows/);
    expect(() => new MergeBudget(5, 5_000).check()).not.toThrow();
  });
});
