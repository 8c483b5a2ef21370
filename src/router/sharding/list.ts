// method: list — each shard lists the raw key values it owns. Numbers in the list match values
// that are numerically equal ("007" matches 7); strings match exactly.
import type { TableConfig } from '../../config/schema.js';

interface ListIndex {
  strings: Map<string, string>;
  numbers: Map<number, string>;
}

// Built once per config object (config objects are replaced, never mutated, on reload).
const indexes = new WeakMap<object, ListIndex>();

function indexFor(lists: TableConfig['lists']): ListIndex {
  let index = indexes.get(lists);
  if (index) return index;
  index = { strings: new Map(), numbers: new Map() };
  for (const [shard, values] of Object.entries(lists)) {
    for (const v of values) {
      // First listing wins, so an accidental duplicate cannot flip between shards.
      if (typeof v === 'number') {
        if (!index.numbers.has(v)) index.numbers.set(v, shard);
      } else if (!index.strings.has(v)) index.strings.set(v, shard);
    }
  }
  indexes.set(lists, index);
  return index;
}

/** Shard that lists the value; null when no shard lists it. */
export function listShard(table: Pick<TableConfig, 'lists'>, value: string): string | null {
  const index = indexFor(table.lists);
  const byString = index.strings.get(value);
  if (byString !== undefined) return byString;
  if (index.numbers.size === 0) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  const n = Number(trimmed);
  if (!Number.isFinite(n)) return null;
  return index.numbers.get(n) ?? null;
}
