// Cross-shard joins (src/executor/broadcast-join.ts) against one unsharded database holding the
// same rows: joins and IN subqueries on columns that are not the shard key give the database's
// answer (names, types, rows), with the merge applied after (aggregates, ORDER BY, LIMIT); what
// the primitive cannot do is refused with 0A000 and the session goes on.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useReferencePair } from '../support/pg-reference-db.js';
import { itAnswersLikeReference } from '../support/statement-differential.js';

const db = useReferencePair(3, 180_000);

const JOINS = [
  'SELECT count(*) FROM users u JOIN posts p ON p.id = u.id',
  'SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts)',
  'SELECT count(*) FROM payments p JOIN balances b ON b.id = p.id',
  'SELECT u.id, u.name, p.title FROM users u JOIN posts p ON p.id = u.id ORDER BY u.id, p.title LIMIT 7',
  'SELECT p.user_id, count(*) AS n, sum(c.id) FROM posts p JOIN comments c ON c.post_id = p.id GROUP BY p.user_id ORDER BY 1',
  'SELECT u.id, u.name, l.id AS like_id FROM users u JOIN likes l ON l.post_id = u.id WHERE u.user_id < 20 ORDER BY 1, 3',
  'SELECT * FROM users u JOIN likes l ON l.post_id = u.id WHERE u.user_id < 20',
  'SELECT u.id, b.balance FROM users u LEFT JOIN balances b ON b.id = u.id + 1000 ORDER BY u.id LIMIT 12',
  'SELECT p.id FROM posts p, likes l WHERE l.post_id = p.id AND l.user_id = 7 ORDER BY 1',
  'SELECT id, name FROM users WHERE id NOT IN (SELECT post_id FROM likes WHERE user_id > 30) ORDER BY id LIMIT 5',
  'SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts WHERE id < 0)',
  'SELECT count(*) FROM users WHERE id NOT IN (SELECT id FROM posts WHERE id < 0)',
  'SELECT max(p.amount) - min(p.amount) AS spread FROM payments p JOIN users u ON u.id = p.id WHERE u.vip',
  "SELECT DISTINCT u.name FROM users u JOIN comments c ON c.body = u.name || 'x' ORDER BY 1",
];

describe('joins not on the shard key are computed across shards', () => {
  itAnswersLikeReference(
    JOINS,
    (sql, on) => db[on].query({ text: sql, rowMode: 'array' }),
    (got, want, sql) => {
      expect(got.fields.map((f) => [f.name, f.dataTypeID])).toEqual(
        want.fields.map((f) => [f.name, f.dataTypeID]),
      );
      // created_at is each database's load time: the same rows, other instants.
      const keep = want.fields.map((f, i) => (f.name === 'created_at' ? -1 : i)).filter((i) => i >= 0);
      const sort = (rows: unknown[][]) => {
        const cut = rows.map((r) => keep.map((i) => r[i]));
        return /ORDER BY/.test(sql) ? cut : cut.map((r) => JSON.stringify(r)).sort();
      };
      expect(sort(got.rows)).toEqual(sort(want.rows));
    },
  );
});

describe('joins with bound parameters (extended protocol) are computed across shards too', () => {
  const PARAMETERIZED: Array<[string, unknown[]]> = [
    ['SELECT count(*) FROM users u JOIN posts p ON p.id = u.id WHERE u.id > $1', [0]],
    ['SELECT u.id, u.name FROM users u JOIN posts p ON p.id = u.id WHERE u.user_id < $1 ORDER BY u.id', [20]],
    [
      'SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts WHERE title <> $1) AND name <> $2',
      ['', "it's"],
    ],
    ['SELECT count(*) FROM payments p JOIN balances b ON b.id = p.id WHERE p.amount >= $1', ['10.5']],
  ];
  for (const [sql, values] of PARAMETERIZED) {
    it(sql, async () => {
      const want = await db.reference.query({ text: sql, values, rowMode: 'array' });
      const got = await db.proxied.query({ text: sql, values, rowMode: 'array' });
      expect(got.fields.map((f) => [f.name, f.dataTypeID])).toEqual(
        want.fields.map((f) => [f.name, f.dataTypeID]),
      );
      expect(got.rows).toEqual(want.rows);
    });
  }

  it('runs a named prepared join again with other values', async () => {
    const text = 'SELECT count(*) AS n FROM users u JOIN posts p ON p.id = u.id WHERE u.user_id < $1';
    for (const v of [10, 30, 10]) {
      const want = await db.reference.query({ text, values: [v] });
      const got = await db.proxied.query({ name: 'cross_join', text, values: [v] });
      expect(got.rows).toEqual(want.rows);
    }
  });
});

describe('what the cross-shard join does not do is refused, and the session goes on', () => {
  for (const [sql, values, pattern] of [
    [
      'SELECT count(*) FROM users u JOIN posts p ON p.id = u.id JOIN likes l ON l.id = p.id',
      [],
      /shard keys/,
    ],
    // A parameter missing from the Bind is not inlined as NULL (the server refuses such a Bind too).
    [
      'SELECT count(*) FROM users u JOIN posts p ON p.id = u.id WHERE u.id > $1 AND p.id > $2',
      [0],
      /a Bind of 1 parameters for a statement using 2/,
    ],
  ] as const) {
    it(sql, async () => {
      const err = await db.proxied.query(sql, values.length ? [...values] : undefined).then(
        () => null,
        (e: pg.DatabaseError) => e,
      );
      expect(err).toMatchObject({ code: '0A000' });
      expect(err?.message).toMatch(pattern);
      expect((await db.proxied.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    });
  }
});
