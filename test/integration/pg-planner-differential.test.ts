// Planner decisions against one unsharded database holding the same rows: joins and subqueries
// co-located on the shard key give the database's answer, joins of two tables on other columns
// are joined across shards (pg-cross-shard-join.test.ts has more); what is left and shard-key
// updates are refused with 0A000 (never answered per shard, never leaving a row misplaced).
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useReferencePair } from '../support/pg-reference-db.js';
import { itAnswersLikeReference, type Side } from '../support/statement-differential.js';

const db = useReferencePair(2);
const rowsOn = async (sql: string, on: Side) => (await db[on].query(sql)).rows;

const CO_LOCATED = [
  'SELECT count(*) AS n FROM users u JOIN posts p ON p.user_id = u.user_id',
  'SELECT count(*) AS n FROM users u JOIN posts p USING (user_id) JOIN likes l ON l.user_id = p.user_id',
  'SELECT count(*) AS n FROM users u LEFT JOIN payments p ON p.user_id = u.user_id AND p.status = $$settled$$',
  'SELECT count(*) AS n FROM users WHERE user_id IN (SELECT user_id FROM posts WHERE id % 3 = 0)',
  'SELECT count(*) AS n FROM users u WHERE NOT EXISTS (SELECT 1 FROM likes l WHERE l.user_id = u.user_id AND l.post_id < 10)',
  'SELECT u.id, p.n FROM users u JOIN (SELECT user_id, count(*) AS n FROM posts GROUP BY user_id) p ON p.user_id = u.user_id ORDER BY u.id',
  'SELECT u.name, b.balance FROM users u JOIN balances b ON b.user_id = u.user_id WHERE u.user_id = 7',
  'SELECT p.id, t.topic FROM posts p JOIN trending_topics t ON t.id = p.user_id ORDER BY p.id',
];

describe('co-located joins and subqueries equal the unsharded database', () => {
  itAnswersLikeReference(CO_LOCATED, rowsOn);
});

