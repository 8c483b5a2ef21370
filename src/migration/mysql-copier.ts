// The MySQL/MariaDB snapshot copy of a split: the targets get each moved table's definition, then
// its rows read in primary-key order (keyset pages of the throttle's batch size) from one
// START TRANSACTION WITH CONSISTENT SNAPSHOT, each row written to the target owning its shard key,
// throttled. The snapshot's binlog point comes from MariaDB's Binlog_snapshot_file/position,
// which the server fixes together with the snapshot, turned into a GTID position; the binlog
// capture replays every change after that point, so nothing between snapshot and capture is lost.

import { type KeyRange, rangeContains } from '../domain/keyspace.js';
import { keyspaceIdFor } from '../router/sharding/hash.js';
import {
  keyText,
  type MysqlConnection,
  type MysqlRow,
  mysqlPrimaryKey,
  pageByKey,
  quoteMysqlIdent,
  upsertMysqlRows,
  withSourceAndTargets,
} from './mysql-table.js';
import { keyOwner, tableKind } from './row-owner.js';
import type { Throttle } from './throttle.js';
import type { MovedTable, ServerAddress, SplitTarget } from './types.js';

export interface MysqlCopyOptions {
  source: ServerAddress;
  targets: readonly SplitTarget[];
  tables: readonly MovedTable[];
  throttle: Throttle;
  /** The last checkpoint of an interrupted copy: it goes on from each table's cursor. */
  resume?: MysqlCopyState;
  /** Persists the state; awaited after every batch before the next one is read. */
  checkpoint?: (state: MysqlCopyState) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (table: string, rows: number) => void;
  /**
   * The keyspace this source owns when another source copies the rest (a merge): a sharded row
   * whose key lies outside is a leftover of an earlier split, not copied and not counted unowned.
   */
  scope?: readonly KeyRange[];
}

/** A primary-key value in a cursor, JSON-safe (binary keys as hex). */
export type CursorValue = string | number | null | { hex: string };

/**
 * Where a copy stands, as JSON. `gtidPosition` is the first snapshot's, also after a resume from a
 * newer snapshot: the capture replays from there, so a change made between the two snapshots to a
 * row copied before the interruption still reaches the halves (replays are idempotent).
 */
export interface MysqlCopyState {
  gtidPosition: string;
  tables: Array<{ table: string; lastKey: CursorValue[] | null; rows: number; done: boolean }>;
}

export interface MysqlCopyResult {
  /** False when the signal aborted first; `state` holds the last checkpoint. */
  complete: boolean;
  state: MysqlCopyState;
  /** Rows copied by this run. */
  rows: number;
  /** Rows whose shard key no target owns (not copied; verification reports them). */
  unownedRows: number;
}

/** Creates each moved table on every target with the source's own definition. */
export async function copyMysqlSchema(
  source: MysqlConnection,
  targets: readonly MysqlConnection[],
  tables: readonly MovedTable[],
): Promise<void> {
  for (const t of tables) {
    const [rows] = await source.query(`SHOW CREATE TABLE ${quoteMysqlIdent(t.name)}`);
    const ddl = String((rows as Array<Record<string, unknown>>)[0]?.['Create Table'] ?? '');
    for (const target of targets)
      await target.query(ddl.replace(/^CREATE TABLE/, 'CREATE TABLE IF NOT EXISTS'));
  }
}

