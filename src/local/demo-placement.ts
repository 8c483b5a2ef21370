// Where the demo rows go, for both protocols' loaders: each row on the shard that owns its key
// (the router's own sharding functions, so the demo data and the proxy always agree; a table
// without a shard key on the first shard), then per table in insert batches.
import type { ShardgateConfig } from '../config/schema.js';
import { parseKeyRange } from '../domain/keyspace.js';
import { shardForValue } from '../router/sharding/resolve.js';
import type { DemoRow } from './demo-schema.js';

/** Rows per INSERT statement of the demo loaders. */
const BATCH_ROWS = 500;

/** The rows each shard owns, every shard of `shards` present (maybe with none). */
export function demoRowsPerShard(
  config: ShardgateConfig,
  shardConfigs: ReadonlyArray<{ name: string; keyRange: string }>,
  rows: readonly DemoRow[],
): Map<string, DemoRow[]> {
  const shards = shardConfigs.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange) }));
  const perShard = new Map<string, DemoRow[]>(shards.map((s) => [s.name, []]));
  for (const row of rows) {
    const table = config.tables[row.table];
    const shard = table?.shardKey ? shardForValue(table, String(row.userId), shards) : shards[0]!.name;
    perShard.get(shard)?.push(row);
  }
  return perShard;
}

/** One shard's rows as [table, rows] batches, tables in first-seen order. */
export function demoInsertBatches(rows: readonly DemoRow[]): Array<[string, DemoRow[]]> {
  const byTable = new Map<string, DemoRow[]>();
  for (const r of rows) {
    let list = byTable.get(r.table);
    if (!list) byTable.set(r.table, (list = []));
    list.push(r);
  }
  const batches: Array<[string, DemoRow[]]> = [];
  for (const [table, list] of byTable)
    for (let i = 0; i < list.length; i += BATCH_ROWS) batches.push([table, list.slice(i, i + BATCH_ROWS)]);
  return batches;
}
