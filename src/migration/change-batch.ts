// Coalescing of one batch of row changes of a table: a key's final state depends only on its last
// change, so a batch needs one row image per key (the last upsert), or one delete. Applying the
// coalesced batch in any order of keys leaves what applying every change in order leaves, as long
// as no constraint ties rows of different keys together (a unique index besides the primary key,
// an exclusion constraint, a foreign key): tables with one are applied in order instead
// (change-writer.ts). Pure, so it is unit-tested against the one-by-one application.
import type { TextRow } from './row-owner.js';

export type RowChange =
  | { op: 'upsert'; key: readonly string[]; row: TextRow }
  | { op: 'delete'; key: readonly string[] };

/** A map key for a primary key (exact: values may hold any character). */
export function keyText(key: readonly string[]): string {
  return key.length === 1 ? key[0]! : JSON.stringify(key);
}

/**
 * One change per key, in the order of each key's last change. An upsert that left columns out
 * (`undefined`: unchanged TOASTed values) takes them from the key's earlier upsert in the batch;
 * with no earlier change they stay out (the row on the destination keeps them); after a delete
 * it changes nothing.
 */
export function coalesceChanges(changes: readonly RowChange[]): RowChange[] {
  const last = new Map<string, RowChange>();
  for (const c of changes) {
    const k = keyText(c.key);
    const before = last.get(k);
    // Re-inserting moves the key to the end: the result keeps last-change order.
    last.delete(k);
    if (c.op === 'upsert' && before && hasUnchanged(c.row)) {
      // An image without its unchanged values updates the row where it is: after a delete in
      // the batch it finds none, so the key stays deleted.
      if (before.op === 'delete') last.set(k, before);
      else {
        const row: Record<string, string | null | undefined> = { ...before.row };
        for (const [name, v] of Object.entries(c.row)) if (v !== undefined) row[name] = v;
        last.set(k, { op: 'upsert', key: c.key, row });
      }
    } else last.set(k, c);
  }
  return [...last.values()];
}

/** The image leaves out some column values (unchanged TOASTed ones). */
export function hasUnchanged(row: TextRow): boolean {
  for (const v of Object.values(row)) if (v === undefined) return true;
  return false;
}
