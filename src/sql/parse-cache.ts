// A bounded cache of analysis results keyed by fingerprint, evicting the least recently used
// entry by "second chance" (CLOCK) over a Map's insertion order: a hit only sets a flag (moving
// the entry on every hit costs a delete and an insert, about as much as the tokenizer pass);
// eviction moves flagged entries to the back, clearing the flag, and drops the first unflagged one.

export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
}

interface Entry<V> {
  value: V;
  used: boolean;
}

export class ParseCache<V> {
  private readonly map = new Map<string, Entry<V>>();
  private hits = 0;
  private misses = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`bad cache capacity ${capacity}`);
  }

  /** The cached value (counted as a hit), or undefined (a miss). */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    e.used = true;
    return e.value;
  }

  /** Re-counts the last hit as a miss: the caller found the entry unusable and will replace it. */
  countMiss(): void {
    this.hits--;
    this.misses++;
  }

  set(key: string, value: V): void {
    if (this.capacity === 0) return;
    const existing = this.map.get(key);
    if (existing) {
      existing.value = value;
      return;
    }
    // Every entry loses its flag at most once per pass, so this ends within size + 1 steps.
    while (this.map.size >= this.capacity) {
      const oldest = this.map.entries().next();
      if (oldest.done) break;
      const [k, e] = oldest.value;
      this.map.delete(k);
      if (!e.used) break;
      e.used = false;
      this.map.set(k, e);
    }
    this.map.set(key, { value, used: false });
  }

  clear(): void {
    this.map.clear();
  }

  get stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, size: this.map.size };
  }
}
