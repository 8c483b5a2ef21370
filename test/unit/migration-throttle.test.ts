// The copy's throttle with an injected clock: token buckets on rows/s and bytes/s, the
// maintenance window (also over midnight), the backoff factor; and the pressure thresholds
// that set that factor.
import { describe, expect, it } from 'vitest';
import { backoffFactor, median } from '../../src/migration/pressure.js';
import {
  type Clock,
  inMaintenanceWindow,
  parseMaintenanceWindow,
  Throttle,
} from '../../src/migration/throttle.js';
import type { ThrottleSettings } from '../../src/migration/types.js';

/** A clock that only moves when someone sleeps on it. */
function fakeClock(start: Date): Clock & { slept: number } {
  let now = start.getTime();
  const clock = {
    slept: 0,
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      clock.slept += ms;
    },
  };
  return clock;
}

const base: ThrottleSettings = {
  rowsPerSecond: 1000,
  bytesPerSecond: 0,
  maintenanceWindow: null,
  maintenanceMultiplier: 1,
  batchRows: 100,
};

const noon = new Date(2025, 0, 15, 12, 0, 0);

describe('throttle token buckets', () => {
  it('lets one second of rows through at once, then holds the rate exactly', async () => {
    const clock = fakeClock(noon);
    const t = new Throttle(base, clock);
    for (let i = 0; i < 10; i++) await t.take(100, 0);
    expect(clock.slept).toBe(0);
    for (let i = 0; i < 20; i++) await t.take(100, 0);
    // 2000 more rows at 1000 rows/s
    expect(clock.slept).toBe(2000);
  });

  it('a batch larger than the burst runs into debt and pays it back', async () => {
    const clock = fakeClock(noon);
    const t = new Throttle({ ...base, rowsPerSecond: 100 }, clock);
    expect(await t.take(500, 0)).toBe(4000);
    expect(await t.take(100, 0)).toBe(1000);
  });

  it('the slower of rows/s and bytes/s wins', async () => {
    const clock = fakeClock(noon);
    const t = new Throttle({ ...base, rowsPerSecond: 1000, bytesPerSecond: 10_000 }, clock);
    for (let i = 0; i < 11; i++) await t.take(10, 1_000);
    // 11 000 bytes at 10 000 B/s with a 10 000-byte burst: 100 ms of debt
    expect(clock.slept).toBe(100);
  });

  it('rates of 0 are unlimited', async () => {
    const clock = fakeClock(noon);
    const t = new Throttle({ ...base, rowsPerSecond: 0, bytesPerSecond: 0 }, clock);
    for (let i = 0; i < 100; i++) await t.take(1_000_000, 1_000_000_000);
    expect(clock.slept).toBe(0);
  });

  it('a backoff factor slows both rates and is clamped to (0, 1]', async () => {
    const clock = fakeClock(noon);
    const t = new Throttle({ ...base, bytesPerSecond: 4000 }, clock);
    t.setBackoff(0.5);
    expect(t.limits()).toMatchObject({ rowsPerSecond: 500, bytesPerSecond: 2000, backoff: 0.5 });
    t.setBackoff(7);
    expect(t.limits().backoff).toBe(1);
    t.setBackoff(0);
    expect(t.limits().backoff).toBe(0.01);
    t.setBackoff(Number.NaN);
    expect(t.limits().backoff).toBe(1);
  });

  it('the batch size comes from the settings', () => {
    expect(new Throttle({ ...base, batchRows: 250 }).batchRows).toBe(250);
    expect(new Throttle({ ...base, batchRows: 0 }).batchRows).toBe(1);
  });
});

