// Scatter-gather differential test: the same reads through shardgate (2 MariaDB shards, merged)
// and against one unsharded MariaDB holding the same rows must give the same results, in the
// text protocol (query) and the binary protocol (execute): ORDER BY, LIMIT/OFFSET, GROUP BY with
// count/sum/min/max/avg, DISTINCT, decimals and doubles.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { startMysqlReferenceDatabase } from '../support/mysql-reference-db.js';

let fx: MysqlProxyFixture;
let solo: mysql.Connection;
let proxied: mysql.Connection;

const EXTRA = Array.from({ length: 60 }, (_, i) => ({
  id: 950000 + i,
  user: (i * 7) % 23,
  score: i % 5 === 0 ? null : ((i * 37) % 101) / 4,
}));

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 2, replicas: 1, demoUsers: 40 });
  solo = await startMysqlReferenceDatabase(fx, 40);
  proxied = await fx.connect();
  for (const c of [solo, proxied]) {
    for (const e of EXTRA) {
      await c.execute('INSERT INTO recommendations (id, user_id, item_id, score) VALUES (?, ?, ?, ?)', [
        e.id,
        e.user,
        e.id % 9,
        e.score ?? 0,
      ]);
    }
  }
  await Promise.all(
    fx.cluster.shards.flatMap((s) => s.replicas.map((r) => fx.cluster.waitForReplication(r.name))),
  );
});

afterAll(async () => {
  await solo?.end().catch(() => undefined);
  await fx?.stop();
});

const QUERIES: Array<[string, number[]]> = [
  ['SELECT id, user_id, title FROM posts ORDER BY id', []],
  ['SELECT id, user_id FROM posts ORDER BY user_id DESC, id ASC', []],
  ['SELECT id FROM posts ORDER BY id DESC LIMIT 5', []],
  ['SELECT id FROM posts ORDER BY id LIMIT 3 OFFSET 4', []],
  ['SELECT id FROM posts ORDER BY id LIMIT 4, 3', []],
  ['SELECT count(*) AS n FROM posts', []],
  ['SELECT count(*) AS n, sum(user_id) AS s, min(id) AS lo, max(id) AS hi FROM posts', []],
  [
    'SELECT user_id, count(*) AS n, sum(id) AS s, min(id) AS lo, max(id) AS hi FROM posts GROUP BY user_id ORDER BY user_id',
    [],
  ],
  ['SELECT avg(id) AS a FROM posts', []],
  ['SELECT user_id, avg(item_id) AS a FROM recommendations GROUP BY user_id ORDER BY user_id', []],
  [
    'SELECT user_id, avg(score) AS a, max(score) AS m FROM recommendations GROUP BY user_id ORDER BY user_id',
    [],
  ],
  ['SELECT DISTINCT user_id FROM posts ORDER BY user_id', []],
  ['SELECT sum(amount) AS total, count(*) AS n FROM payments', []],
  [
    'SELECT user_id, sum(amount) AS total FROM payments GROUP BY user_id ORDER BY total DESC, user_id LIMIT 7',
    [],
  ],
  ['SELECT id, score FROM recommendations WHERE score > ? ORDER BY score DESC, id LIMIT ?', [10, 8]],
  ['SELECT count(*) AS n FROM posts WHERE user_id IN (1, 2, 3, 4, 5)', []],
  ['SELECT id FROM posts WHERE id > ? ORDER BY id LIMIT ?', [3, 6]],
  ['SELECT user_id, count(*) AS n FROM likes GROUP BY user_id ORDER BY n DESC, user_id LIMIT 5', []],
];

/**
 * Doubles to 12 significant digits: a sum of floats depends on the order of its terms, and the
 * merge adds per-shard partial sums (3.11 vs 3.1100000000000003 are both right).
 */
function normalize(rows: RowDataPacket[]): unknown[] {
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(12)) : v,
      ]),
    ),
  );
}

describe('scatter-gather against one unsharded database', () => {
  for (const [sql, params] of QUERIES) {
    it(`text protocol: ${sql}`, async () => {
      const inline = params.reduce<string>((text, p) => text.replace('?', String(p)), sql);
      const [want] = await solo.query<RowDataPacket[]>(inline);
      const [got] = await proxied.query<RowDataPacket[]>(inline);
      expect(normalize(got)).toEqual(normalize(want));
    });
    it(`binary protocol: ${sql}`, async () => {
      const [want] = await solo.execute<RowDataPacket[]>(sql, params);
      const [got] = await proxied.execute<RowDataPacket[]>(sql, params);
      expect(normalize(got)).toEqual(normalize(want));
    });
  }

  it('computes count(DISTINCT) from the shards value sets; refuses what a merge cannot reproduce', async () => {
    const sql = 'SELECT count(DISTINCT user_id) AS n FROM posts';
    const [want] = await solo.query<RowDataPacket[]>(sql);
    const [got] = await proxied.query<RowDataPacket[]>(sql);
    expect(Number(got[0]?.n)).toBe(Number(want[0]?.n));
    await expect(proxied.query('SELECT bit_or(user_id) FROM posts')).rejects.toMatchObject({
      errno: 1235,
      message: expect.stringContaining('bit_or()'),
    });
  });

  it('refuses a merge past its row or byte budget (1104, 1041), fits with a LIMIT', async () => {
    const mysqlTopology = fx.proxy.mysql!.topology;
    const [count] = await solo.query<RowDataPacket[]>('SELECT count(*) AS n FROM posts');
    const posts = Number(count[0]?.n);
    const pad = Math.ceil((4 * 1024 * 1024) / posts);
    try {
      mysqlTopology.rebuild({ ...fx.config, routing: { ...fx.config.routing, maxMergeBytes: 1024 * 1024 } });
      for (const sql of [
        `SELECT id, repeat('x', ${pad}) AS pad FROM posts ORDER BY id`,
        `SELECT DISTINCT repeat(id, ${Math.ceil(pad / 3)}) AS k FROM posts`,
      ]) {
        const err = (await proxied.query(sql).catch((e: unknown) => e)) as {
          errno?: number;
          message?: string;
        };
        expect(err.errno, sql).toBe(1041);
        expect(err.message).toMatch(/routing\.maxMergeBytes.*LIMIT/);
      }
      const [limited] = await proxied.query<RowDataPacket[]>(
        `SELECT id, repeat('x', ${pad}) AS pad FROM posts ORDER BY id LIMIT 3`,
      );
      const [want] = await solo.query<RowDataPacket[]>('SELECT id FROM posts ORDER BY id LIMIT 3');
      expect(limited.map((r) => Number(r.id))).toEqual(want.map((r) => Number(r.id)));
      mysqlTopology.rebuild({ ...fx.config, routing: { ...fx.config.routing, maxMergeRows: 10 } });
      await expect(proxied.query('SELECT id FROM posts ORDER BY id')).rejects.toMatchObject({ errno: 1104 });
    } finally {
      mysqlTopology.rebuild(fx.config);
    }
    const [ok] = await proxied.query<RowDataPacket[]>('SELECT 1 AS ok');
    expect(Number(ok[0]?.ok)).toBe(1);
  });
});
