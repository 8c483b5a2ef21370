import { describe, expect, it } from 'vitest';
import { HyperLogLog } from '../../src/observability/hyperloglog.js';
import { mergeSketches, SpaceSaving } from '../../src/observability/space-saving.js';
import { Zipf } from '../support/zipf.js';

describe('Space-Saving', () => {
  it('counts exactly while under capacity', () => {
    const s = new SpaceSaving(10);
    for (const k of ['a', 'b', 'a', 'c', 'a', 'b']) s.offer(k);
    expect(s.entries()).toEqual([
      { key: 'a', count: 3, error: 0 },
      { key: 'b', count: 2, error: 0 },
      { key: 'c', count: 1, error: 0 },
    ]);
    expect(s.total).toBe(6);
  });

  it('finds the true top 10 of a zipfian stream with precision >= 0.9', () => {
    const zipf = new Zipf(100_000, 1.1, 7);
    const s = new SpaceSaving(100);
    const exact = new Map<number, number>();
    for (let i = 0; i < 300_000; i++) {
      const r = zipf.next();
      exact.set(r, (exact.get(r) ?? 0) + 1);
      s.offer(String(r));
    }
    const trueTop = [...exact.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([k]) => String(k));
    const reported = s.top(10).map((e) => e.key);
    const hits = reported.filter((k) => trueTop.includes(k)).length;
    expect(hits / 10).toBeGreaterThanOrEqual(0.9);
    // The Space-Saving guarantees on every counter.
    for (const e of s.entries()) {
      const truth = exact.get(Number(e.key)) ?? 0;
      expect(truth).toBeLessThanOrEqual(e.count);
      expect(truth).toBeGreaterThanOrEqual(e.count - e.error);
    }
  });

  it('keeps at most k entries with 1,000,000 distinct keys', () => {
    const s = new SpaceSaving(64);
    for (let i = 0; i < 1_000_000; i++) s.offer(`k${i}`);
    expect(s.size).toBe(64);
    expect(s.entries().length).toBe(64);
    expect(s.total).toBe(1_000_000);
  });

  it('merged sketches keep the bounds', () => {
    const zipf = new Zipf(5_000, 1.0, 3);
    const parts = [new SpaceSaving(50), new SpaceSaving(50), new SpaceSaving(50)];
    const exact = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) {
      const k = String(zipf.next());
      exact.set(k, (exact.get(k) ?? 0) + 1);
      parts[i % 3]!.offer(k);
    }
    const merged = mergeSketches(parts);
    expect(merged.total).toBe(60_000);
    for (const e of merged.entries) {
      const truth = exact.get(e.key) ?? 0;
      expect(truth).toBeLessThanOrEqual(e.count);
      expect(truth).toBeGreaterThanOrEqual(e.lower);
    }
    expect(merged.entries[0]!.key).toBe('1');
  });
});

describe('HyperLogLog', () => {
  it('estimates distinct counts within a few percent and merges', () => {
    for (const n of [100, 5_000, 200_000]) {
      const h = new HyperLogLog(10);
      for (let i = 0; i < n; i++) h.add(`user:${i}`);
      for (let i = 0; i < n; i++) h.add(`user:${i}`);
      expect(Math.abs(h.estimate() - n) / n).toBeLessThan(0.1);
    }
    const a = new HyperLogLog(10);
    const b = new HyperLogLog(10);
    for (let i = 0; i < 10_000; i++) (i % 2 ? a : b).add(String(i));
    a.merge(b);
    expect(Math.abs(a.estimate() - 10_000) / 10_000).toBeLessThan(0.1);
  });
});
