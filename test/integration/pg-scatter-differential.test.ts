// Scatter-gather differential test: the same queries through shardgate on the sharded demo data
// and directly on one unsharded database holding the same rows give the same results (in order
// where the query orders), in the simple and the extended protocol.
import { describe, expect, it } from 'vitest';
import { useReferencePair } from '../support/pg-reference-db.js';

const db = useReferencePair(2);

const ORDERED = [
  'SELECT id, user_id, name FROM users ORDER BY id',
  'SELECT id, amount FROM payments ORDER BY amount DESC, id LIMIT 10 OFFSET 5',
  'SELECT user_id, count(*) AS n FROM posts GROUP BY user_id ORDER BY user_id',
  'SELECT status, count(*) AS n, sum(amount) AS total, min(amount) AS lo, max(amount) AS hi FROM payments GROUP BY status ORDER BY status',
  'SELECT DISTINCT status FROM payments ORDER BY status',
  'SELECT count(*) AS n, sum(balance) AS s, min(balance) AS lo, max(balance) AS hi, avg(balance) AS a FROM balances',
  'SELECT id, title FROM posts ORDER BY title DESC, id LIMIT 7',
  'SELECT topic FROM trending_topics ORDER BY score DESC LIMIT 3',
];

function normalize(rows: Array<Record<string, unknown>>): string {
  return JSON.stringify(
    rows.map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [
          k,
          typeof v === 'string' && /^-?\d+\.\d+$/.test(v) ? Number(v).toFixed(6) : v,
        ]),
      ),
    ),
  );
}

describe('scatter-gather equals one unsharded database', () => {
  for (const sql of ORDERED) {
    it(`simple: ${sql}`, async () => {
      const want = await db.reference.query(sql);
      const got = await db.proxied.query(sql);
      expect(normalize(got.rows)).toBe(normalize(want.rows));
    });
  }

  it('unordered concatenation returns the same set of rows', async () => {
    const sql = 'SELECT id, user_id FROM likes';
    const want = (await db.reference.query(sql)).rows.map((r) => r.id).sort();
    const got = (await db.proxied.query(sql)).rows.map((r) => r.id).sort();
    expect(got).toEqual(want);
  });

  it('extended protocol with parameters', async () => {
    const sql = 'SELECT id, user_id FROM posts WHERE id > $1 ORDER BY id LIMIT $2';
    for (const [after, limit] of [
      [0, 5],
      [100, 12],
    ]) {
      const want = await db.reference.query(sql, [after, limit]);
      const got = await db.proxied.query(sql, [after, limit]);
      expect(normalize(got.rows)).toBe(normalize(want.rows));
    }
  });

  it('extended protocol: aggregates, set operations and windows the proxy evaluates, with parameters', async () => {
    const cases: Array<[string, unknown[]]> = [
      [
        'SELECT status, round(avg(amount), $1) AS mean, count(*) FILTER (WHERE amount > $2) AS big FROM payments GROUP BY status ORDER BY 1',
        [2, 100],
      ],
      [
        'SELECT count(DISTINCT user_id) AS users, max(amount) - min(amount) AS spread FROM payments WHERE amount > $1',
        [10],
      ],
      [
        'SELECT currency, string_agg(status, $1 ORDER BY status, id) AS s FROM payments GROUP BY currency HAVING count(*) > $2 ORDER BY 1',
        [';', 1],
      ],
      ['SELECT user_id FROM payments WHERE amount > $1 EXCEPT SELECT user_id FROM likes ORDER BY 1', [50]],
      [
        'SELECT user_id, id, row_number() OVER (ORDER BY id) AS n FROM posts WHERE id > $1 ORDER BY id LIMIT $2',
        [3, 9],
      ],
    ];
    for (const [sql, params] of cases) {
      const want = await db.reference.query(sql, params);
      const got = await db.proxied.query(sql, params);
      expect(normalize(got.rows), sql).toBe(normalize(want.rows));
      expect(
        got.fields.map((f) => [f.name, f.dataTypeID]),
        sql,
      ).toEqual(want.fields.map((f) => [f.name, f.dataTypeID]));
    }
  });

  it('fails cleanly when a merge would exceed the byte bound', async () => {
    db.fx.proxy.topology.rebuild({
      ...db.fx.config,
      routing: { ...db.fx.config.routing, maxMergeBytes: 2048 },
    });
    try {
      await expect(db.proxied.query('SELECT id, title, body FROM posts ORDER BY id')).rejects.toMatchObject({
        code: '53200',
        message: expect.stringMatching(/maxMergeBytes/),
      });
      expect((await db.proxied.query('SELECT 1 AS ok')).rows[0]?.ok).toBe(1);
    } finally {
      db.fx.proxy.topology.rebuild(db.fx.config);
    }
  });

  it('fails cleanly when a merge would exceed the row limit', async () => {
    db.fx.proxy.topology.rebuild({ ...db.fx.config, routing: { ...db.fx.config.routing, maxMergeRows: 10 } });
    try {
      await expect(db.proxied.query('SELECT id FROM posts ORDER BY id')).rejects.toMatchObject({
        code: '54000',
      });
      expect((await db.proxied.query('SELECT 1 AS ok')).rows[0]?.ok).toBe(1);
    } finally {
      db.fx.proxy.topology.rebuild(db.fx.config);
    }
  });

  it('refuses a merge past its byte budget with 53200 (ORDER BY, DISTINCT, GROUP BY), fits with a LIMIT', async () => {
    const posts = Number((await db.reference.query('SELECT count(*) AS n FROM posts')).rows[0]?.n);
    // 1 MiB, the rows padded so the whole table needs several times that.
    const pad = Math.ceil((4 * 1024 * 1024) / posts);
    db.fx.proxy.topology.rebuild({
      ...db.fx.config,
      routing: { ...db.fx.config.routing, maxMergeBytes: 1024 * 1024 },
    });
    try {
      for (const sql of [
        `SELECT id, repeat('x', ${pad}) AS pad FROM posts ORDER BY id`,
        `SELECT DISTINCT repeat(id::text, ${pad}) AS k FROM posts`,
        `SELECT repeat(id::text, ${pad}) AS k, count(*) FROM posts GROUP BY 1`,
      ]) {
        const err = (await db.proxied.query(sql).catch((e: unknown) => e)) as {
          code?: string;
          message?: string;
        };
        expect(err.code, sql).toBe('53200');
        expect(err.message).toMatch(/routing\.maxMergeBytes.*LIMIT/);
      }
      const limited = await db.proxied.query(
        `SELECT id, repeat('x', ${pad}) AS pad FROM posts ORDER BY id LIMIT 3`,
      );
      const want = await db.reference.query('SELECT id FROM posts ORDER BY id LIMIT 3');
      expect(limited.rows.map((r) => r.id)).toEqual(want.rows.map((r) => r.id));
      expect((await db.proxied.query('SELECT 1 AS ok')).rows[0]?.ok).toBe(1);
    } finally {
      db.fx.proxy.topology.rebuild(db.fx.config);
    }
  });
});
