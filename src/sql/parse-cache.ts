// A bounded cache of analysis results keyed by fingerprint, evicting the least recently used
// entry by "second chance" (CLOCK) over a Map's insertion order: a hit only sets a flag (moving
// the entry on every hit costs a delete and an insert, about as much as the tokenizer pass);
// eviction moves flagged entries to the back, clearing the flag, and drops the first unflagged one.
// Bounded twice: by entries and by bytes (a fingerprint is as long as its statement, up to
// limits.maxStatementTokens, so ten thousand entries could otherwise hold gigabytes).

export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
  /** Approximate bytes held by keys and values. */
  bytes: number;
}

interface Entry<V> {
  value: V;
  used: boolean;
  bytes: number;
}

/** Bookkeeping per entry besides its key and value: the Map slot and the entry object. */
const ENTRY_OVERHEAD_BYTES = 96;

export class ParseCache<V> {
  private readonly map = new Map<string, Entry<V>>();
  private hits = 0;
  private misses = 0;
  private bytes = 0;

  /**
   * `maxBytes`: bound of keys plus values as `sizeOf` estimates them; an entry above a quarter
   * of it is never cached (one huge statement would flush every other shape).
   */
  constructor(
    readonly capacity: number,
    readonly maxBytes = Number.POSITIVE_INFINITY,
    private readonly sizeOf: (value: V) => number = () => 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`bad cache capacity ${capacity}`);
    if (!(maxBytes >= 0)) throw new RangeError(`bad cache byte bound ${maxBytes}`);
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
    const bytes = key.length + this.sizeOf(value) + ENTRY_OVERHEAD_BYTES;
    const existing = this.map.get(key);
    if (existing) {
      this.map.delete(key);
      this.bytes -= existing.bytes;
    }
    if (bytes > this.maxBytes / 4) return;
    // Every entry loses its flag at most once per pass, so each eviction ends within size + 1 steps.
    while (this.map.size > 0 && (this.map.size >= this.capacity || this.bytes + bytes > this.maxBytes)) {
      const oldest = this.map.entries().next();
      if (oldest.done) break;
      const [k, e] = oldest.value;
      this.map.delete(k);
      if (!e.used) {
        this.bytes -= e.bytes;
        continue;
      }
      e.used = false;
      this.map.set(k, e);
    }
    this.map.set(key, { value, used: false, bytes });
    this.bytes += bytes;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  get stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, size: this.map.size, bytes: this.bytes };
  }
}

/**
 * Approximate heap bytes of a plain value (strings, numbers, arrays, objects): enough to budget
 * cached analysis results, computed on a cache miss only (next to a full parse it is cheap).
 */
export function approximateBytes(value: unknown): number {
  let total = 0;
  const stack: unknown[] = [value];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') total += 16 + v.length;
    else if (typeof v === 'number' || typeof v === 'bigint') total += 16;
    else if (typeof v === 'boolean' || v === null || v === undefined) total += 8;
    else if (typeof v === 'object') {
      if (seen.has(v)) continue;
      seen.add(v);
      if (Array.isArray(v)) {
        total += 16 + 8 * v.length;
        for (const item of v) stack.push(item);
      } else if (v instanceof Map || v instanceof Set) {
        total += 32 + 24 * v.size;
        for (const item of v) stack.push(item);
      } else {
        const entries = Object.values(v as Record<string, unknown>);
        total += 24 + 8 * entries.length;
        for (const item of entries) stack.push(item);
      }
    }
  }
  return total;
}
