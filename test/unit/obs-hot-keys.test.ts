import { describe, expect, it } from 'vitest';
import { HotKeyTracker } from '../../src/observability/hot-keys.js';
import { LatencyTracker } from '../../src/observability/latency.js';

describe('hot keys over a sliding window', () => {
  it('reports top keys per shard with counts and error bounds', () => {
    const t = new HotKeyTracker({ topK: 10, now: () => 1_000 });
    for (let i = 0; i < 50; i++) t.recordKey('s0', 'users', '42');
    for (let i = 0; i < 20; i++) t.recordKey('s0', 'orders', '7');
    for (let i = 0; i < 30; i++) t.recordKey('s1', 'users', '9');
    for (let i = 0; i < 100; i++) t.recordRequest(i < 70 ? 's0' : 's1');
    expect(t.topKeys('s0', 5)).toEqual([
      { shard: 's0', table: 'users', value: '42', count: 50, error: 0, tableTotal: 50 },
      { shard: 's0', table: 'orders', value: '7', count: 20, error: 0, tableTotal: 20 },
    ]);
    expect(t.topKeys(undefined, 2).map((k) => k.value)).toEqual(['42', '9']);
    expect(t.shardTotals()).toEqual(
      new Map([
        ['s0', 70],
        ['s1', 30],
      ]),
    );
    const hot = t.hotness();
    expect(hot.map((h) => h.shard)).toEqual(['s0', 's1']);
    expect(hot[1]!.hotspotScore).toBe(0); // one key only: nothing to be unequal with
  });

  it('forgets buckets that leave the window (injected clock)', () => {
    let now = 0;
    const t = new HotKeyTracker({ windowMs: 60_000, buckets: 6, now: () => now });
    for (let i = 0; i < 10; i++) {
      t.recordKey('s0', 'users', 'old');
      t.recordRequest('s0');
    }
    now = 30_000;
    for (let i = 0; i < 5; i++) {
      t.recordKey('s0', 'users', 'new');
      t.recordRequest('s0');
    }
    expect(t.topKeys('s0').map((k) => [k.value, k.count])).toEqual([
      ['old', 10],
      ['new', 5],
    ]);
    now = 59_999; // bucket 0 still in the window
    expect(t.shardTotals().get('s0')).toBe(15);
    now = 60_000; // bucket 0 expired
    expect(t.topKeys('s0').map((k) => k.value)).toEqual(['new']);
    expect(t.shardTotals().get('s0')).toBe(5);
    now = 90_000;
    expect(t.topKeys('s0')).toEqual([]);
    expect(t.hotness()).toEqual([]);
    // The ring slot of an expired bucket is reused from scratch.
    t.recordKey('s0', 'users', 'again');
    expect(t.topKeys('s0').map((k) => [k.value, k.count])).toEqual([['again', 1]]);
  });

  it('scores a skewed shard above an even one, and measures imbalance', () => {
    const t = new HotKeyTracker({ topK: 50, now: () => 0 });
    for (let i = 0; i < 1000; i++) {
      t.recordRequest('even');
      t.recordKey('even', 'users', String(i % 100));
      t.recordRequest('skewed');
      t.recordKey('skewed', 'users', i % 2 === 0 ? 'celebrity' : String(i % 100));
    }
    const [even, skewed] = t.hotness();
    expect(even!.hotspotScore).toBeCloseTo(0, 6);
    expect(skewed!.hotspotScore!).toBeGreaterThan(40);
    expect(t.imbalance(['even', 'skewed']).score).toBe(0);
    expect(t.imbalance(['even', 'skewed', 'idle']).score).toBeGreaterThan(0);
  });
});

describe('latency window', () => {
  it('gives p50/p95/p99 per shard and role and expires old buckets', () => {
    let now = 0;
    const l = new LatencyTracker({ windowMs: 60_000, buckets: 6, now: () => now });
    for (let i = 1; i <= 100; i++) l.record('s0', 'primary', i / 1000); // 1..100 ms
    l.record('s0', 'replica', 0.5);
    l.record('s0', 'replica', Number.NaN); // ignored
    const [primary, replica] = l.summaries();
    expect(primary!.role).toBe('primary');
    expect(primary!.count).toBe(100);
    expect(primary!.p50Seconds).toBeCloseTo(0.05, 2);
    expect(primary!.p95Seconds).toBeCloseTo(0.095, 2);
    expect(primary!.p99Seconds).toBeCloseTo(0.099, 2);
    expect(replica!.count).toBe(1);
    expect(l.shardSummary('s0')!.count).toBe(101);
    expect(l.averageConcurrency('s0')).toBeNull(); // no time covered yet
    now = 10_000;
    l.record('s0', 'primary', 2);
    expect(l.shardSummary('s0')!.p99Seconds).toBeGreaterThan(0.09);
    expect(l.averageConcurrency('s0')!).toBeGreaterThan(0);
    now = 60_000; // the first bucket left the window
    expect(l.shardSummary('s0')!.count).toBe(1);
    expect(l.shardSummary('s0')!.p50Seconds).toBeCloseTo(2, 1);
    now = 200_000;
    expect(l.shardSummary('s0')).toBeNull();
    expect(l.summaries()).toEqual([]);
  });
});
