// Per-shard, per-role slots of the data path's figures (latency series, histogram cells): a
// shard's [primary, replica] pair sits behind one map lookup and each slot is made on first use,
// so recording a statement allocates nothing once both exist.

export type SlotRole = 'primary' | 'replica';

export class ShardRoleSlots<T> {
  private readonly pairs = new Map<string, [T | null, T | null]>();

  /** `make` is kept, not rebuilt per lookup: the hot path passes no closure. */
  constructor(private readonly make: (shard: string, role: SlotRole) => T) {}

  slot(shard: string, role: SlotRole): T {
    let pair = this.pairs.get(shard);
    if (pair === undefined) {
      pair = [null, null];
      this.pairs.set(shard, pair);
    }
    const index = role === 'primary' ? 0 : 1;
    let slot = pair[index];
    if (slot === null) {
      slot = this.make(shard, role);
      pair[index] = slot;
    }
    return slot;
  }

  /** The shard's [primary, replica] slots (null: not made yet); undefined for a shard never seen. */
  of(shard: string): readonly [T | null, T | null] | undefined {
    return this.pairs.get(shard);
  }

  entries(): IterableIterator<[string, [T | null, T | null]]> {
    return this.pairs.entries();
  }

  shards(): IterableIterator<string> {
    return this.pairs.keys();
  }
}
