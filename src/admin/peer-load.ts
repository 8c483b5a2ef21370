// What bounds the calls this instance makes to the other members. The cluster routes are open
// (/api/cluster, /metrics?scope=cluster) and a CancelRequest needs no login, so without a bound
// every inbound request would cost N-1 outbound ones: concurrent cluster reads of one path share
// one fetch and its answer for a short while (Coalescer), and forwarded cancels draw from a token
// bucket (CancelBudget), past which they are dropped (a cancel is best effort in PostgreSQL too).

/** Shares one in-flight computation per key, and its result for `ttlMs` after it settles. */
export class Coalescer<T> {
  private readonly entries = new Map<string, { at: number | null; value: Promise<T> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string, produce: () => Promise<T>): Promise<T> {
    const t = this.now();
    // Old answers go first, so the map holds only the keys asked within the last ttl.
    for (const [k, e] of this.entries) if (e.at !== null && t - e.at >= this.ttlMs) this.entries.delete(k);
    const hit = this.entries.get(key);
    if (hit) return hit.value;
    const entry: { at: number | null; value: Promise<T> } = { at: null, value: produce() };
    this.entries.set(key, entry);
    entry.value.then(
      () => {
        entry.at = this.now();
      },
      // A failure is not kept: the next request tries again.
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.value;
  }
}

/** A token bucket: `perSecond` tokens a second, at most `burst` saved up. */
export class CancelBudget {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when none is left (the caller drops the cancel). */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
