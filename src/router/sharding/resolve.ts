// Shard-key value -> owning shard for one table: hash (keyspace id inside a shard's key range),
// range or list (raw values). Pure; the planner calls it once per key value.
import type { TableConfig } from '../../config/schema.js';
import { type KeyRange, rangeContains } from '../../domain/keyspace.js';
import { ShardgateError } from '../../errors.js';
import { keyspaceIdFor } from './hash.js';
import { listShard } from './list.js';
import { rangeShard } from './range.js';

export interface ShardRange {
  name: string;
  range: KeyRange;
}

type KeyedTable = Pick<TableConfig, 'method' | 'keyType' | 'ranges' | 'lists'>;

/** Shard owning a keyspace id; null if no range holds it (a gap: config validation forbids it). */
export function shardForKeyspaceId(id: bigint, shards: readonly ShardRange[]): string | null {
  for (const s of shards) if (rangeContains(s.range, id)) return s.name;
  return null;
}

/**
 * Shard owning `value` (the key as text), or null when it belongs to no shard: an int key that is
 * not an integer, or a range/list value no entry covers.
 */
export function resolveShard(table: KeyedTable, value: string, shards: readonly ShardRange[]): string | null {
  switch (table.method) {
    case 'range':
      return rangeShard(table, value);
    case 'list':
      return listShard(table, value);
    default: {
      const id = keyspaceIdFor(value, table.keyType);
      return id === null ? null : shardForKeyspaceId(id, shards);
    }
  }
}

/** Like resolveShard for callers that need an answer (demo data loading); throws when none. */
export function shardForValue(table: KeyedTable, value: string, shards: readonly ShardRange[]): string {
  const shard = resolveShard(table, value, shards);
  if (shard === null) {
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: `shard-key value "${value}" that maps to no shard (method ${table.method})`,
    });
  }
  return shard;
}
