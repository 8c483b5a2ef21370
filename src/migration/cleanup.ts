// After a verified split: the moved rows leave the source in primary-key batches (keyset, so
// each batch starts where the last one ended instead of rescanning dead rows), throttled like
// the copy, each batch its own transaction; then the replication slots and publications go.
// Only rows whose shard key lies in the given ranges are deleted (computed inside PostgreSQL
// with the router's own hash), nothing else of the source; a moved reference or unsharded table
// left with the whole source shard, so all its rows go.
import type { KeyRange } from '../domain/keyspace.js';
import { withClient } from './pg-connect.js';
import { dropPublication, dropSlot } from './pg-replication.js';
import { inRangesSql, tableKind } from './row-owner.js';
import {
  keyFromTextRow,
  keysetPageSql,
  loadTableMeta,
  pkOrder,
  pkTextColumns,
  quoteIdent,
} from './table-meta.js';
import type { Throttle } from './throttle.js';
import type { MovedTable, ServerAddress } from './types.js';

export interface CleanupOptions {
  source: ServerAddress;
  tables: readonly MovedTable[];
  /** The moved keyspace ranges: rows whose shard key lies in one of them are deleted. */
  ranges: readonly KeyRange[];
  throttle?: Throttle;
  /** Rows per delete batch when no throttle gives one (default 1000). */
  batchRows?: number;
  signal?: AbortSignal;
  onProgress?: (progress: { table: string; deleted: number; done: boolean }) => void;
}

export interface CleanupResult {
  complete: boolean;
  perTable: Array<{ table: string; deleted: number }>;
}

export async function deleteMovedRows(o: CleanupOptions): Promise<CleanupResult> {
  const result: CleanupResult = { complete: true, perTable: [] };
  await withClient(o.source, 'migration-cleanup', async (c) => {
    for (const moved of o.tables) {
      const meta = await loadTableMeta(c, moved.name);
      const inRanges =
        tableKind(moved) === 'sharded' ? inRangesSql(moved.shardKey, moved.keyType, o.ranges, 't') : 'true';
      const join = meta.primaryKey
        .map((k) => `t.${quoteIdent(k.name)} = d.${quoteIdent(k.name)}`)
        .join(' AND ');
      const entry = { table: moved.name, deleted: 0 };
      result.perTable.push(entry);
      let last: string[] | null = null;
      for (;;) {
        if (o.signal?.aborted) {
          result.complete = false;
          return;
        }
        const batch = o.throttle?.batchRows ?? Math.max(1, Math.floor(o.batchRows ?? 1000));
        const r = await c.query<Record<string, string | null>>(
          `WITH doomed AS (${keysetPageSql(meta, inRanges, last !== null, batch)}),
           gone AS (DELETE FROM ${meta.qualified} t USING doomed d WHERE ${join} RETURNING 1)
           SELECT (SELECT count(*) FROM gone)::text AS n, ${pkTextColumns(meta, 'l')}
             FROM (SELECT * FROM doomed ORDER BY ${pkOrder(meta, ' DESC')} LIMIT 1) l`,
          last ?? [],
        );
        const row = r.rows[0];
        if (!row) break;
        const n = Number(row.n ?? 0);
        entry.deleted += n;
        last = keyFromTextRow(meta, row);
        o.onProgress?.({ table: moved.name, deleted: entry.deleted, done: false });
        await o.throttle?.take(n, 0, o.signal);
      }
      o.onProgress?.({ table: moved.name, deleted: entry.deleted, done: true });
    }
  });
  return result;
}

/** Drops the given slots (disconnecting a consumer still attached) and publications on a server. */
export async function dropReplication(
  server: ServerAddress,
  slots: readonly string[],
  publications: readonly string[],
): Promise<void> {
  for (const s of slots) await dropSlot(server, s);
  for (const p of publications) await dropPublication(server, p);
}
