// Planner decisions on the MySQL side against one unsharded MariaDB holding the same rows:
// co-located joins and subqueries give MariaDB's answer, and so do joins on other columns (computed
// across shards); a RIGHT JOIN across shards is refused (errno 1235, ER_NOT_SUPPORTED_YET), never
// answered per shard; a shard-key update moves the row, never leaves it misplaced.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMysqlReferenceDatabase } from '../support/mysql-reference-db.js';
import { itAnswersLikeReference } from '../support/statement-differential.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 30 });

let solo: mysql.Connection;
let proxied: mysql.Connection;

beforeAll(async () => {
  solo = await startMysqlReferenceDatabase(fx, 30);
  proxied = await fx.connect();
});

afterAll(async () => {
  await solo?.end().catch(() => undefined);
});

const CO_LOCATED = [
  'SELECT count(*) AS n FROM users u JOIN posts p ON p.user_id = u.user_id',
  'SELECT count(*) AS n FROM users u JOIN posts p USING (user_id) JOIN likes l ON l.user_id = p.user_id',
  'SELECT count(*) AS n FROM users WHERE user_id IN (SELECT user_id FROM posts WHERE id % 3 = 0)',
  'SELECT count(*) AS n FROM users u WHERE NOT EXISTS (SELECT 1 FROM likes l WHERE l.user_id = u.user_id AND l.post_id < 10)',
  'SELECT u.id, p.n FROM users u JOIN (SELECT user_id, count(*) AS n FROM posts GROUP BY user_id) p ON p.user_id = u.user_id ORDER BY u.id',
  // not co-located: computed across shards (the shared broadcast join)
  'SELECT count(*) AS n FROM users u JOIN posts p ON p.id = u.id',
  'SELECT count(*) AS n FROM users WHERE id IN (SELECT id FROM posts)',
  'SELECT count(*) AS n FROM payments p JOIN balances b ON b.id = p.id',
];

describe('joins and subqueries equal the unsharded database', () => {
  itAnswersLikeReference(
    CO_LOCATED,
    async (sql, on) => (await (on === 'reference' ? solo : proxied).query<RowDataPacket[]>(sql))[0],
  );
});

describe('refusals', () => {
  for (const sql of ['SELECT count(*) FROM users u RIGHT JOIN posts p ON p.id = u.id']) {
    it(sql, async () => {
      await expect(proxied.query(sql)).rejects.toMatchObject({
        errno: 1235,
        message: expect.stringMatching(/without equating their shard keys/),
      });
    });
  }
});

describe('a shard-key update', () => {
  it('UPDATE of the shard key to another shard: the row moves, with the affected rows MariaDB gives', async () => {
    for (const c of [solo, proxied])
      await c.query("INSERT INTO users (id, user_id, name) VALUES (700003, 700003, 'mover')");
    const [want] = await solo.query<mysql.ResultSetHeader>(
      'UPDATE users SET user_id = 700202 WHERE user_id = 700003',
    );
    const [got] = await proxied.query<mysql.ResultSetHeader>(
      'UPDATE users SET user_id = 700202 WHERE user_id = 700003',
    );
    expect(got.affectedRows).toBe(want.affectedRows);
    const [there] = await proxied.query<RowDataPacket[]>(
      "SELECT id FROM users WHERE user_id = 700202 AND name = 'mover'",
    );
    expect(there.map((r) => Number(r.id))).toEqual([700003]);
    // Back again as a prepared statement: nothing left under the other key.
    const [back] = await proxied.execute<mysql.ResultSetHeader>(
      'UPDATE users SET user_id = ? WHERE user_id = ? AND id = ?',
      [700003, 700202, 700003],
    );
    expect(back.affectedRows).toBe(1);
    await solo.query('UPDATE users SET user_id = 700003 WHERE user_id = 700202 AND id = 700003');
    const [rows] = await proxied.query<RowDataPacket[]>('SELECT name FROM users WHERE user_id = 700003');
    expect(rows.map((r) => r.name)).toEqual(['mover']);
    const [gone] = await proxied.query<RowDataPacket[]>(
      "SELECT id FROM users WHERE user_id = 700202 AND name = 'mover'",
    );
    expect(gone).toEqual([]);
  });
});

describe('writes whose key values are known touch exactly their shards', () => {
  it('UPDATE ... WHERE user_id IN (...), text and binary protocol', async () => {
    const sql = "UPDATE users SET name = 'renamed' WHERE user_id IN (11, 12, 13, 14)";
    const [want] = await solo.query<mysql.ResultSetHeader>(sql);
    const [got] = await proxied.query<mysql.ResultSetHeader>(sql);
    expect(got.affectedRows).toBe(want.affectedRows);
    const [gotBin] = await proxied.execute<mysql.ResultSetHeader>(
      'DELETE FROM likes WHERE user_id IN (?, ?, ?)',
      [21, 22, 23],
    );
    const [wantBin] = await solo.execute<mysql.ResultSetHeader>(
      'DELETE FROM likes WHERE user_id IN (?, ?, ?)',
      [21, 22, 23],
    );
    expect(gotBin.affectedRows).toBe(wantBin.affectedRows);
    expect(gotBin.affectedRows).toBeGreaterThan(0);
    for (const check of [
      'SELECT id, name FROM users WHERE user_id BETWEEN 10 AND 15 ORDER BY id',
      'SELECT count(*) AS n FROM likes',
    ]) {
      const [a] = await proxied.query<RowDataPacket[]>(check);
      const [b] = await solo.query<RowDataPacket[]>(check);
      expect(a).toEqual(b);
    }
  });
});

describe('ids unique across shards, filled in by shardgate (tables.*.idColumn)', () => {
  it('INSERT without id, text and binary protocol, rows on two shards: distinct ids', async () => {
    const [one] = await proxied.query<mysql.ResultSetHeader>(
      "INSERT INTO users (user_id, name) VALUES (700501, 'fresh')",
    );
    expect(one.affectedRows).toBe(1);
    const [many] = await proxied.execute<mysql.ResultSetHeader>(
      'INSERT INTO posts (user_id, title) VALUES (?, ?), (?, ?), (?, ?)',
      [700601, 'a', 700602, 'b', 700603, 'c'],
    );
    expect(many.affectedRows).toBe(3);
    // Ids above 2^53: read them as text (mysql2 returns BIGINT as a JS number by default).
    const [users] = await proxied.query<RowDataPacket[]>(
      'SELECT CAST(id AS CHAR) AS id, name FROM users WHERE user_id = 700501',
    );
    expect(users.map((r) => r.name)).toEqual(['fresh']);
    expect(BigInt(users[0]!.id) > 0n).toBe(true);
    const [posts] = await proxied.query<RowDataPacket[]>(
      'SELECT CAST(id AS CHAR) AS id, user_id FROM posts WHERE user_id IN (700601, 700602, 700603)',
    );
    expect(posts).toHaveLength(3);
    expect(new Set(posts.map((r) => String(r.id))).size).toBe(3);
  });
});
