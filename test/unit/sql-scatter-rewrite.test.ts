import { beforeAll, describe, expect, it } from 'vitest';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { maskSql, rewriteForScatter } from '../../src/sql/scatter-rewrite.js';
import { limitOnly } from '../support/scatter-options.js';

beforeAll(async () => {
  await QueryAnalyzer.load();
});

describe('scatter rewrite', () => {
  it('LIMIT n OFFSET m -> LIMIT n+m per shard', () => {
    expect(rewriteForScatter('SELECT id FROM t ORDER BY id LIMIT 5 OFFSET 2', limitOnly(7))).toBe(
      'SELECT id FROM t ORDER BY id LIMIT 7 ',
    );
    expect(
      rewriteForScatter('SELECT id FROM t ORDER BY id OFFSET 2 ROWS LIMIT $1::int;', limitOnly(12)),
      // $1 stays referenced (as a NULL that never limits): the client's Bind still supplies it.
    ).toBe('SELECT id FROM t ORDER BY id  LIMIT least(12, (CASE WHEN false THEN ($1::int)::bigint END));');
    expect(
      rewriteForScatter('SELECT g, count(*) FROM t GROUP BY g HAVING count(*) > $1 LIMIT $2 OFFSET $3', {
        limit: null,
        avgColumns: [],
        having: true,
      }),
    ).toContain('HAVING (CASE WHEN false THEN (count(*) > $1) END) IS NULL');
    expect(rewriteForScatter('SELECT id FROM t ORDER BY id OFFSET 3', limitOnly(null))).toBe(
      'SELECT id FROM t ORDER BY id ',
    );
  });
  it('leaves LIMIT in subqueries, strings and comments alone', () => {
    const sql =
      "SELECT id, 'limit 1' AS s FROM (SELECT id FROM t LIMIT 100) x /* limit 9 */ LIMIT 3 OFFSET 1";
    expect(rewriteForScatter(sql, limitOnly(4))).toBe(
      "SELECT id, 'limit 1' AS s FROM (SELECT id FROM t LIMIT 100) x /* limit 9 */ LIMIT 4 ",
    );
  });
  it('avg(x) -> sum(x) AS avg (the column name PostgreSQL gives) with count(x) appended', () => {
    expect(
      rewriteForScatter('SELECT user_id, avg(score) AS a, avg(x + 1) FROM t GROUP BY 1 ORDER BY 2 LIMIT 5', {
        limit: null,
        avgColumns: [1, 2],
      }),
    ).toBe(
      'SELECT user_id, sum(score) AS a, sum(x + 1) AS avg, count(score), count(x + 1) FROM t GROUP BY 1 ORDER BY 2 ',
    );
    expect(
      rewriteForScatter('SELECT avg(x) FILTER (WHERE y > 0) FROM t', { limit: null, avgColumns: [0] }),
    ).toBe('SELECT sum(x) FILTER (WHERE y > 0) AS avg, count(x) FILTER (WHERE y > 0) FROM t');
    expect(
      rewriteForScatter('WITH c AS (SELECT avg(q) FROM u) SELECT avg(v) FROM c', {
        limit: null,
        avgColumns: [0],
      }),
    ).toBe('WITH c AS (SELECT avg(q) FROM u) SELECT sum(v) AS avg, count(v) FROM c');
  });
  it('stddev/variance keep their call and append count, sum and sum of squares in numeric', () => {
    expect(
      rewriteForScatter('SELECT status, stddev(amount), avg(amount) FROM p GROUP BY 1', {
        limit: null,
        avgColumns: [2],
        statColumns: [1],
      }),
    ).toBe(
      'SELECT status, stddev(amount), sum(amount) AS avg, count(amount), count(amount), sum((amount)::numeric), sum((amount)::numeric * (amount)::numeric) FROM p GROUP BY 1',
    );
  });
  it('HAVING: the clause removed, its aggregates appended after everything else', () => {
    expect(
      rewriteForScatter(
        'SELECT status, avg(amount) FROM p GROUP BY status HAVING count(*) > 2 AND sum(amount) FILTER (WHERE x) < 9 ORDER BY 1 LIMIT 3',
        { limit: null, avgColumns: [1], having: true },
      ),
    ).toBe(
      'SELECT status, sum(amount) AS avg, count(amount), count(*), sum(amount) FILTER (WHERE x) FROM p GROUP BY status ORDER BY 1 ',
    );
  });
  it('refuses what it cannot rewrite', () => {
    expect(() => rewriteForScatter('SELECT avg(x)::int FROM t', { limit: null, avgColumns: [0] })).toThrow(
      /cast/,
    );
    expect(() =>
      rewriteForScatter('SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS ONLY', limitOnly(3)),
    ).toThrow(/FETCH/);
  });
  it('masks literals and comments without moving offsets', () => {
    const sql = "SELECT 'a''b', $$x$$ -- c\n /* d */ FROM \"T\"";
    const m = maskSql(sql);
    expect(m).toHaveLength(sql.length);
    expect(m).toBe('SELECT 000000, 00000     \n         FROM "T"');
  });
});
