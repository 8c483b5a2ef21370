// When a cutover attempt may take its block: the lag must be small and a marker's round trip must fit
// within half the block's deadline; aborted attempts back off, doubling up to a cap.
import { describe, expect, it } from 'vitest';
import {
  attemptBackoffMs,
  type ReadinessProbe,
  sampleReadiness,
} from '../../src/migration/cutover-readiness.js';

function probe(lags: (number | null)[], trip: () => Promise<void>): ReadinessProbe & { trips: number } {
  const p = {
    trips: 0,
    lagBytes: async () => lags,
    roundTrip: async () => {
      p.trips++;
      await trip();
    },
  };
  return p;
}

describe('cutover readiness', () => {
  it('is not ready while a capture is over the byte threshold or its lag is unknown, and sends no marker', async () => {
    const over = probe([10, 2_000], async () => undefined);
    expect(await sampleReadiness(over, 1_000, 250, 5_000)).toEqual({
      bytes: 2_010,
      roundTripMs: null,
      ready: false,
    });
    const unknown = probe([10, null], async () => undefined);
    expect((await sampleReadiness(unknown, 1_000, 250, 5_000)).ready).toBe(false);
    expect(over.trips + unknown.trips).toBe(0);
  });

  it('is not ready when the round trip fails or takes more than half the deadline', async () => {
    const failing = probe([0], async () => {
      throw new Error('the change capture did not catch up within 5000 ms');
    });
    expect(await sampleReadiness(failing, 1_000, 250, 5_000)).toEqual({
      bytes: 0,
      roundTripMs: null,
      ready: false,
    });
    // At least 60 ms, over half of a 100 ms deadline whatever the machine's load.
    const slow = probe([0], () => new Promise((r) => setTimeout(r, 60)));
    const sample = await sampleReadiness(slow, 1_000, 100, 5_000);
    expect(sample.ready).toBe(false);
    expect(sample.roundTripMs).toBeGreaterThanOrEqual(50);
  });

  it('is ready when the lag is small and the round trip fits', async () => {
    const fast = probe([100, 200], async () => undefined);
    const sample = await sampleReadiness(fast, 1_000, 3_600_000, 5_000);
    expect(sample).toMatchObject({ bytes: 300, ready: true });
    expect(fast.trips).toBe(1);
  });

  it('backs off from the base, doubling per attempt, up to the cap', () => {
    expect([2, 3, 4, 5, 10].map((a) => attemptBackoffMs(a, 1_000, 30_000))).toEqual([
      1_000, 2_000, 4_000, 8_000, 30_000,
    ]);
    expect(attemptBackoffMs(3, 0, 30_000)).toBe(0);
  });
});
