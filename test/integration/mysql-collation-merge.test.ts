// Text merged across shards compares under each column's REAL collation. MariaDB labels every
// text result column with the connection's collation (SET NAMES ... COLLATE / the handshake), not
// the column's own, so merging by the label ordered a utf8mb4_bin column case-insensitively for a
// general_ci connection. Differential against one unsharded MariaDB: the same rows in columns of
// utf8mb4_bin, utf8mb4_general_ci and utf8mb4_unicode_ci, read through shardgate (2 shards) with
// three connection collations; each answer is exactly the unsharded one, or a coded refusal.
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';

let fx: MysqlProxyFixture;
let solo: mysql.Connection;

const COLUMNS =
  'cb VARCHAR(20) COLLATE utf8mb4_bin, cg VARCHAR(20) COLLATE utf8mb4_general_ci, ' +
  'cu VARCHAR(20) COLLATE utf8mb4_unicode_ci';
const VALUES = ['Z', 'a', 'B', 'c', 'b', 'A', 'a-b', 'a_b', 'A.b', '_x', '~y', '[z', 'Zz', 'zz', 'Ab', 'aB'];
const FIRST_ID = 990_000;

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 4 });
  for (const s of fx.cluster.shards) {
    const c = await fx.direct(s.primary.name);
    await c.query(`ALTER TABLE posts ADD COLUMN (${COLUMNS})`);
  }
  const spare = await fx.cluster.addSpare('solo');
  solo = await mysql.createConnection({ host: spare.host, port: spare.port, user: 'root' });
  await solo.query('CREATE DATABASE IF NOT EXISTS shardgate');
  await solo.query('USE shardgate');
  await solo.query(`CREATE TABLE posts (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, ${COLUMNS})`);
  // Two users owned by different shards, so the rows spread over both.
  const users: number[] = [];
  for (let u = 1; users.length < 2; u++)
    if (users.length === 0 || fx.owner(u) !== fx.owner(users[0]!)) users.push(u);
  expect(fx.owner(users[0]!)).not.toBe(fx.owner(users[1]!));
  const proxied = await fx.connect();
  for (const [i, v] of VALUES.entries()) {
    const row = [FIRST_ID + i, users[i % 2]!, v, v, v];
    const sql = 'INSERT INTO posts (id, user_id, cb, cg, cu) VALUES (?, ?, ?, ?, ?)';
    await proxied.query(sql, row);
    await solo.query(sql, row);
  }
});

afterAll(async () => {
  await solo?.end().catch(() => undefined);
  await fx?.stop();
});

const WHERE = `WHERE id >= ${FIRST_ID}`;
function queries(col: string): Array<{ sql: string; ci: boolean }> {
  // Under a case-insensitive collation, which of 'a' / 'A' a DISTINCT or GROUP BY keeps is not
  // defined: those answers are compared lower-cased.
  return [
    { sql: `SELECT id, ${col} FROM posts ${WHERE} ORDER BY ${col}, id`, ci: false },
    { sql: `SELECT id, ${col} FROM posts ${WHERE} ORDER BY ${col} DESC, id LIMIT 9`, ci: false },
    { sql: `SELECT DISTINCT ${col} FROM posts ${WHERE} ORDER BY ${col}`, ci: col !== 'cb' },
    {
      sql: `SELECT ${col}, count(*) AS n FROM posts ${WHERE} GROUP BY ${col} ORDER BY ${col}`,
      ci: col !== 'cb',
    },
    { sql: `SELECT min(${col}) AS lo, max(${col}) AS hi FROM posts ${WHERE}`, ci: col !== 'cb' },
  ];
}

function normalize(rows: RowDataPacket[], ci: boolean): unknown[] {
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, ci && typeof v === 'string' ? v.toLowerCase() : v]),
    ),
  );
}

// mysql2's default handshake collation is utf8mb4_unicode_ci (224).
const CHARSETS: Array<string | undefined> = ['UTF8MB4_GENERAL_CI', 'UTF8MB4_BIN', undefined];

describe('text merged across shards under the columns real collations', () => {
  for (const charset of CHARSETS) {
    for (const col of ['cb', 'cg', 'cu']) {
      it(`connection ${charset ?? 'default'}: ${col}`, async () => {
        const proxied = await fx.connect(charset ? { charset } : {});
        let answered = 0;
        for (const { sql, ci } of queries(col)) {
          const [want] = await solo.query<RowDataPacket[]>(sql);
          const got = await proxied.query<RowDataPacket[]>(sql).then(
            ([rows]) => rows,
            (e: { errno?: number; message?: string }) => e,
          );
          if (!Array.isArray(got)) {
            // A refusal is coded and says why; never a different answer.
            expect(got.errno, sql).toBe(1235);
            expect(got.message, sql).toMatch(/collation/);
            continue;
          }
          answered++;
          expect(normalize(got, ci), sql).toEqual(normalize(want, ci));
        }
        // The binary and general_ci columns' plain ORDER BY / DISTINCT / GROUP BY and min/max
        // (under the column the aggregate reads) are answered, whatever the connection's
        // collation; unicode_ci is not merged.
        expect(answered, `${col} answered`).toBe(col === 'cu' ? 0 : 5);
      });
    }
  }

  it('sees a collation changed by DDL routed through shardgate', async () => {
    const proxied = await fx.connect({ charset: 'UTF8MB4_BIN' });
    const sql = `SELECT id, cb FROM posts ${WHERE} ORDER BY cb, id`;
    await proxied.query(sql); // caches cb as utf8mb4_bin
    const ddl = 'ALTER TABLE posts MODIFY cb VARCHAR(20) COLLATE utf8mb4_general_ci';
    await proxied.query(ddl);
    await solo.query(ddl);
    const [want] = await solo.query<RowDataPacket[]>(sql);
    const [got] = await proxied.query<RowDataPacket[]>(sql);
    expect(got).toEqual(want);
    const [bin] = await solo.query<RowDataPacket[]>(
      `SELECT id, cb FROM posts ${WHERE} ORDER BY cb COLLATE utf8mb4_bin, id`,
    );
    expect(want).not.toEqual(bin);
  });
});
