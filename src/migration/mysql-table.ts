// Direct connections to MariaDB/MySQL servers of a split and the table access the MySQL copy,
// change apply and verification share: primary-key lookup, keyset pages in primary-key order,
// upsert and delete by primary key. Values travel as mysql2 returns them (dates as strings,
// big integers as exact strings), so a row read here writes back unchanged.
import mysql from 'mysql2/promise';
import { closeAfter } from '../backend/with-connection.js';
import { ShardgateError } from '../errors.js';
import { backendMysqlPassword } from './credentials.js';
import type { ServerAddress } from './types.js';

export type MysqlConnection = mysql.Connection;
export type MysqlRow = Record<string, unknown>;

export async function openMysql(
  server: ServerAddress,
  extra: mysql.ConnectionOptions = {},
): Promise<MysqlConnection> {
  const c = await mysql.createConnection({ ...mysqlConnectionOptions(server), ...extra });
  // A server that goes away under an idle connection must not crash the process.
  c.on('error', () => undefined);
  return c;
}

/** Runs `fn` on a new connection to `server` and closes it after. */
export async function withMysql<T>(
  server: ServerAddress,
  fn: (c: MysqlConnection) => Promise<T>,
): Promise<T> {
  return closeAfter(await openMysql(server), fn);
}

/**
 * Runs `fn` on a connection to `source` and one to each target (opened in turn); all are closed
 * after, those already open too when a later one fails to open.
 */
export async function withSourceAndTargets<T>(
  source: ServerAddress,
  targets: readonly { server: ServerAddress }[],
  fn: (source: MysqlConnection, targets: MysqlConnection[]) => Promise<T>,
): Promise<T> {
  const src = await openMysql(source);
  const dst: MysqlConnection[] = [];
  try {
    for (const t of targets) dst.push(await openMysql(t.server));
    return await fn(src, dst);
  } finally {
    await Promise.allSettled([src, ...dst].map((c) => c.end()));
  }
}

/** Each server's @@gtid_binlog_pos: where a binlog reader starting now begins. */
export async function binlogPositions(servers: readonly ServerAddress[]): Promise<string[]> {
  return Promise.all(servers.map((server) => withMysql(server, binlogPosition)));
}

/** One connection to each server; when one fails to open, those that opened are closed first. */
export async function openMysqlEach(servers: readonly ServerAddress[]): Promise<MysqlConnection[]> {
  const opened = await Promise.allSettled(servers.map((s) => openMysql(s)));
  const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value.end()] : [])));
    throw failed.reason;
  }
  return opened.map((r) => (r as PromiseFulfilledResult<MysqlConnection>).value);
}

/** The server's @@gtid_binlog_pos over an open connection (one round trip, for inside a block). */
export async function binlogPosition(c: MysqlConnection): Promise<string> {
  const [rows] = await c.query('SELECT @@gtid_binlog_pos AS pos');
  return String((rows as Array<{ pos: string | null }>)[0]?.pos ?? '');
}

/** mysql2 options for a split's server; the binlog client decodes row values with the same ones. */
export function mysqlConnectionOptions(server: ServerAddress): mysql.ConnectionOptions {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: backendMysqlPassword(server.user) ?? '',
    database: server.database,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    // JSON columns are copied as their text (parsed, an object would be written as '[object Object]').
    jsonStrings: true,
    connectTimeout: 5_000,
  };
}

export function quoteMysqlIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** Primary-key columns in key order; a table without one cannot be copied by key. */
export async function mysqlPrimaryKey(c: MysqlConnection, table: string): Promise<string[]> {
  const [rows] = await c.query(
    'SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE ' +
      "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
    [table],
  );
  const key = (rows as Array<{ name: string }>).map((r) => r.name);
  if (key.length === 0)
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `table ${table} has no primary key; add one before splitting (rows are copied and changed by key)`,
    });
  return key;
}

/** Up to `limit` rows after `after` (exclusive) in primary-key order; null = from the start. */
export async function pageByKey(
  c: MysqlConnection,
  table: string,
  key: readonly string[],
  after: readonly unknown[] | null,
  limit: number,
): Promise<MysqlRow[]> {
  const cols = key.map(quoteMysqlIdent).join(', ');
  const where = after ? `WHERE (${cols}) > (${key.map(() => '?').join(', ')}) ` : '';
  const [rows] = await c.query(
    `SELECT * FROM ${quoteMysqlIdent(table)} ${where}ORDER BY ${cols} LIMIT ${Math.max(1, Math.floor(limit))}`,
    after ? [...after] : [],
  );
  return rows as MysqlRow[];
}

/** Writes rows by primary key: inserted when absent, overwritten when present (replay-safe). */
export async function upsertMysqlRows(
  c: MysqlConnection,
  table: string,
  rows: readonly MysqlRow[],
): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const cols = Object.keys(first);
  await c.query(
    upsertMysqlSql(table, cols, rows.length),
    rows.flatMap((r) => cols.map((k) => r[k])),
  );
}

/** INSERT ... ON DUPLICATE KEY UPDATE of `count` rows of `cols`, `?` placeholders row by row. */
export function upsertMysqlSql(table: string, cols: readonly string[], count: number): string {
  const tuple = `(${cols.map(() => '?').join(', ')})`;
  const updates = cols.map((k) => `${quoteMysqlIdent(k)} = VALUES(${quoteMysqlIdent(k)})`).join(', ');
  return (
    `INSERT INTO ${quoteMysqlIdent(table)} (${cols.map(quoteMysqlIdent).join(', ')}) VALUES ` +
    `${Array(count).fill(tuple).join(', ')} ON DUPLICATE KEY UPDATE ${updates}`
  );
}

/** A column value as the router hashes it: text, or null for SQL NULL. */
export function keyText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}