describe('joins that are not co-located are joined across shards, never answered per shard', () => {
  itAnswersLikeReference(
    [
      'SELECT count(*) FROM users u JOIN posts p ON p.id = u.id',
      'SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts)',
      'SELECT count(*) FROM payments p JOIN balances b ON b.id = p.id',
    ],
    rowsOn,
  );
  it('three sharded tables not on their keys: refused with 0A000, the session goes on', async () => {
    const err = await db.proxied
      .query('SELECT count(*) FROM users u JOIN posts p ON p.id = u.id JOIN likes l ON l.post_id = p.id')
      .then(
        () => null,
        (e: pg.DatabaseError) => e,
      );
    expect(err).toMatchObject({ code: '0A000' });
    expect(err?.message).toMatch(/without equating their shard keys/);
    expect((await db.proxied.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });
});

describe('UPDATE of the shard key', () => {
  it('to a key on another shard moves the row: found by its new key, gone from the old one', async () => {
    await db.proxied.query("INSERT INTO users (id, user_id, name) VALUES (700003, 700003, 'mover')");
    const moved = await db.proxied.query('UPDATE users SET user_id = 700202 WHERE user_id = 700003');
    expect(moved.rowCount).toBe(1);
    const at = async (key: number) =>
      (await db.proxied.query('SELECT name FROM users WHERE user_id = $1', [key])).rows;
    expect(await at(700003)).toEqual([]);
    expect(await at(700202)).toEqual([{ name: 'mover' }]);
    // Extended protocol too, and back.
    await db.proxied.query('UPDATE users SET user_id = $1 WHERE user_id = $2', [700003, 700202]);
    expect(await at(700202)).toEqual([]);
    expect(await at(700003)).toEqual([{ name: 'mover' }]);
    // A key computed from the row cannot be placed before it is computed: refused, nothing moves.
    await expect(
      db.proxied.query('UPDATE users SET user_id = user_id + 199 WHERE user_id = 700003'),
    ).rejects.toMatchObject({ code: '0A000', message: expect.stringMatching(/shard key/) });
    expect(await at(700003)).toEqual([{ name: 'mover' }]);
  });

  it('to a key the same shard owns runs, and the row is found by its new key', async () => {
    // 2 and 4 hash to the same shard of the two (see router-key-writes.test.ts).
    await db.proxied.query("INSERT INTO users (id, user_id, name) VALUES (700010, 2, 'stay')");
    const r = await db.proxied.query('UPDATE users SET user_id = 4 WHERE user_id = 2 AND id = 700010');
    expect(r.rowCount).toBe(1);
    expect((await db.proxied.query('SELECT name FROM users WHERE user_id = 4 AND id = 700010')).rows).toEqual(
      [{ name: 'stay' }],
    );
  });
});

describe('writes whose key values are known touch exactly their shards', () => {
  const both = async (sql: string, params: unknown[] = []) => {
    const want = await db.reference.query(sql, params);
    const got = await db.proxied.query(sql, params);
    return { want, got };
  };
  const byId = (rows: Array<{ id: string }>) => [...rows].sort((a, b) => Number(a.id) - Number(b.id));

  it('UPDATE ... WHERE user_id IN (...) with RETURNING', async () => {
    const { want, got } = await both(
      "UPDATE users SET name = 'renamed' WHERE user_id IN (11, 12, 13, 14) RETURNING id, name",
    );
    expect(got.command).toBe('UPDATE');
    expect(got.rowCount).toBe(want.rowCount);
    expect(byId(got.rows)).toEqual(byId(want.rows));
    const check = 'SELECT id, name FROM users WHERE user_id BETWEEN 10 AND 15 ORDER BY id';
    expect((await db.proxied.query(check)).rows).toEqual((await db.reference.query(check)).rows);
  });

  it('DELETE ... WHERE user_id = ANY($1) (extended protocol)', async () => {
    const { want, got } = await both('DELETE FROM likes WHERE user_id = ANY($1)', [[21, 22, 23]]);
    expect(got.command).toBe('DELETE');
    expect(got.rowCount).toBe(want.rowCount);
    expect(got.rowCount).toBeGreaterThan(0);
    const check = 'SELECT count(*)::int AS n FROM likes';
    expect((await db.proxied.query(check)).rows).toEqual((await db.reference.query(check)).rows);
  });
});

describe('ids unique across shards, filled in by shardgate (tables.*.idColumn)', () => {
  it('INSERT without id: the row gets an id, returned by RETURNING and found by it', async () => {
    const r = await db.proxied.query(
      "INSERT INTO users (user_id, name) VALUES (700501, 'fresh') RETURNING id, name",
    );
    expect(r.command).toBe('INSERT');
    expect(r.rows).toHaveLength(1);
    const id = r.rows[0].id as string;
    expect(BigInt(id) > 0n).toBe(true);
    expect(
      (await db.proxied.query('SELECT name FROM users WHERE user_id = 700501 AND id = $1', [id])).rows,
    ).toEqual([{ name: 'fresh' }]);
  });

  it('multi-row across shards, extended protocol: distinct ids, every row on its key shard', async () => {
    const r = await db.proxied.query(
      'INSERT INTO posts (user_id, title) VALUES ($1, $2), ($3, $4), ($5, $6) RETURNING id, user_id',
      [700601, 'a', 700602, 'b', 700603, 'c'],
    );
    expect(r.rowCount).toBe(3);
    const ids = r.rows.map((x) => x.id as string);
    expect(new Set(ids).size).toBe(3);
    for (const row of r.rows) {
      const found = await db.proxied.query('SELECT id FROM posts WHERE user_id = $1', [row.user_id]);
      expect(found.rows).toEqual([{ id: row.id }]);
    }
  });

  it('inside a transaction: refused with 0A000, the transaction can roll back', async () => {
    await db.proxied.query('BEGIN');
    await expect(
      db.proxied.query("INSERT INTO users (user_id, name) VALUES (700701, 'tx')"),
    ).rejects.toMatchObject({
      code: '0A000',
      message: expect.stringMatching(/outside a transaction/),
    });
    await db.proxied.query('ROLLBACK');
  });
});
