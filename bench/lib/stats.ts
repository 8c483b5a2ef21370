// Small order statistics for benchmark figures. Medians with their min-max spread are what we
// report: on a shared, noisy machine they are steadier than means.

function finite(values: readonly number[]): number[] {
  return values.filter((v) => Number.isFinite(v));
}

function sorted(values: readonly number[]): number[] {
  return finite(values).sort((a, b) => a - b);
}

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const s = sorted(values);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function min(values: readonly number[]): number {
  const s = finite(values);
  return s.length === 0 ? Number.NaN : Math.min(...s);
}

export function max(values: readonly number[]): number {
  const s = finite(values);
  return s.length === 0 ? Number.NaN : Math.max(...s);
}

export function mean(values: readonly number[]): number {
  const s = finite(values);
  return s.length === 0 ? Number.NaN : s.reduce((a, b) => a + b, 0) / s.length;
}

/** Sample standard deviation (n - 1); 0 for a single value, NaN for none. */
export function stddev(values: readonly number[]): number {
  const s = finite(values);
  if (s.length === 0) return Number.NaN;
  if (s.length === 1) return 0;
  const m = mean(s);
  return Math.sqrt(s.reduce((acc, v) => acc + (v - m) ** 2, 0) / (s.length - 1));
}

/**
 * Percentile p in [0, 100] with linear interpolation between closest ranks (the common
 * "type 7" definition: p50 equals the median).
 */
export function percentile(values: readonly number[], p: number): number {
  const s = sorted(values);
  if (s.length === 0 || !Number.isFinite(p)) return Number.NaN;
  const clamped = Math.min(100, Math.max(0, p));
  const rank = (clamped / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (rank - lo);
}

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: finite(values).length,
    median: median(values),
    min: min(values),
    max: max(values),
    mean: mean(values),
  };
}

/** a / b, or NaN when either is missing or b is zero. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}
