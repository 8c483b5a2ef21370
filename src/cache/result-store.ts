// The result cache's memory: entries (response bytes) by key, bounded in bytes with LRU eviction,
// expiring by TTL, indexed by the tables they read so a write to a table drops its entries at once.
// A fill records the tables' generations when it starts; an invalidation between that and the
// store bumps a generation, and the stale fill is not stored (a read that raced a write).
// Single-flight: concurrent misses of one key wait for the first one's fill.
// Each entry also carries a hint, a cheap 32-bit hash of part of what its key hashes (the caller
// chooses which part): mayHold(hint) false means no entry can match, so the hit path skips
// building and hashing the full key for statements that were never cached.

/** Bytes an entry costs besides its key and value (Map slots, object, index sets): an estimate. */
const ENTRY_OVERHEAD = 160;

interface Entry {
  key: string;
  hint: number;
  value: Buffer;
  tables: readonly string[];
  expiresAt: number;
  bytes: number;
  /** `placed` when the entry was last put at the end of the LRU order (see lookup). */
  placedAt: number;
}

export interface ResultStoreOptions {
  maxBytes: number;
  /** Larger results are not cached. */
  maxEntryBytes: number;
  now?: () => number;
}

export interface ResultStoreStats {
  hits: number;
  misses: number;
  /** Entries dropped because a table they read was written (or the cache was cleared). */
  invalidations: number;
  evictions: number;
  entries: number;
  bytes: number;
  maxBytes: number;
}

/** A fill in progress: store() it with the response, or abandon() it. */
export interface FillTicket {
  key: string;
  hint: number;
  tables: readonly string[];
  generations: number[];
  epoch: number;
  done: () => void;
}

export class ResultStore {
  private readonly entries = new Map<string, Entry>();
  private readonly byTable = new Map<string, Set<string>>();
  private readonly generations = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<void>>();
  /** Live entries per hint (see mayHold). */
  private readonly hints = new Map<number, number>();
  /** Bumped by clear(): fills started before it are not stored. */
  private epoch = 0;
  private bytes = 0;
  /** Counts every placement at the end of the LRU order (store, or a hit that moves its entry). */
  private placed = 0;
  private readonly counters = { hits: 0, misses: 0, invalidations: 0, evictions: 0 };
  private readonly now: () => number;

