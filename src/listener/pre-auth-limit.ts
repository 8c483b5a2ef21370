// Connections that have not authenticated yet, counted per source address across both listeners:
// one address cannot hold more than limits.maxUnauthenticatedPerAddress sockets in startup/auth
// (each may buffer up to MAX_PRE_AUTH_MESSAGE bytes, src/protocol/pre-auth.ts), so memory
// before login stays bounded.

export class PreAuthLimit {
  private readonly counts = new Map<string, number>();

  constructor(private readonly maxPerAddress: () => number) {}

  /** A release function (idempotent) when the address has room, else null. */
  acquire(address: string | undefined): (() => void) | null {
    const key = address ?? 'unknown';
    const n = this.counts.get(key) ?? 0;
    if (n >= this.maxPerAddress()) return null;
    this.counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left <= 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }

  /** Unauthenticated connections now held by this address. */
  held(address: string): number {
    return this.counts.get(address) ?? 0;
  }
}
