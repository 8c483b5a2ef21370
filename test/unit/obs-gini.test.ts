import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  gini,
  giniGroups,
  hotspotScore,
  imbalanceScore,
  keyDistribution,
} from '../../src/observability/gini.js';
import { HotKeyTracker } from '../../src/observability/hot-keys.js';
import { Zipf } from '../support/zipf.js';

/** Mean absolute difference definition: sum_i sum_j |x_i - x_j| / (2 n^2 mean). */
function bruteGini(xs: number[]): number {
  const n = xs.length;
  const sum = xs.reduce((a, b) => a + b, 0);
  if (n === 0 || sum === 0) return 0;
  let diff = 0;
  for (const a of xs) for (const b of xs) diff += Math.abs(a - b);
  return diff / (2 * n * sum);
}

describe('gini', () => {
  it('is 0 for uniform load', () => {
    expect(gini(Array(1000).fill(7))).toBe(0);
    expect(giniGroups([{ value: 3, multiplicity: 10_000 }])).toBe(0);
  });

  it('is close to 1 when one key among many takes everything', () => {
    const xs = Array(999).fill(0);
    xs.push(1_000_000);
    expect(100 * gini(xs)).toBeGreaterThan(99.8);
  });

  it('needs ascending order: the formula on descending values gives the negative', () => {
    const xs = [1, 2, 3, 10, 50];
    const n = xs.length;
    const sum = xs.reduce((a, b) => a + b, 0);
    const formula = (sorted: number[]) =>
      sorted.reduce((acc, x, i) => acc + (2 * (i + 1) - n - 1) * x, 0) / (n * sum);
    const asc = formula([...xs].sort((a, b) => a - b));
    const desc = formula([...xs].sort((a, b) => b - a));
    expect(asc).toBeGreaterThan(0);
    expect(desc).toBeCloseTo(-asc, 12);
    // gini() sorts itself, whatever order it is handed.
    expect(gini([50, 10, 3, 2, 1])).toBeCloseTo(asc, 12);
    expect(gini(xs)).toBeCloseTo(bruteGini(xs), 12);
  });

  it('matches the brute-force definition on random data', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 10_000 }), { minLength: 1, maxLength: 60 }), (xs) => {
        expect(gini(xs)).toBeCloseTo(bruteGini(xs), 9);
      }),
    );
  });

  it('grouped form equals the expanded form', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            value: fc.integer({ min: 0, max: 500 }),
            multiplicity: fc.integer({ min: 0, max: 20 }),
          }),
          {
            maxLength: 20,
          },
        ),
        (groups) => {
          const expanded = groups.flatMap((g) => Array(g.multiplicity).fill(g.value) as number[]);
          expect(giniGroups(groups)).toBeCloseTo(gini(expanded), 9);
        },
      ),
    );
  });
});

describe('hotspot score', () => {
  it('is exact when every key is tracked', () => {
    const counts = [1, 1, 2, 5, 40, 100];
    const score = hotspotScore({
      tracked: counts.map((count) => ({ count, error: 0 })),
      total: counts.reduce((a, b) => a + b, 0),
      distinct: counts.length,
    });
    expect(score).toBeCloseTo(100 * gini(counts), 9);
  });

  it('spreads the remainder evenly when nothing is reliable', () => {
    const groups = keyDistribution({ tracked: [{ count: 10, error: 9 }], total: 1000, distinct: 500 });
    expect(groups).toEqual([{ value: 2, multiplicity: 500 }]);
  });

  it('is unbiased with keys outside the top-k on zipfian streams', () => {
    for (const [keys, s, seed] of [
      [100_000, 1.0, 1],
      [200_000, 1.1, 2],
      [50_000, 1.3, 3],
    ] as const) {
      const zipf = new Zipf(keys, s, seed);
      const tracker = new HotKeyTracker({ topK: 100, buckets: 1, windowMs: 1e12, now: () => 0 });
      const exact = new Map<number, number>();
      for (let i = 0; i < 200_000; i++) {
        const r = zipf.next();
        exact.set(r, (exact.get(r) ?? 0) + 1);
        tracker.recordRequest('s0');
        tracker.recordKey('s0', 'users', String(r));
      }
      expect(exact.size).toBeGreaterThan(100 * 100);
      const truth = 100 * gini([...exact.values()]);
      const estimate = tracker.hotness()[0]!.hotspotScore!;
      expect(Math.abs(estimate - truth)).toBeLessThan(4);
    }
  });
});

describe('imbalance score', () => {
  it('is 0 when even and 100 when one shard takes everything', () => {
    expect(imbalanceScore([5, 5, 5]).score).toBe(0);
    expect(imbalanceScore([0, 0, 90]).score).toBeCloseTo(100, 9);
    expect(imbalanceScore([0, 10]).score).toBeCloseTo(100, 9);
    expect(imbalanceScore([0, 10]).maxOverMean).toBe(2);
    expect(imbalanceScore([]).score).toBe(0);
  });
});
