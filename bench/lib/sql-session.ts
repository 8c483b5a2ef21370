// One SQL session for the bench's writers and checks on either protocol: through shardgate's
// PostgreSQL port with pg or its MySQL port with mysql2, or straight to a launched server as its
// superuser (postgres / root). Statements are written once with `?` placeholders (pg gets $n);
// errors are classified once (the cutover's retry is SQLSTATE 40001 on both: MySQL errno 1213).
import mysql from 'mysql2/promise';
import pg from 'pg';

export type BenchProtocol = 'postgres' | 'mysql';

export interface SqlResult {
  rows: Array<Record<string, unknown>>;
  /** The generated id of a MySQL INSERT (AUTO_INCREMENT); null on PostgreSQL (use RETURNING). */
  insertId: number | null;
}

export interface SqlSession {
  query(sql: string, params?: readonly unknown[]): Promise<SqlResult>;
  end(): Promise<void>;
}

/** `?` placeholders as PostgreSQL's $1, $2, ... (the bench's statements have no `?` in literals). */
export function pgPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function pgSession(client: pg.Client): SqlSession {
  return {
    async query(sql, params = []) {
      const r = await client.query(pgPlaceholders(sql), [...params]);
      return { rows: r.rows as Array<Record<string, unknown>>, insertId: null };
    },
    end: () => client.end().catch(() => undefined),
  };
}

function mysqlSession(conn: mysql.Connection): SqlSession {
  return {
    async query(sql, params = []) {
      const [result] = await conn.query(sql, [...params]);
      if (Array.isArray(result)) return { rows: result as Array<Record<string, unknown>>, insertId: null };
      const header = result as mysql.ResultSetHeader;
      return { rows: [], insertId: header.insertId ?? null };
    },
    end: () => conn.end().catch(() => conn.destroy()),
  };
}

/** A client session through the proxy: `url` is postgres://... or mysql://... (user:password@host:port/db). */
export async function openSession(protocol: BenchProtocol, url: string): Promise<SqlSession> {
  if (protocol === 'mysql') {
    const conn = await mysql.createConnection(url);
    conn.on('error', () => undefined);
    return mysqlSession(conn);
  }
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return pgSession(client);
}

/** Runs `fn` on a superuser session straight to a launched server (no proxy) and closes it. */
export async function withServer<T>(
  protocol: BenchProtocol,
  server: { host: string; port: number },
  fn: (s: SqlSession) => Promise<T>,
): Promise<T> {
  const s =
    protocol === 'mysql'
      ? await openSession(protocol, `mysql://root@${server.host}:${server.port}/shardgate`)
      : await openSession(protocol, `postgres://postgres@${server.host}:${server.port}/shardgate`);
  try {
    return await fn(s);
  } finally {
    await s.end();
  }
}

/**
 * What a failed statement said: `retry` for the cutover's 40001 (a client retries it), else a
 * code for the report (SQLSTATE on PostgreSQL, errno/SQLSTATE on MySQL).
 */
export function classifyError(err: unknown): { retry: boolean; code: string } {
  const e = err as { code?: string; sqlState?: string; errno?: number };
  if (e.sqlState !== undefined || e.errno !== undefined)
    return { retry: e.sqlState === '40001', code: `${e.errno ?? '?'}/${e.sqlState ?? '?'}` };
  return { retry: e.code === '40001', code: e.code ?? 'no code' };
}

/**
 * Whether a failed statement lost its connection (the proxy went away mid-statement): its outcome is
 * unknown, and the session must be opened again. Server errors (SQLSTATE, errno) are not.
 */
export function connectionLost(err: unknown): boolean {
  const e = err as { severity?: string; code?: string; fatal?: boolean; syscall?: string; sqlState?: string };
  if (e.fatal === true || e.syscall !== undefined) return true; // mysql2's fatal; ECONNRESET, EPIPE
  if (e.severity !== undefined) return e.severity === 'FATAL' || /^(08|57P)/.test(e.code ?? '');
  if (e.sqlState !== undefined) return false; // a server's error on MySQL
  // pg's own words for a lost socket; anything else (a client-side timeout...) is a failure.
  const message = err instanceof Error ? err.message : String(err);
  return /Connection terminated|not queryable|ECONNRESET|EPIPE|ECONNREFUSED|socket hang up/i.test(message);
}