  constructor(private options: ResultStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /** New bounds (config reload); shrinking evicts at once. */
  resize(maxBytes: number, maxEntryBytes: number): void {
    this.options = { ...this.options, maxBytes, maxEntryBytes };
    this.evictTo(maxBytes);
  }

  get maxEntryBytes(): number {
    return this.options.maxEntryBytes;
  }

  /** The cached response, or null (counts a hit or a miss). */
  get(key: string): Buffer | null {
    const value = this.lookup(key);
    if (value !== null) return value;
    const expired = this.entries.get(key);
    if (expired !== undefined) this.remove(expired);
    this.counters.misses++;
    return null;
  }

  /** The hit path's lookup: the cached response or null; counts hits only (a miss goes on to get()). */
  lookup(key: string): Buffer | null {
    const e = this.entries.get(key);
    if (e === undefined || e.expiresAt <= this.now()) return null;
    // Most recently used last: eviction takes from the front. An entry placed within the last half
    // of the map's placements is already in the newer half of the order and stays where it is:
    // moving it on every hit (a Map delete + set) leaves deleted slots that make V8 rebuild the
    // whole table every so often, which was most of a hit's lookup cost with thousands of entries.
    // Eviction is LRU to within that half: fewer than size/2 entries were placed after a skipped one.
    if (this.placed - e.placedAt > this.entries.size >>> 1) {
      this.entries.delete(key);
      this.entries.set(key, e);
      e.placedAt = ++this.placed;
    }
    this.counters.hits++;
    return e.value;
  }

  isEmpty(): boolean {
    return this.entries.size === 0;
  }

  /** False when no entry has this hint: a lookup of any key made with it would miss. */
  mayHold(hint: number): boolean {
    return this.hints.has(hint);
  }

  /** A fill of `key` already running: resolves when it is done (stored or not). */
  pending(key: string): Promise<void> | null {
    return this.inflight.get(key) ?? null;
  }

  /** Starts a fill; null when one for the key is already running (wait on pending()). */
  startFill(key: string, hint: number, tables: readonly string[]): FillTicket | null {
    if (this.inflight.has(key)) return null;
    let done!: () => void;
    this.inflight.set(
      key,
      new Promise<void>((resolve) => {
        done = resolve;
      }),
    );
    return {
      key,
      hint,
      tables,
      generations: tables.map((t) => this.generations.get(t) ?? 0),
      epoch: this.epoch,
      done: () => {
        this.inflight.delete(key);
        done();
      },
    };
  }

  /** No table the fill reads was written, and the cache was not cleared, since the fill started. */
  isCurrent(ticket: FillTicket): boolean {
    if (ticket.epoch !== this.epoch) return false;
    for (let i = 0; i < ticket.tables.length; i++) {
      if ((this.generations.get(ticket.tables[i]!) ?? 0) !== ticket.generations[i]) return false;
    }
    return true;
  }

  /** Stores a fill's response for ttlMs unless a table it read was written since it started. */
  store(ticket: FillTicket, value: Buffer, ttlMs: number): boolean {
    try {
      if (!this.isCurrent(ticket)) return false;
      const bytes = value.length + ticket.key.length * 2 + ENTRY_OVERHEAD;
      if (value.length > this.options.maxEntryBytes || bytes > this.options.maxBytes) return false;
      const old = this.entries.get(ticket.key);
      if (old) this.remove(old);
      this.evictTo(this.options.maxBytes - bytes);
      const entry: Entry = {
        key: ticket.key,
        hint: ticket.hint,
        value,
        tables: ticket.tables,
        expiresAt: this.now() + ttlMs,
        bytes,
        placedAt: ++this.placed,
      };
      this.entries.set(ticket.key, entry);
      this.hints.set(ticket.hint, (this.hints.get(ticket.hint) ?? 0) + 1);
      this.bytes += bytes;
      for (const t of ticket.tables) {
        let keys = this.byTable.get(t);
        if (keys === undefined) {
          keys = new Set();
          this.byTable.set(t, keys);
        }
        keys.add(ticket.key);
      }
      return true;
    } finally {
      ticket.done();
    }
  }

  abandon(ticket: FillTicket): void {
    ticket.done();
  }

  /** A write to these tables: their entries go now, and fills that read them are not stored. */
  invalidateTables(tables: Iterable<string>): number {
    let dropped = 0;
    for (const t of tables) {
      this.generations.set(t, (this.generations.get(t) ?? 0) + 1);
      const keys = this.byTable.get(t);
      if (keys === undefined) continue;
      for (const key of [...keys]) {
        const e = this.entries.get(key);
        if (e) {
          this.remove(e);
          dropped++;
        }
      }
    }
    this.counters.invalidations += dropped;
    return dropped;
  }

  /** Drops everything (operator request). */
  clear(): number {
    const n = this.entries.size;
    this.entries.clear();
    this.byTable.clear();
    this.hints.clear();
    this.bytes = 0;
    this.epoch++;
    this.counters.invalidations += n;
    return n;
  }

  stats(): ResultStoreStats {
    return {
      ...this.counters,
      entries: this.entries.size,
      bytes: this.bytes,
      maxBytes: this.options.maxBytes,
    };
  }

  private evictTo(limit: number): void {
    for (const e of this.entries.values()) {
      if (this.bytes <= limit) return;
      this.remove(e);
      this.counters.evictions++;
    }
  }

  private remove(e: Entry): void {
    this.entries.delete(e.key);
    const left = (this.hints.get(e.hint) ?? 1) - 1;
    if (left <= 0) this.hints.delete(e.hint);
    else this.hints.set(e.hint, left);
    this.bytes -= e.bytes;
    for (const t of e.tables) {
      const keys = this.byTable.get(t);
      keys?.delete(e.key);
      if (keys?.size === 0) this.byTable.delete(t);
    }
  }
}
