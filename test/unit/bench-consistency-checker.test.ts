// The consistency checker of `shardgate bench consistency` is itself tested: known stale reads are
// found, clean histories pass, read-your-writes violations are told apart from global staleness,
// and reads that overlap a write may return either version.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConsistencyChecker,
  checkHistory,
  type ReadEvent,
  type WriteEvent,
} from '../../bench/lib/consistency-checker.js';

const w = (session: string, key: string, version: number, startMs: number, ackMs: number): WriteEvent => ({
  session,
  key,
  version,
  startMs,
  ackMs,
});
const r = (
  session: string,
  key: string,
  version: number | null,
  startMs: number,
  endMs: number,
): ReadEvent => ({
  session,
  key,
  version,
  startMs,
  endMs,
});

/** Seed version 0 of key k, acknowledged at time 0. */
const seed = (key: string) => w('setup', key, 0, -1, 0);

describe('consistency checker', () => {
  it('finds a known stale read', () => {
    const writes = [seed('k'), w('A', 'k', 1, 10, 12), w('A', 'k', 2, 20, 22)];
    const reads = [r('B', 'k', 1, 30, 31)]; // v2 was acknowledged at 22, before the read at 30
    const summary = checkHistory(writes, reads);
    expect(summary).toMatchObject({ reads: 1, writes: 3, stale: 1, rywViolations: 0, future: 0, unknown: 0 });
    expect(summary.staleRate).toBe(1);
    expect(summary.stalenessMs).toEqual([8]);
    const verdict = new ConsistencyChecker(writes).judge(reads[0]!);
    expect(verdict).toMatchObject({ stale: true, requiredVersion: 2, versionsBehind: 1, stalenessMs: 8 });
  });

  it('finds no anomaly in a clean history', () => {
    const writes = [
      seed('k'),
      seed('j'),
      w('A', 'k', 1, 10, 12),
      w('B', 'j', 1, 11, 13),
      w('A', 'k', 2, 20, 22),
    ];
    const reads = [
      r('A', 'k', 0, 5, 6), // before any write
      r('B', 'k', 1, 15, 16), // v1 is the newest acknowledged
      r('A', 'k', 2, 25, 26),
      r('C', 'j', 1, 14, 15),
      r('C', 'x', null, 1, 2), // a key nobody wrote: nothing required
    ];
    const summary = checkHistory(writes, reads);
    expect(summary).toMatchObject({ reads: 5, stale: 0, rywViolations: 0, future: 0, unknown: 0 });
    expect(summary.staleRate).toBe(0);
    expect(summary.stalenessMs).toEqual([]);
  });

  it('tells a read-your-writes violation from global staleness', () => {
    const writes = [seed('k'), w('A', 'k', 1, 10, 12), w('B', 'k', 2, 20, 22)];
    const checker = new ConsistencyChecker(writes);
    // A sees its own v1 but misses B's v2: stale, not a RYW violation.
    const missedOther = checker.judge(r('A', 'k', 1, 30, 31));
    expect(missedOther).toMatchObject({ stale: true, rywViolation: false, ownRequiredVersion: 1 });
    // A sees the seed only: misses its own v1 too.
    const missedOwn = checker.judge(r('A', 'k', 0, 30, 31));
    expect(missedOwn).toMatchObject({ stale: true, rywViolation: true, versionsBehind: 2 });
    // B misses its own v2: RYW violation.
    expect(checker.judge(r('B', 'k', 1, 30, 31))).toMatchObject({ stale: true, rywViolation: true });
    // C wrote nothing: only global staleness applies.
    expect(checker.judge(r('C', 'k', 1, 30, 31))).toMatchObject({
      stale: true,
      rywViolation: false,
      ownRequiredVersion: null,
    });
    const summary = checkHistory(writes, [
      r('A', 'k', 1, 30, 31),
      r('A', 'k', 0, 30, 31),
      r('B', 'k', 2, 30, 31),
    ]);
    expect(summary).toMatchObject({ stale: 2, rywViolations: 1 });
  });

  it('lets a read overlapping a write return either version', () => {
    // v1 is sent at 10 and acknowledged at 20; reads between 10 and 20 overlap it.
    const writes = [seed('k'), w('A', 'k', 1, 10, 20)];
    const checker = new ConsistencyChecker(writes);
    for (const version of [0, 1]) {
      expect(checker.judge(r('B', 'k', version, 12, 15))).toMatchObject({ stale: false, future: false });
      // The writer's own read while its write is unacknowledged is no RYW violation either.
      expect(checker.judge(r('A', 'k', version, 12, 15))).toMatchObject({ rywViolation: false });
    }
    // A read that started before the acknowledgement and ends after it: still either.
    expect(checker.judge(r('B', 'k', 0, 19, 25)).stale).toBe(false);
    // Started after the acknowledgement: v0 is now stale.
    expect(checker.judge(r('B', 'k', 0, 21, 25)).stale).toBe(true);
  });

  it('handles concurrent overlapping writes from several sessions', () => {
    // Three writers overlap; the database serialised them as v1 < v2 < v3, acknowledged out of order.
    const writes = [seed('k'), w('A', 'k', 1, 10, 40), w('B', 'k', 2, 12, 25), w('C', 'k', 3, 14, 30)];
    const checker = new ConsistencyChecker(writes);
    // At 26 only v2 is acknowledged: v2 or v3 (in flight) are fine, v1 and v0 are stale.
    expect(checker.judge(r('D', 'k', 2, 26, 27)).stale).toBe(false);
    expect(checker.judge(r('D', 'k', 3, 26, 27)).stale).toBe(false);
    expect(checker.judge(r('D', 'k', 1, 26, 27))).toMatchObject({ stale: true, requiredVersion: 2 });
    // A's v1 is acknowledged last (at 40) but is the oldest version: seeing v3 satisfies A.
    expect(checker.judge(r('A', 'k', 3, 41, 42))).toMatchObject({ stale: false, rywViolation: false });
    // After 40 everything is acknowledged: v2 misses v3 (stale) but not A's own v1.
    expect(checker.judge(r('A', 'k', 2, 41, 42))).toMatchObject({
      stale: true,
      rywViolation: false,
      versionsBehind: 1,
      stalenessMs: 11,
    });
  });

  it('flags a version from the future and counts unknown versions apart', () => {
    const writes = [seed('k'), w('A', 'k', 1, 50, 52)];
    const summary = checkHistory(writes, [r('B', 'k', 1, 10, 12), r('B', 'k', 7, 60, 61)]);
    expect(summary).toMatchObject({ future: 1, unknown: 1, stale: 0 });
    expect(summary.staleRate).toBe(0); // 1 judged read, not stale
  });

  it('treats an absent row as older than every write, the seed included', () => {
    const summary = checkHistory([seed('k')], [r('A', 'k', null, 5, 6)]);
    expect(summary.stale).toBe(1);
  });

  it('agrees with a brute-force definition on random histories', () => {
    const event = fc.record({
      session: fc.constantFrom('A', 'B', 'C'),
      start: fc.integer({ min: 0, max: 100 }),
      length: fc.integer({ min: 0, max: 20 }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 12 }), fc.array(event, { maxLength: 12 }), (ws, rs) => {
        // Versions in commit order: assign them by acknowledgement time (ties by start).
        const writes = ws
          .map((e) => ({ session: e.session, key: 'k', startMs: e.start, ackMs: e.start + e.length }))
          .sort((a, b) => a.ackMs - b.ackMs || a.startMs - b.startMs)
          .map((e, i) => ({ ...e, version: i + 1 }));
        const all = [seed('k'), ...writes];
        const reads = rs.map((e, i) => ({
          session: e.session,
          key: 'k',
          // Any version that exists: 0..writes.length.
          version: i % (writes.length + 1),
          startMs: e.start,
          endMs: e.start + e.length,
        }));
        const checker = new ConsistencyChecker(all);
        for (const read of reads) {
          const acked = all.filter((x) => x.ackMs < read.startMs);
          const required = Math.max(-1, ...acked.map((x) => x.version));
          const own = Math.max(-1, ...acked.filter((x) => x.session === read.session).map((x) => x.version));
          const v = checker.judge(read);
          expect(v.stale).toBe(read.version < required);
          expect(v.rywViolation).toBe(read.version < own);
          expect(v.versionsBehind).toBe(acked.filter((x) => x.version > read.version).length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
