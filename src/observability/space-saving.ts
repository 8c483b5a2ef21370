// Space-Saving top-k sketch (Metwally, Agrawal, El Abbadi, "Efficient Computation of Frequent and
// Top-k Elements in Data Streams", 2005), kept as an indexed binary min-heap over k counters:
// a hit on a tracked key is O(log k) (sift down), a new key takes over the minimum counter.
// Memory is bounded by k whatever the number of distinct keys.
//
// Guarantees per counter: true count <= count, and true count >= count - error. Every key whose
// true count exceeds N / k is tracked.

export interface SketchEntry {
  key: string;
  /** Estimated count: an upper bound of the true count. */
  count: number;
  /** Overestimation bound: the true count is at least count - error. */
  error: number;
}

/** One counter; its heap position lives on the object so sifting never touches the Map. */
class Counter {
  constructor(
    public key: string,
    public count: number,
    public error: number,
    public slot: number,
  ) {}
}

export class SpaceSaving {
  /** Binary min-heap on count. */
  private readonly heap: Counter[] = [];
  private readonly byKey = new Map<string, Counter>();
  private n = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer >= 1');
  }

  /** Total weight offered (N), tracked or not. */
  get total(): number {
    return this.n;
  }

  /** Number of counters in use (never more than capacity). */
  get size(): number {
    return this.heap.length;
  }

  /** True once every counter is taken: from then on untracked keys may have counts up to minCount. */
  get full(): boolean {
    return this.heap.length === this.capacity;
  }

  /** Smallest counter, an upper bound of any untracked key's true count (0 while not full). */
  get minCount(): number {
    return this.full ? this.heap[0]!.count : 0;
  }

  offer(key: string, weight = 1): void {
    this.n += weight;
    const hit = this.byKey.get(key);
    if (hit !== undefined) {
      hit.count += weight;
      this.siftDown(hit.slot);
      return;
    }
    const size = this.heap.length;
    if (size < this.capacity) {
      const c = new Counter(key, weight, 0, size);
      this.heap.push(c);
      this.byKey.set(key, c);
      this.siftUp(size);
      return;
    }
    // Replace the minimum: the newcomer inherits its count as the overestimation error.
    const min = this.heap[0]!;
    this.byKey.delete(min.key);
    min.key = key;
    min.error = min.count;
    min.count += weight;
    this.byKey.set(key, min);
    this.siftDown(0);
  }

  get(key: string): SketchEntry | null {
    const c = this.byKey.get(key);
    return c === undefined ? null : { key, count: c.count, error: c.error };
  }

  /** All tracked counters, highest count first. */
  entries(): SketchEntry[] {
    const out = this.heap.map((c) => ({ key: c.key, count: c.count, error: c.error }));
    out.sort((a, b) => b.count - a.count || a.error - b.error);
    return out;
  }

  top(limit: number): SketchEntry[] {
    return this.entries().slice(0, Math.max(0, limit));
  }

  clear(): void {
    this.heap.length = 0;
    this.byKey.clear();
    this.n = 0;
  }

  /** Puts `c` at heap index `i`: the one place that keeps a counter's slot equal to its index. */
  private place(c: Counter, i: number): void {
    this.heap[i] = c;
    c.slot = i;
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const c = heap[i]!;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.count <= c.count) break;
      this.place(parent, i);
      i = parentIndex;
    }
    this.place(c, i);
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const size = heap.length;
    const c = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const childIndex = r < size && heap[r]!.count < heap[l]!.count ? r : l;
      const child = heap[childIndex]!;
      if (c.count <= child.count) break;
      this.place(child, i);
      i = childIndex;
    }
    this.place(c, i);
  }
}

export interface MergedEntry extends SketchEntry {
  /** Guaranteed lower bound of the true count (count - error). */
  lower: number;
}

/**
 * What a sketch (or a merge of sketches) says about its stream, in a form that travels between
 * instances: for each listed key, lower <= true count <= count; for any key not listed, true
 * count <= untrackedMax. total is the stream's length N.
 */
export interface SketchSummary {
  entries: ReadonlyArray<{ key: string; count: number; lower: number }>;
  untrackedMax: number;
  total: number;
}

/** A sketch's own summary: its counters, and its minimum as the bound of every untracked key. */
export function summaryOf(sketch: SpaceSaving): SketchSummary {
  return {
    entries: sketch.entries().map((e) => ({ key: e.key, count: e.count, lower: e.count - e.error })),
    untrackedMax: sketch.minCount,
    total: sketch.total,
  };
}

/**
 * Merges summaries of disjoint sub-streams (time buckets, instances). For each key listed by any
 * summary: count = sum of its counts, plus each other summary's untrackedMax (its true count
 * there is at most that); lower = sum of its lowers where listed (0 elsewhere). A key listed by
 * none is bounded by the sum of the untrackedMax. So every bound of the parts holds for the
 * union. The union is returned (at most the sum of the parts' entries), highest count first.
 */
export function mergeSummaries(parts: readonly SketchSummary[]): {
  entries: MergedEntry[];
  total: number;
  untrackedMax: number;
} {
  const acc = new Map<string, { count: number; lower: number; seenIn: number }>();
  let total = 0;
  let untrackedMax = 0;
  for (const p of parts) {
    total += p.total;
    untrackedMax += p.untrackedMax;
  }
  for (const p of parts) {
    for (const e of p.entries) {
      let a = acc.get(e.key);
      if (!a) {
        a = { count: 0, lower: 0, seenIn: 0 };
        acc.set(e.key, a);
      }
      a.count += e.count;
      a.lower += e.lower;
      // This part's bound is replaced by a real counter for this key.
      a.seenIn += p.untrackedMax;
    }
  }
  const entries: MergedEntry[] = [];
  for (const [key, a] of acc) {
    const count = a.count + (untrackedMax - a.seenIn);
    entries.push({ key, count, error: count - a.lower, lower: a.lower });
  }
  entries.sort((x, y) => y.count - x.count || x.error - y.error || (x.key < y.key ? -1 : 1));
  return { entries, total, untrackedMax };
}

/**
 * Keeps the `limit` highest entries of a merged summary (what an instance sends its peers). A
 * dropped key's true count is at most its count, so untrackedMax rises to the highest dropped
 * count and the bounds still hold for every key.
 */
export function truncateSummary(
  s: { entries: readonly MergedEntry[]; untrackedMax: number; total: number },
  limit: number,
): SketchSummary {
  const kept = s.entries.slice(0, Math.max(0, limit));
  let untrackedMax = s.untrackedMax;
  for (let i = kept.length; i < s.entries.length; i++)
    untrackedMax = Math.max(untrackedMax, s.entries[i]!.count);
  return {
    entries: kept.map((e) => ({ key: e.key, count: e.count, lower: e.lower })),
    untrackedMax,
    total: s.total,
  };
}

/** Merges sketches of disjoint sub-streams (time buckets): mergeSummaries of their summaries. */
export function mergeSketches(sketches: readonly SpaceSaving[]): { entries: MergedEntry[]; total: number } {
  const { entries, total } = mergeSummaries(sketches.map(summaryOf));
  return { entries, total };
}
