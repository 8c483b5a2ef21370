// Shared vocabulary of a live split (docs/cutover.md). The control plane (plan, state machine,
// cutover block, CLI) and the data plane (schema copy, snapshot copy, change capture, verify,
// cleanup) meet here; everything is plain data so the state file is this JSON.
import type { KeyRange } from '../domain/keyspace.js';

/** A PostgreSQL server the migration connects to directly (not through the proxy). */
export interface ServerAddress {
  name: string;
  host: string;
  port: number;
  user: string;
  database: string;
}

/**
 * A table that moves. sharded: each row goes to the half owning its shard key; reference: every
 * row to every half; unsharded: every row to the first half (the new home of the source's
 * unsharded tables). Without `kind` (state files of older versions): sharded.
 */
export interface MovedTable {
  name: string;
  /** '' for reference and unsharded tables. */
  shardKey: string;
  keyType: 'int' | 'text';
  kind?: 'sharded' | 'reference' | 'unsharded';
}

/** One half of the split: the new shard name, its primary, the keyspace range it will own. */
export interface SplitTarget {
  shard: string;
  server: ServerAddress;
  range: KeyRange;
}

export interface ThrottleSettings {
  rowsPerSecond: number;
  bytesPerSecond: number;
  /** "HH:MM-HH:MM" local time in which both limits are multiplied by maintenanceMultiplier. */
  maintenanceWindow: string | null;
  maintenanceMultiplier: number;
  batchRows: number;
}

/**
 * Where a table's copy stands. Keys are primary-key values as text (one entry per pk column),
 * compared by PostgreSQL in the copy query, never by us.
 */
export interface TableCopyState {
  table: string;
  primaryKey: string[];
  /** Last primary key copied (the keyset cursor); null before the first batch. */
  lastKey: string[] | null;
  rows: number;
  bytes: number;
  done: boolean;
  /**
   * Which snapshot each key range was copied from, so replayed changes already contained in a
   * snapshot are skipped: a change at commit LSN c to a key k is applied iff c >= lsn of the last
   * segment whose `after` is below k (null = from the start). A resume after a crash adds one.
   */
  segments: Array<{ after: string[] | null; lsn: string }>;
  /** Estimated total rows (pg_class.reltuples at plan time), for progress. */
  estimatedRows: number;
}

export interface ChunkMismatch {
  table: string;
  /** Primary-key range (exclusive, inclusive] of the chunk, as text. */
  fromKey: string[] | null;
  toKey: string[] | null;
  sourceRows: number;
  targetRows: number;
  /** Primary keys of rows that kept differing (first few), when the chunk was narrowed to rows. */
  rows?: string[][];
  /** The whole table's row count differs (fromKey and toKey are null). */
  wholeTable?: boolean;
  /** The one target compared (a reference table is compared with each target on its own). */
  target?: string;
}

export interface VerifyReport {
  mode: 'full' | 'sample';
  chunksChecked: number;
  rowsChecked: number;
  mismatches: ChunkMismatch[];
  perTable: Array<{ table: string; sourceRows: number; targetRows: number }>;
}
