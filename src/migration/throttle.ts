// Token buckets on rows/s and bytes/s for the copy and the cleanup. Each bucket holds one second
// of its rate (the burst); a batch larger than what is left runs the bucket into debt and the
// caller sleeps until it is paid back, so the long-run rate is exact whatever the batch size.
// Inside the maintenance window ("HH:MM-HH:MM" local time, may wrap over midnight) both rates
// are multiplied by maintenanceMultiplier; a backoff factor in (0, 1] set from outside (source
// pressure, pressure.ts) multiplies them again. A rate of 0 (or less) means unlimited.
import { sleep } from './retry.js';
import type { ThrottleSettings } from './types.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep };

export interface MaintenanceWindow {
  /** Minutes after local midnight; the window is [start, end), wrapping when end <= start. */
  startMinute: number;
  endMinute: number;
}

const WINDOW_RE = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/;

/** Parses "HH:MM-HH:MM"; null for null/empty; throws with a clear message on anything else. */
export function parseMaintenanceWindow(text: string | null | undefined): MaintenanceWindow | null {
  if (text === null || text === undefined || text.trim() === '') return null;
  const m = WINDOW_RE.exec(text);
  const minute = (h: string, mm: string) => {
    const hours = Number(h);
    const minutes = Number(mm);
    if (hours > 23 || minutes > 59) throw new Error(`invalid time in maintenance window "${text}"`);
    return hours * 60 + minutes;
  };
  if (!m) throw new Error(`maintenance window "${text}" is not "HH:MM-HH:MM" (e.g. "01:00-05:30")`);
  return { startMinute: minute(m[1]!, m[2]!), endMinute: minute(m[3]!, m[4]!) };
}

/** Whether a minute of the day lies in the window; equal start and end mean all day. */
export function inMaintenanceWindow(window: MaintenanceWindow, minuteOfDay: number): boolean {
  const { startMinute: s, endMinute: e } = window;
  if (s === e) return true;
  return s < e ? minuteOfDay >= s && minuteOfDay < e : minuteOfDay >= s || minuteOfDay < e;
}

export interface ThrottleLimits {
  rowsPerSecond: number;
  bytesPerSecond: number;
  maintenance: boolean;
  backoff: number;
}

interface Bucket {
  tokens: number;
  /** Rate at the last refill (capacity = one second of it). */
  rate: number;
}

export class Throttle {
  private readonly window: MaintenanceWindow | null;
  private backoff = 1;
  private last: number;
  private readonly rows: Bucket;
  private readonly bytes: Bucket;

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.window = parseMaintenanceWindow(settings.maintenanceWindow);
    this.last = clock.now();
    const limits = this.limits();
    this.rows = { tokens: limits.rowsPerSecond, rate: limits.rowsPerSecond };
    this.bytes = { tokens: limits.bytesPerSecond, rate: limits.bytesPerSecond };
  }

  get batchRows(): number {
    return Math.max(1, Math.floor(this.settings.batchRows));
  }

  /** Multiplies both rates by `factor`, clamped to [0.01, 1]; 1 = no backoff. */
  setBackoff(factor: number): void {
    this.backoff = Number.isFinite(factor) ? Math.min(1, Math.max(0.01, factor)) : 1;
  }

  /** The rates in force now. */
  limits(): ThrottleLimits {
    const now = new Date(this.clock.now());
    const maintenance =
      this.window !== null && inMaintenanceWindow(this.window, now.getHours() * 60 + now.getMinutes());
    const factor = (maintenance ? Math.max(0, this.settings.maintenanceMultiplier) : 1) * this.backoff;
    const scale = (rate: number) => (rate > 0 && Number.isFinite(rate) ? rate * factor : 0);
    return {
      rowsPerSecond: scale(this.settings.rowsPerSecond),
      bytesPerSecond: scale(this.settings.bytesPerSecond),
      maintenance,
      backoff: this.backoff,
    };
  }

  /** Takes the tokens for a batch and returns how long (ms) the caller must wait before it. */
  reserve(rows: number, bytes: number): number {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    const limits = this.limits();
    const waitRows = this.charge(this.rows, limits.rowsPerSecond, elapsed, rows);
    const waitBytes = this.charge(this.bytes, limits.bytesPerSecond, elapsed, bytes);
    return Math.ceil(Math.max(waitRows, waitBytes) * 1000);
  }

  /** Waits until the batch may go; returns the ms waited (0 when aborted early counts as waited). */
  async take(rows: number, bytes: number, signal?: AbortSignal): Promise<number> {
    const wait = this.reserve(rows, bytes);
    if (wait > 0) await this.clock.sleep(wait, signal);
    return wait;
  }

  /** Refills a bucket at its rate, charges `amount`, returns the seconds until it is out of debt. */
  private charge(bucket: Bucket, rate: number, elapsed: number, amount: number): number {
    if (rate <= 0) {
      bucket.rate = 0;
      bucket.tokens = 0;
      return 0; // unlimited
    }
    if (bucket.rate <= 0) bucket.tokens = rate; // was unlimited: start with a full bucket
    bucket.rate = rate;
    bucket.tokens = Math.min(rate, bucket.tokens + elapsed * rate) - amount;
    return bucket.tokens < 0 ? -bucket.tokens / rate : 0;
  }
}
