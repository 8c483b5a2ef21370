// The MySQL/MariaDB snapshot copy of a split: the targets get each moved table's definition, then
// its rows read in primary-key order (keyset pages of the throttle's batch size) from one
// START TRANSACTION WITH CONSISTENT SNAPSHOT, each row written to the target owning its shard key,
// throttled. The snapshot's binlog point comes from MariaDB's Binlog_snapshot_file/position,
// which the server fixes together with the snapshot, turned into a GTID position; the binlog
// capture replays every change after that point, so nothing between snapshot and capture is lost.

import {
  keyText,
  type MysqlConnection,
  type MysqlRow,
  mysqlPrimaryKey,
  openMysql,
  pageByKey,
  quoteMysqlIdent,
  upsertMysqlRows,
} from './mysql-table.js';
import { keyOwner, tableKind } from './row-owner.js';
import type { Throttle } from './throttle.js';
import type { MovedTable, ServerAddress, SplitTarget } from './types.js';

export interface MysqlCopyOptions {
  source: ServerAddress;
  targets: readonly SplitTarget[];
  tables: readonly MovedTable[];
  throttle: Throttle;
  signal?: AbortSignal;
  onProgress?: (table: string, rows: number) => void;
}

export interface MysqlCopyResult {
  /** GTID position of the snapshot: the capture starts after it. */
  gtidPosition: string;
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
  const source = await openMysql(o.source);
  const targets: MysqlConnection[] = [];
  try {
    for (const t of o.targets) targets.push(await openMysql(t.server));
    await copyMysqlSchema(source, targets, o.tables);
    await source.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await source.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    const gtidPosition = await snapshotGtidPosition(source);
    const ranges = o.targets.map((t) => t.range);
    let rows = 0;
    let unownedRows = 0;
    for (const t of o.tables) {
      const key = await mysqlPrimaryKey(source, t.name);
      let after: unknown[] | null = null;
      let tableRows = 0;
      for (;;) {
        if (o.signal?.aborted) throw new Error('copy aborted');
        const page = await pageByKey(source, t.name, key, after, o.throttle.batchRows);
        if (page.length === 0) break;
        const last = page[page.length - 1] as MysqlRow;
        after = key.map((k) => last[k]);
        await o.throttle.take(page.length, approximateBytes(page), o.signal);
        const perTarget: MysqlRow[][] = targets.map(() => []);
        for (const row of page) {
          const owners = ownersOf(t, row, ranges, targets.length);
          if (owners.length === 0) unownedRows++;
          for (const i of owners) perTarget[i]?.push(row);
        }
        await Promise.all(targets.map((c, i) => upsertMysqlRows(c, t.name, perTarget[i] ?? [])));
        tableRows += page.length;
        o.onProgress?.(t.name, tableRows);
      }
      rows += tableRows;
    }
    await source.query('COMMIT');
    return { gtidPosition, rows, unownedRows };
  } finally {
    await Promise.allSettled([source, ...targets].map((c) => c.end()));
  }
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
