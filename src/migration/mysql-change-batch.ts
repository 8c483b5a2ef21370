// Batching of a MySQL binlog capture: the row changes of several source transactions, in binlog
// order, become per target a few statements sent in one round trip inside one transaction. Per
// target the writes keep their binlog order; only consecutive writes of one kind to one table
// share a statement: a multi-row INSERT ... ON DUPLICATE KEY UPDATE handles its rows in order
// (a repeated key ends with its last image, a secondary unique index sees the same sequence),
// and deletes commute with each other. So a batch leaves what the one-by-one apply leaves,
// whatever constraints the table has. Targets are separate servers: no order across them.
// The batch's position is its last event's: a batch ending inside a source transaction records
// the position before it (zongji counts a transaction once its commit arrived), and a replay of
// that transaction's applied part converges (upserts and deletes by key). Pure, unit-tested.
import { type MysqlRow, quoteMysqlIdent, upsertMysqlSql } from './mysql-table.js';

/** One binlog rows event's changes (the rows of a WriteRows event travel together). */
export type MysqlChange =
  | { kind: 'insert'; table: string; rows: MysqlRow[] }
  | { kind: 'delete'; table: string; row: MysqlRow }
  | { kind: 'update'; table: string; before: MysqlRow; after: MysqlRow };

/** A binlog event's changes and zongji's committed position when it arrived. */
export interface QueuedChanges {
  changes: MysqlChange[];
  position: string | undefined;
}

/** A row write on one target. */
export type TargetWrite =
  | { op: 'upsert'; table: string; row: MysqlRow }
  | { op: 'delete'; table: string; key: readonly string[]; row: MysqlRow };

export interface ChangeRouting {
  targets: number;
  /** Indexes of the targets a row of `table` belongs on (none: outside the migration's scope). */
  owners(table: string, row: MysqlRow): readonly number[];
  /** The table's primary-key columns. */
  key(table: string): readonly string[];
}

/** mysql2's client-side formatting of `?` placeholders (the target connection's own). */
export type FormatSql = (sql: string, values: readonly unknown[]) => string;

export interface MysqlBatch {
  /** Per target, the queries to send one after the other (none when the batch has no write there). */
  queries: string[][];
  /** Position once the whole batch is applied (undefined: none of its events carried one). */
  position: string | undefined;
  changes: number;
}

export interface BatchLimits {
  /** Rows one statement carries at most. */
  rowsPerStatement: number;
  /** Bytes one query (statements joined) reaches at most before the next begins (max_allowed_packet). */
  queryBytes: number;
}

export const DEFAULT_LIMITS: BatchLimits = { rowsPerStatement: 500, queryBytes: 1 << 20 };

/** Key values compared as the server would: binary keys byte by byte (two can read as one text). */
function sameKeyValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return String(a) === String(b);
}

/**
 * Each change as row writes per target, in binlog order: an insert is an upsert on its owner; a
 * delete deletes on the owners; an update whose primary key or owner changed deletes the old row
 * where it no longer belongs, then upserts the new image on its owners.
 */
export function routeChanges(changes: readonly MysqlChange[], routing: ChangeRouting): TargetWrite[][] {
  const writes: TargetWrite[][] = Array.from({ length: routing.targets }, () => []);
  const push = (i: number, w: TargetWrite) => writes[i]?.push(w);
  for (const c of changes) {
    const key = routing.key(c.table);
    if (c.kind === 'insert') {
      for (const row of c.rows)
        for (const i of routing.owners(c.table, row)) push(i, { op: 'upsert', table: c.table, row });
    } else if (c.kind === 'delete') {
      for (const i of routing.owners(c.table, c.row))
        push(i, { op: 'delete', table: c.table, key, row: c.row });
    } else {
      const keyMoved = key.some((k) => !sameKeyValue(c.before[k], c.after[k]));
      const after = routing.owners(c.table, c.after);
      for (const i of routing.owners(c.table, c.before))
        if (keyMoved || !after.includes(i)) push(i, { op: 'delete', table: c.table, key, row: c.before });
      for (const i of after) push(i, { op: 'upsert', table: c.table, row: c.after });
    }
  }
  return writes;
}

