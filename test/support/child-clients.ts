// A client of a `shardgate start` child process (start-process.ts) as the app user; its errors
// are ignored, since the tests kill that process under it.
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { StartedProcess } from './start-process.js';

export function childPgClient(p: StartedProcess): Promise<pg.Client> {
  return appPgClient(p.postgresPort);
}

/** A connected pg client of the app user on a proxy's PostgreSQL port, its errors ignored. */
export async function appPgClient(port: number): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'app',
    password: 'app',
    database: 'shardgate',
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export async function childMysqlConnection(p: StartedProcess): Promise<mysql.Connection> {
  const c = await mysql.createConnection({
    host: '127.0.0.1',
    port: p.mysqlPort!,
    user: 'app',
    password: 'app',
    database: 'shardgate',
  });
  c.on('error', () => undefined);
  return c;
}
