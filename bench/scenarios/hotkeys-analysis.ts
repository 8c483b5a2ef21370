// Compares the hot keys shardgate reports with the generator's exact counts. Pure functions.
//
//   precision@k   share of the reported top k that belong to the true top k. Ties at the k-th
//                 true count are all "in the top k" (any of them is a correct answer).
//   spearman      rank correlation between the reported order and the true counts, over the
//                 reported top k (average ranks for ties); 1 = same order.
//   count error   |reported - true| / true per reported key (Space-Saving over-estimates; its
//                 promise is true in [count - error, count], checked as `boundsHeld`).
//   hotspot score 100 x Gini of the per-key request counts of a shard; the truth uses the exact
//                 counts of every key the generator sent to that shard.
import { gini } from '../../src/observability/gini.js';

export interface ReportedKey {
  value: string;
  count: number;
  error: number;
}

/** Keys by true count, highest first (ties by value, so the order is stable). */
export function trueRanking(truth: ReadonlyMap<string, number>): Array<[string, number]> {
  return [...truth.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export function precisionAtK(
  reported: readonly string[],
  truth: ReadonlyMap<string, number>,
  k: number,
): number {
  const ranking = trueRanking(truth);
  const kk = Math.min(k, ranking.length);
  if (kk <= 0) return Number.NaN;
  const threshold = (ranking[kk - 1] as [string, number])[1];
  const hits = reported.slice(0, kk).filter((v) => (truth.get(v) ?? 0) >= threshold).length;
  return hits / kk;
}

/** Ranks 1..n with ties given their average rank; `values` in any order, higher value = rank 1. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v);
  const ranks = new Array<number>(values.length).fill(0);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && (order[j + 1] as { v: number }).v === (order[i] as { v: number }).v) j++;
    const avg = (i + j) / 2 + 1;
    for (let x = i; x <= j; x++) ranks[(order[x] as { i: number }).i] = avg;
    i = j + 1;
  }
  return ranks;
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  if (n < 2) return Number.NaN;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    const x = (a[i] as number) - ma;
    const y = (b[i] as number) - mb;
    num += x * y;
    da += x * x;
    db += y * y;
  }
  return da === 0 || db === 0 ? Number.NaN : num / Math.sqrt(da * db);
}

/** Spearman's rho between the reported order (position) and the true counts of those keys. */
export function spearman(reported: readonly string[], truth: ReadonlyMap<string, number>): number {
  const reportedRanks = reported.map((_, i) => i + 1);
  const trueRanks = averageRanks(reported.map((v) => truth.get(v) ?? 0));
  return pearson(reportedRanks, trueRanks);
}

export interface CountErrors {
  /** Mean and max of |reported - true| / true over the compared keys. */
  meanRelative: number;
  maxRelative: number;
  /** Share of keys whose true count lies in the reported [count - error, count]. */
  boundsHeld: number;
}

export function countErrors(
  reported: readonly ReportedKey[],
  truth: ReadonlyMap<string, number>,
): CountErrors {
  if (reported.length === 0)
    return { meanRelative: Number.NaN, maxRelative: Number.NaN, boundsHeld: Number.NaN };
  let sum = 0;
  let max = 0;
  let held = 0;
  for (const k of reported) {
    const t = truth.get(k.value) ?? 0;
    const rel = t > 0 ? Math.abs(k.count - t) / t : Number.POSITIVE_INFINITY;
    sum += rel;
    max = Math.max(max, rel);
    if (t >= k.count - k.error && t <= k.count) held++;
  }
  return { meanRelative: sum / reported.length, maxRelative: max, boundsHeld: held / reported.length };
}

/** The true hotspot score of one shard: 100 x Gini of the exact per-key counts. */
export function trueHotspotScore(counts: Iterable<number>): number | null {
  const values = [...counts];
  return values.length === 0 ? null : 100 * gini(values);
}
