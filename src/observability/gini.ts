// Gini coefficient of request counts, the hotspot score built on it, and the shard imbalance score.
//
// Gini with values sorted ASCENDING (x_1 <= ... <= x_n):
//   G = sum_i (2i - n - 1) * x_i / (n * sum_i x_i)
// 0 when every key gets the same load, (n - 1) / n when one key gets everything. Sorting
// descending gives -G, so the sort order is part of the formula.

export interface ValueGroup {
  value: number;
  /** How many keys have this value (may be large: a uniform remainder over many keys). */
  multiplicity: number;
}

/** Gini of plain values (copied and sorted ascending). 0 for no values or an all-zero sum. */
export function gini(values: readonly number[]): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    const x = sorted[i]!;
    sum += x;
    weighted += (2 * (i + 1) - n - 1) * x;
  }
  if (n === 0 || sum <= 0) return 0;
  return weighted / (n * sum);
}

/**
 * Gini over groups of equal values without expanding them: a group of m keys with value v at
 * ascending ranks p+1..p+m contributes v * sum_{i=p+1}^{p+m} (2i - n - 1) = v * m * (2p + m - n).
 */
export function giniGroups(groups: readonly ValueGroup[]): number {
  const sorted = groups.filter((g) => g.multiplicity > 0).sort((a, b) => a.value - b.value);
  let n = 0;
  let sum = 0;
  for (const g of sorted) {
    n += g.multiplicity;
    sum += g.value * g.multiplicity;
  }
  if (n === 0 || sum <= 0) return 0;
  let p = 0;
  let weighted = 0;
  for (const g of sorted) {
    weighted += g.value * g.multiplicity * (2 * p + g.multiplicity - n);
    p += g.multiplicity;
  }
  return weighted / (n * sum);
}

export interface TrackedCount {
  /** Estimated count (upper bound). */
  count: number;
  /** Overestimation bound: the true count is at least count - error. */
  error: number;
}

export interface KeyDistributionInput {
  /** The keys the sketch tracks. */
  tracked: readonly TrackedCount[];
  /** Total requests N, tracked or not. */
  total: number;
  /** Estimated number of distinct keys (HyperLogLog). */
  distinct: number;
}

/** Tail bins: log-spaced rank intervals, fine enough that the Gini lost inside a bin is negligible. */
const TAIL_BINS = 256;
/** A tracked key is reliable when its overestimation bound is at most this share of its count. */
const RELIABLE_ERROR_SHARE = 0.5;

/**
 * The estimator behind the hotspot score.
 *
 * 1. Head: the tracked keys whose overestimation error is at most half their count ("reliable"),
 *    ranks 1..h, each counted with its guaranteed lower bound (count - error). Keys at the
 *    bottom of a full sketch carry errors as large as their counts and say little about their
 *    own frequency, so they join the tail.
 * 2. Tail: the remainder R = N - sum(head) belongs to T = D - h keys, D being the distinct
 *    estimate (HyperLogLog), and T at least ceil(R / c_h) since no tail key exceeds the last
 *    head count c_h.
 * 3. Spreading R evenly over the tail would erase the tail's own inequality and bias the score
 *    low by tens of points on Zipf-like traffic. Instead the tail continues the head as a power
 *    law anchored at the last head key, c(r) = max(1, c_h * (r / h)^-alpha) for r = h+1..h+T
 *    (every observed key was requested at least once), and alpha is solved (bisection) so the
 *    tail sums to exactly R. The three robust figures a sketch knows well (top counts, N, D)
 *    thus fix the shape. Fallback to an even spread when no key is reliable (h = 0: mild skew,
 *    where no counter rises above the noise floor N / k) or when the tail's mean count is <= 1.
 *    The tail is evaluated in log-spaced rank bins.
 * It is exact when the sketch tracks every key (R = 0).
 */