describe('maintenance window', () => {
  it('parses HH:MM-HH:MM and rejects anything else with a clear message', () => {
    expect(parseMaintenanceWindow('01:00-05:30')).toEqual({ startMinute: 60, endMinute: 330 });
    expect(parseMaintenanceWindow(' 22:15 - 2:00 ')).toEqual({ startMinute: 1335, endMinute: 120 });
    expect(parseMaintenanceWindow(null)).toBeNull();
    expect(parseMaintenanceWindow('')).toBeNull();
    expect(() => parseMaintenanceWindow('25:00-01:00')).toThrow(/invalid time/);
    expect(() => parseMaintenanceWindow('01:60-02:00')).toThrow(/invalid time/);
    expect(() => parseMaintenanceWindow('nightly')).toThrow(/HH:MM-HH:MM/);
  });

  it('contains [start, end), wrapping over midnight', () => {
    const day = parseMaintenanceWindow('01:00-05:00')!;
    expect(inMaintenanceWindow(day, 60)).toBe(true);
    expect(inMaintenanceWindow(day, 299)).toBe(true);
    expect(inMaintenanceWindow(day, 300)).toBe(false);
    expect(inMaintenanceWindow(day, 59)).toBe(false);
    const night = parseMaintenanceWindow('22:00-02:00')!;
    expect(inMaintenanceWindow(night, 23 * 60)).toBe(true);
    expect(inMaintenanceWindow(night, 0)).toBe(true);
    expect(inMaintenanceWindow(night, 119)).toBe(true);
    expect(inMaintenanceWindow(night, 120)).toBe(false);
    expect(inMaintenanceWindow(night, 12 * 60)).toBe(false);
    expect(inMaintenanceWindow(parseMaintenanceWindow('03:00-03:00')!, 17)).toBe(true);
  });

  it('multiplies the rates inside the window (local time), also past midnight', async () => {
    const settings = {
      ...base,
      bytesPerSecond: 1000,
      maintenanceWindow: '22:00-02:00',
      maintenanceMultiplier: 4,
    };
    const at = (h: number, m: number) => new Throttle(settings, fakeClock(new Date(2025, 0, 15, h, m)));
    expect(at(23, 0).limits()).toMatchObject({
      rowsPerSecond: 4000,
      bytesPerSecond: 4000,
      maintenance: true,
    });
    expect(at(1, 59).limits()).toMatchObject({ rowsPerSecond: 4000, maintenance: true });
    expect(at(2, 0).limits()).toMatchObject({ rowsPerSecond: 1000, maintenance: false });
    expect(at(12, 0).limits().maintenance).toBe(false);
  });

  it('refills at the relaxed rate while the window is open', async () => {
    const clock = fakeClock(new Date(2025, 0, 15, 23, 0));
    const t = new Throttle({ ...base, maintenanceWindow: '22:00-02:00', maintenanceMultiplier: 2 }, clock);
    for (let i = 0; i < 40; i++) await t.take(100, 0);
    // 4000 rows at 2000 rows/s after a 2000-row burst: one second of waiting
    expect(clock.slept).toBe(1000);
  });
});

describe('source pressure -> backoff factor', () => {
  const sample = (latencyMs: number, replicaLagSeconds: number) => ({
    latencyMs,
    replicaLagSeconds,
    replicaLagBytes: 0,
    replicas: 1,
  });

  it('follows the documented steps; the worse signal wins', () => {
    expect(backoffFactor(sample(1, 0))).toBe(1);
    expect(backoffFactor(sample(20, 1))).toBe(1);
    expect(backoffFactor(sample(21, 0))).toBe(0.5);
    expect(backoffFactor(sample(150, 0))).toBe(0.25);
    expect(backoffFactor(sample(500, 0))).toBe(0.1);
    expect(backoffFactor(sample(1, 3))).toBe(0.5);
    expect(backoffFactor(sample(1, 10))).toBe(0.25);
    expect(backoffFactor(sample(30, 60))).toBe(0.1);
  });

  it('accepts other thresholds', () => {
    const strict = {
      latencyMs: { steps: [{ upTo: 1, factor: 1 }], beyond: 0.2 },
      replicaLagSeconds: { steps: [{ upTo: 0, factor: 1 }], beyond: 0.3 },
    };
    expect(backoffFactor(sample(2, 0), strict)).toBe(0.2);
    expect(backoffFactor(sample(0.5, 1), strict)).toBe(0.3);
  });

  it('median of the samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([5, 1, 100])).toBe(5);
    expect(median([1, 2, 3, 4])).toBe(2.5);
  });
});