export async function copyMysqlTables(o: MysqlCopyOptions): Promise<MysqlCopyResult> {
  return withSourceAndTargets(o.source, o.targets, async (source, targets) => {
    await copyMysqlSchema(source, targets, o.tables);
    await source.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await source.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    const snapshot = await snapshotGtidPosition(source);
    const state: MysqlCopyState = o.resume ?? {
      gtidPosition: snapshot,
      tables: o.tables.map((t) => ({ table: t.name, lastKey: null, rows: 0, done: false })),
    };
    // The first snapshot's position is kept before any row is written: a crash before the first
    // batch's checkpoint then resumes with the capture from it, so a row copied by the lost run
    // and deleted since is deleted on the halves too.
    if (!o.resume) await o.checkpoint?.(state);
    const ranges = o.targets.map((t) => t.range);
    let rows = 0;
    let unownedRows = 0;
    for (const t of o.tables) {
      const progress = state.tables.find((p) => p.table === t.name);
      if (!progress) throw new Error(`the copy state has no entry for table ${t.name}`);
      const key = await mysqlPrimaryKey(source, t.name);
      while (!progress.done) {
        if (o.signal?.aborted) return { complete: false, state, rows, unownedRows };
        const after = progress.lastKey?.map(fromCursor) ?? null;
        const page = await pageByKey(source, t.name, key, after, o.throttle.batchRows);
        if (page.length === 0) {
          progress.done = true;
        } else {
          await o.throttle.take(page.length, approximateBytes(page), o.signal);
          const perTarget: MysqlRow[][] = targets.map(() => []);
          for (const row of page) {
            if (outsideScope(t, row, o.scope)) continue;
            const owners = ownersOf(t, row, ranges, targets.length);
            if (owners.length === 0) unownedRows++;
            for (const i of owners) perTarget[i]?.push(row);
          }
          await Promise.all(targets.map((c, i) => upsertMysqlRows(c, t.name, perTarget[i] ?? [])));
          const last = page[page.length - 1] as MysqlRow;
          progress.lastKey = key.map((k) => toCursor(last[k]));
          progress.rows += page.length;
          rows += page.length;
          o.onProgress?.(t.name, progress.rows);
        }
        await o.checkpoint?.(state);
      }
    }
    await source.query('COMMIT');
    return { complete: true, state, rows, unownedRows };
  });
}

function toCursor(value: unknown): CursorValue {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return { hex: value.toString('hex') };
  return typeof value === 'number' ? value : String(value);
}

function fromCursor(value: CursorValue): unknown {
  return value !== null && typeof value === 'object' ? Buffer.from(value.hex, 'hex') : value;
}

/** Target indexes a row of `t` goes to: its shard key's owner, every target, or the first. */
export function ownersOf(
  t: MovedTable,
  row: MysqlRow,
  ranges: Parameters<typeof keyOwner>[2],
  targets: number,
): number[] {
  const kind = tableKind(t);
  if (kind === 'reference') return [...Array(targets).keys()];
  if (kind === 'unsharded') return [0];
  const owner = keyOwner(keyText(row[t.shardKey]), t.keyType, ranges);
  return owner === null ? [] : [owner];
}

/** A sharded row whose valid key lies outside `scope` (no scope: none is). */
export function outsideScope(t: MovedTable, row: MysqlRow, scope: readonly KeyRange[] | undefined): boolean {
  if (!scope || tableKind(t) !== 'sharded') return false;
  const key = keyText(row[t.shardKey]);
  const id = key === null ? null : keyspaceIdFor(key, t.keyType);
  return id !== null && !scope.some((r) => rangeContains(r, id));
}

async function snapshotGtidPosition(c: MysqlConnection): Promise<string> {
  const [status] = await c.query("SHOW STATUS LIKE 'Binlog_snapshot_%'");
  const byName = new Map(
    (status as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name, r.Value]),
  );
  const file = byName.get('Binlog_snapshot_file');
  const position = byName.get('Binlog_snapshot_position');
  if (!file || position === undefined)
    throw new Error('the source reports no binlog snapshot position: start it with log_bin (MariaDB)');
  const [rows] = await c.query('SELECT BINLOG_GTID_POS(?, ?) AS pos', [file, Number(position)]);
  return String((rows as Array<{ pos: string | null }>)[0]?.pos ?? '');
}

function approximateBytes(rows: readonly MysqlRow[]): number {
  let bytes = 0;
  for (const r of rows)
    for (const v of Object.values(r))
      bytes += v === null ? 1 : Buffer.isBuffer(v) ? v.length : String(v).length;
  return bytes;
}