export function keyDistribution(input: KeyDistributionInput): ValueGroup[] {
  const head: number[] = [];
  let headSum = 0;
  for (const e of input.tracked) {
    const lower = e.count - e.error;
    if (lower <= 0 || e.error > RELIABLE_ERROR_SHARE * e.count) continue;
    head.push(lower);
    headSum += lower;
  }
  head.sort((a, b) => b - a);
  const groups: ValueGroup[] = head.map((value) => ({ value, multiplicity: 1 }));
  const remainder = input.total - headSum;
  if (remainder <= 0) return groups;
  const h = head.length;
  const anchor = h > 0 ? head[h - 1]! : Number.POSITIVE_INFINITY;
  let tail = Math.round(input.distinct) - h;
  if (Number.isFinite(anchor)) tail = Math.max(tail, Math.ceil(remainder / anchor));
  tail = Math.max(1, tail);
  const mean = remainder / tail;
  const shaped = h > 0 && mean > 1 ? powerLawTail(h, anchor, tail, remainder) : null;
  if (shaped) for (const g of shaped) groups.push(g);
  else groups.push({ value: mean, multiplicity: tail });
  return groups;
}

/**
 * Ranks h+1..h+count with c(r) = max(1, anchor * (r / h)^-alpha), alpha chosen so the sum is
 * `total`; null when no alpha in [0, 8] fits (then the caller spreads evenly).
 */
function powerLawTail(h: number, anchor: number, count: number, total: number): ValueGroup[] | null {
  // Integer, log-spaced bin edges over [h+1, h+count+1).
  const first = h + 1;
  const end = first + count;
  const edges: number[] = [first];
  const ratio = (end / first) ** (1 / TAIL_BINS);
  let edge = first;
  while (edge < end) {
    edge = Math.min(end, Math.max(edge + 1, Math.floor(edge * ratio)));
    edges.push(edge);
  }
  const valuesFor = (alpha: number): ValueGroup[] => {
    const out: ValueGroup[] = [];
    for (let i = 0; i + 1 < edges.length; i++) {
      const a = edges[i]!;
      const b = edges[i + 1]!;
      // Mean of (r / h)^-alpha over the integer ranks a..b-1, by the integral over [a, b).
      const integral =
        Math.abs(alpha - 1) < 1e-9 ? Math.log(b / a) : (b ** (1 - alpha) - a ** (1 - alpha)) / (1 - alpha);
      out.push({ value: Math.max(1, anchor * h ** alpha * (integral / (b - a))), multiplicity: b - a });
    }
    return out;
  };
  const sumFor = (alpha: number): number =>
    valuesFor(alpha).reduce((s, g) => s + g.value * g.multiplicity, 0);
  let lo = 0;
  let hi = 8;
  // The sum falls as alpha grows: flat at the anchor (alpha = 0) must reach R, steep must not.
  if (sumFor(lo) < total || sumFor(hi) > total) return null;
  for (let iter = 0; iter < 60; iter++) {
    const mid = (lo + hi) / 2;
    if (sumFor(mid) > total) lo = mid;
    else hi = mid;
  }
  return valuesFor((lo + hi) / 2);
}

/** Hotspot score 0-100 = 100 x Gini of the estimated per-key request counts. */
export function hotspotScore(input: KeyDistributionInput): number {
  return 100 * giniGroups(keyDistribution(input));
}

export interface ImbalanceResult {
  /** 0 = even, 100 = all load on one shard (normalised Gini, see below). */
  score: number;
  /** Busiest shard's load over the mean load (1 = even). */
  maxOverMean: number;
}

/**
 * Imbalance across shards: 100 x Gini of per-shard totals, normalised by n / (n - 1). Clusters
 * have few shards, and the raw Gini tops out at (n - 1) / n (50 for two shards); normalised, all
 * load on one shard scores 100 whatever the shard count. max/mean is returned alongside.
 */
export function imbalanceScore(totals: readonly number[]): ImbalanceResult {
  const n = totals.length;
  const sum = totals.reduce((a, b) => a + b, 0);
  if (n < 2 || sum <= 0) return { score: 0, maxOverMean: n > 0 && sum > 0 ? 1 : 0 };
  const score = Math.min(100, Math.max(0, (100 * gini(totals) * n) / (n - 1)));
  return { score, maxOverMean: Math.max(...totals) / (sum / n) };
}
