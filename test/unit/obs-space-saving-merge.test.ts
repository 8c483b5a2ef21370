// Space-Saving summaries merged across instances (disjoint streams): the bounds each instance's
// sketch guarantees must hold for the merge, also after each instance cut its summary to the
// values it sends its peers. Checked against the exact counts of seeded zipfian streams.
import { describe, expect, it } from 'vitest';
import { HotKeyTracker, mergedTopKeys } from '../../src/observability/hot-keys.js';
import {
  mergeSummaries,
  type SketchSummary,
  SpaceSaving,
  summaryOf,
  truncateSummary,
} from '../../src/observability/space-saving.js';
import { mulberry32, Zipf } from '../support/zipf.js';

/** Three instances, each seeing its own share of one zipfian key population (skewed differently). */
function instanceStreams(n: number, seed: number): { streams: string[][]; exact: Map<string, number> } {
  const zipf = new Zipf(20_000, 1.05, seed);
  const pick = mulberry32(seed + 1);
  const streams: string[][] = [[], [], []];
  const exact = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const key = `k${zipf.next()}`;
    // Instance 0 gets most of the low keys, so the instances' sketches disagree on what is hot.
    const to = key.length <= 3 && pick() < 0.7 ? 0 : Math.floor(pick() * 3);
    streams[to]!.push(key);
    exact.set(key, (exact.get(key) ?? 0) + 1);
  }
  return { streams, exact };
}

function sketchOf(stream: readonly string[], k: number): SpaceSaving {
  const s = new SpaceSaving(k);
  for (const key of stream) s.offer(key);
  return s;
}

/** Every key of the population: listed ones within [lower, count], the others within untrackedMax. */
function expectBoundsHold(
  merged: { entries: ReadonlyArray<{ key: string; count: number; lower: number }>; untrackedMax: number },
  exact: Map<string, number>,
): void {
  const listed = new Map(merged.entries.map((e) => [e.key, e]));
  let violations = 0;
  for (const [key, truth] of exact) {
    const e = listed.get(key);
    if (e ? truth < e.lower || truth > e.count : truth > merged.untrackedMax) violations++;
  }
  expect(violations).toBe(0);
}

describe('Space-Saving summaries merged across instances', () => {
  for (const seed of [3, 17, 41]) {
    it(`keeps lower <= true <= count for every key (seed ${seed})`, () => {
      const { streams, exact } = instanceStreams(60_000, seed);
      const k = 50;
      const parts = streams.map((s) => summaryOf(sketchOf(s, k)));
      const merged = mergeSummaries(parts);
      expect(merged.total).toBe(60_000);
      expectBoundsHold(merged, exact);
      // The untracked bound stays within N / k (each part's minimum is at most N_i / k), so every
      // key above N / k is listed.
      expect(merged.untrackedMax).toBeLessThanOrEqual(60_000 / k);
      const listed = new Set(merged.entries.map((e) => e.key));
      for (const [key, truth] of exact) if (truth > 60_000 / k) expect(listed.has(key)).toBe(true);
    });

    it(`keeps the bounds when each instance sends only its top values (seed ${seed})`, () => {
      const { streams, exact } = instanceStreams(60_000, seed);
      const parts: SketchSummary[] = streams.map((s) =>
        truncateSummary(mergeSummaries([summaryOf(sketchOf(s, 100))]), 20),
      );
      for (const p of parts) expect(p.entries.length).toBe(20);
      const merged = mergeSummaries(parts);
      expectBoundsHold(merged, exact);
    });
  }

  it('adds the other parts bound to a key one part did not track', () => {
    const a: SketchSummary = { entries: [{ key: 'x', count: 10, lower: 8 }], untrackedMax: 0, total: 10 };
    const b: SketchSummary = { entries: [{ key: 'y', count: 7, lower: 4 }], untrackedMax: 3, total: 20 };
    const merged = mergeSummaries([a, b]);
    expect(merged.entries).toEqual([
      { key: 'x', count: 13, lower: 8, error: 5 },
      { key: 'y', count: 7, lower: 4, error: 3 },
    ]);
    expect(merged.untrackedMax).toBe(3);
    expect(merged.total).toBe(30);
  });

  it('cut summaries raise the untracked bound to the highest value dropped', () => {
    const full = mergeSummaries([
      {
        entries: [
          { key: 'a', count: 9, lower: 9 },
          { key: 'b', count: 5, lower: 2 },
          { key: 'c', count: 4, lower: 4 },
        ],
        untrackedMax: 1,
        total: 30,
      },
    ]);
    const cut = truncateSummary(full, 1);
    expect(cut.entries.map((e) => e.key)).toEqual(['a']);
    expect(cut.untrackedMax).toBe(5);
  });

  it('merges two trackers window summaries into one cluster-wide top-k', () => {
    const t1 = new HotKeyTracker({ topK: 4 });
    const t2 = new HotKeyTracker({ topK: 4 });
    for (let i = 0; i < 30; i++) t1.recordKey('s0', 'users', 'hot');
    for (let i = 0; i < 25; i++) t2.recordKey('s0', 'users', 'hot');
    for (let i = 0; i < 40; i++) t2.recordKey('s0', 'users', 'warm');
    for (let i = 0; i < 10; i++) t1.recordKey('s1', 'users', `cold${i}`);
    const top = mergedTopKeys([t1.tableSummaries(10), t2.tableSummaries(10)], 2);
    expect(top.map((k) => [k.shard, k.value, k.count, k.error, k.tableTotal])).toEqual([
      ['s0', 'hot', 55, 0, 95],
      ['s0', 'warm', 40, 0, 95],
    ]);
  });
});
