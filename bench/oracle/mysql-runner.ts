// Runs statements over mysql2 with every value left as the server's text (no driver-side parsing
// of numbers, dates or booleans), so the oracle's and shardgate's answers compare byte for byte.
// A column's type is its MySQL column type code; an error's code is its errno.
import type mysql from 'mysql2/promise';
import type { Outcome } from './outcome.js';

/** MySQL column types FLOAT (4) and DOUBLE (5): compared with a tolerance. */
export const MYSQL_FLOAT_TYPES: ReadonlySet<number> = new Set([4, 5]);

interface TextField {
  string(encoding?: string): string | null;
}
const asText = (field: TextField) => field.string('utf8');

/** MariaDB's ER_STATEMENT_TIMEOUT: max_statement_time ended the statement. */
export const MYSQL_STATEMENT_TIMEOUT_ERRNO = '1969';

/** Runs one statement on a connection; resolves to its outcome, never rejects for a statement error. */
export async function runMysqlStatement(conn: mysql.Connection, sql: string): Promise<Outcome> {
  try {
    const [rows, fields] = await conn.query({ sql, rowsAsArray: true, typeCast: asText });
    if (!Array.isArray(rows)) {
      const header = rows as mysql.ResultSetHeader;
      return { kind: 'result', columns: [], rows: [], tag: `OK ${header.affectedRows}` };
    }
    return {
      kind: 'result',
      columns: (fields ?? []).map((f) => ({ name: f.name, type: f.columnType ?? 0 })),
      rows: rows as unknown as Array<Array<string | null>>,
      tag: 'SELECT',
    };
  } catch (err) {
    const e = err as { errno?: number; sqlMessage?: string; message?: string; fatal?: boolean };
    if (typeof e.errno !== 'number' || e.fatal) throw err;
    return { kind: 'error', code: String(e.errno), message: e.sqlMessage ?? e.message ?? '' };
  }
}