/**
 * One target's writes as statements: consecutive writes of one kind, table and columns share one,
 * up to `rowsPerStatement` rows and about `statementBytes` bytes (a statement over the server's
 * max_allowed_packet would be refused again at every restart; a single larger row goes alone, as
 * the one-by-one apply sent it).
 */
export function targetStatements(
  writes: readonly TargetWrite[],
  format: FormatSql,
  rowsPerStatement = DEFAULT_LIMITS.rowsPerStatement,
  statementBytes = DEFAULT_LIMITS.queryBytes,
): string[] {
  const statements: string[] = [];
  let run: TargetWrite[] = [];
  let runShape = '';
  let runBytes = 0;
  const close = () => {
    if (run.length > 0) statements.push(statementOf(run, format));
    run = [];
    runBytes = 0;
  };
  for (const w of writes) {
    const shape =
      w.op === 'upsert' ? `u ${w.table} ${Object.keys(w.row).join(',')}` : `d ${w.table} ${w.key.join(',')}`;
    const bytes = w.op === 'upsert' ? rowBytes(w.row, Object.keys(w.row)) : rowBytes(w.row, w.key);
    if (shape !== runShape || run.length >= rowsPerStatement || runBytes + bytes > statementBytes) close();
    runShape = shape;
    run.push(w);
    runBytes += bytes;
  }
  close();
  return statements;
}

/** An upper bound of the bytes `cols` of `row` take as SQL literals (escaping at most doubles text). */
export function rowBytes(row: MysqlRow, cols: readonly string[]): number {
  let n = 4;
  for (const k of cols) {
    const v = row[k];
    if (typeof v === 'string') n += 2 * Buffer.byteLength(v) + 4;
    else if (Buffer.isBuffer(v)) n += 2 * v.length + 4;
    else if (v !== null && typeof v === 'object') n += 2 * Buffer.byteLength(JSON.stringify(v) ?? '') + 4;
    else n += 32;
  }
  return n;
}

function statementOf(run: readonly TargetWrite[], format: FormatSql): string {
  const first = run[0] as TargetWrite;
  const table = quoteMysqlIdent(first.table);
  if (first.op === 'upsert') {
    const cols = Object.keys(first.row);
    return format(
      upsertMysqlSql(first.table, cols, run.length),
      run.flatMap((w) => cols.map((k) => w.row[k])),
    );
  }
  const key = first.op === 'delete' ? first.key : [];
  const tuple = key.length === 1 ? '?' : `(${key.map(() => '?').join(', ')})`;
  const cols =
    key.length === 1 ? quoteMysqlIdent(key[0] as string) : `(${key.map(quoteMysqlIdent).join(', ')})`;
  return format(
    `DELETE FROM ${table} WHERE ${cols} IN (${run.map(() => tuple).join(', ')})`,
    run.flatMap((w) => key.map((k) => w.row[k])),
  );
}

/**
 * Queries carrying the statements in one transaction: joined up to `queryBytes` per query (a
 * statement longer than that goes alone), the first opening the transaction, the last committing.
 */
export function transactionQueries(statements: readonly string[], queryBytes: number): string[] {
  if (statements.length === 0) return [];
  const parts = ['START TRANSACTION', ...statements, 'COMMIT'];
  const queries: string[] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const s of parts) {
    const size = Buffer.byteLength(s) + 2;
    if (current.length > 0 && bytes + size > queryBytes) {
      queries.push(current.join(';\n'));
      current = [];
      bytes = 0;
    }
    current.push(s);
    bytes += size;
  }
  queries.push(current.join(';\n'));
  return queries;
}

/** The queued events as per-target queries, and the position applying all of them reaches. */
export function planBatch(
  items: readonly QueuedChanges[],
  routing: ChangeRouting,
  format: FormatSql,
  limits: BatchLimits = DEFAULT_LIMITS,
): MysqlBatch {
  let position: string | undefined;
  let changes = 0;
  const all: MysqlChange[] = [];
  for (const item of items) {
    all.push(...item.changes);
    changes += item.changes.length;
    if (item.position !== undefined) position = item.position;
  }
  const queries = routeChanges(all, routing).map((writes) =>
    transactionQueries(
      targetStatements(writes, format, limits.rowsPerStatement, limits.queryBytes),
      limits.queryBytes,
    ),
  );
  return { queries, position, changes };
}
