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

  private siftUp(i: number): void {
    const heap = this.heap;
    const c = heap[i]!;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.count <= c.count) break;
      heap[i] = parent;
      parent.slot = i;
      i = parentIndex;
    }
    heap[i] = c;
    c.slot = i;
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
      heap[i] = child;
      child.slot = i;
      i = childIndex;
    }
    heap[i] = c;
    c.slot = i;
  }
}

export interface MergedEntry extends SketchEntry {
  /** Guaranteed lower bound of the true count (count - error). */
  lower: number;
}

/**
 * Merges sketches of disjoint sub-streams (time buckets). For each key seen by any sketch:
 * count = sum of its counters, plus each full sketch's minimum where the key is untracked (its
 * true count there is at most that minimum); lower = sum of (count - error) where tracked. The
 * union is returned (at most sum of capacities), highest count first.
 */
export function mergeSketches(sketches: readonly SpaceSaving[]): { entries: MergedEntry[]; total: number } {
  const acc = new Map<string, { count: number; lower: number; seenIn: number }>();
  let total = 0;
  let minSum = 0;
  for (const s of sketches) {
    total += s.total;
    minSum += s.minCount;
  }
  for (const s of sketches) {
    const min = s.minCount;
    for (const e of s.entries()) {
      let a = acc.get(e.key);
      if (!a) {
        a = { count: 0, lower: 0, seenIn: 0 };
        acc.set(e.key, a);
      }
      a.count += e.count;
      a.lower += e.count - e.error;
      // Remember which minimum this sketch already accounted for through a real counter.
      a.seenIn += min;
    }
  }
  const entries: MergedEntry[] = [];
  for (const [key, a] of acc) {
    const count = a.count + (minSum - a.seenIn);
    entries.push({ key, count, error: count - a.lower, lower: a.lower });
  }
  entries.sort((x, y) => y.count - x.count || x.error - y.error);
  return { entries, total };
}
