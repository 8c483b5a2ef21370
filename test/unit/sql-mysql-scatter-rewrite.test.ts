import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { inlineInsertRowsMysql } from '../../src/sql/mysql/insert-rows-mysql.js';
import { rewriteForScatterMysql } from '../../src/sql/mysql/scatter-rewrite-mysql.js';
import { limitOnly } from '../support/scatter-options.js';

const rw = rewriteForScatterMysql;

describe('MySQL scatter rewrite', () => {
  it('LIMIT m, n and LIMIT n OFFSET m -> LIMIT n+m per shard', () => {
    expect(rw('SELECT id FROM t ORDER BY id LIMIT 2, 5', limitOnly(7))).toBe(
      'SELECT id FROM t ORDER BY id LIMIT 7',
    );
    expect(rw('SELECT id FROM t ORDER BY id LIMIT 5 OFFSET 2;', limitOnly(7))).toBe(
      'SELECT id FROM t ORDER BY id LIMIT 7;',
    );
    expect(rw('SELECT id FROM t ORDER BY id LIMIT ?, ?', limitOnly(30))).toBe(
      'SELECT id FROM t ORDER BY id LIMIT 30',
    );
  });
  it('removes LIMIT for grouped results (the merge applies it)', () => {
    expect(rw('SELECT a, count(*) FROM t GROUP BY a ORDER BY 2 DESC LIMIT 3', limitOnly(null))).toBe(
      'SELECT a, count(*) FROM t GROUP BY a ORDER BY 2 DESC ',
    );
  });
  it('keeps LIMIT before FOR UPDATE and in subqueries, strings, comments, backticks alone', () => {
    const sql =
      "SELECT id, 'limit 1' AS `limit`, (SELECT max(x) FROM u LIMIT 1) m FROM t /* limit 9 */ # limit 8\n ORDER BY id LIMIT 3, 1 FOR UPDATE";
    expect(rw(sql, limitOnly(4))).toBe(
      "SELECT id, 'limit 1' AS `limit`, (SELECT max(x) FROM u LIMIT 1) m FROM t /* limit 9 */ # limit 8\n ORDER BY id LIMIT 4 FOR UPDATE",
    );
  });
  it('adds a LIMIT before FOR UPDATE when there was none', () => {
    expect(rw('SELECT id FROM t ORDER BY id FOR UPDATE', limitOnly(9))).toBe(
      'SELECT id FROM t ORDER BY id LIMIT 9 FOR UPDATE',
    );
    expect(rw('SELECT id FROM t ORDER BY id', limitOnly(9))).toBe('SELECT id FROM t ORDER BY id LIMIT 9');
  });
  it('avg(x) -> sum(x) (named as written when unaliased) with count(x) appended to the select list', () => {
    expect(
      rw('SELECT user_id, AVG(score) AS a, avg(x + 1) b FROM t GROUP BY 1 ORDER BY 2 LIMIT 5', {
        limit: null,
        avgColumns: [1, 2],
      }),
    ).toBe(
      'SELECT user_id, sum(score) AS a, sum(x + 1) b, count(score), count(x + 1) FROM t GROUP BY 1 ORDER BY 2 ',
    );
    expect(rw('SELECT DISTINCT avg(k) FROM sbtest1', { limit: null, avgColumns: [0] })).toBe(
      'SELECT DISTINCT sum(k) AS `avg(k)`, count(k) FROM sbtest1',
    );
    expect(rw('SELECT avg(k)', { limit: null, avgColumns: [0] })).toBe('SELECT sum(k) AS `avg(k)`, count(k)');
    expect(rw('SELECT AVG( `a``b` ), 1 FROM t', { limit: null, avgColumns: [0] })).toBe(
      'SELECT sum( `a``b` ) AS `AVG( ``a````b`` )`, 1, count( `a``b` ) FROM t',
    );
  });
  it("rewrites a UNION's final LIMIT only", () => {
    expect(rw('SELECT a FROM t UNION SELECT a FROM u ORDER BY 1 LIMIT 2, 3', limitOnly(5))).toBe(
      'SELECT a FROM t UNION SELECT a FROM u ORDER BY 1 LIMIT 5',
    );
  });
  it('drops HAVING and appends its count()/sum() calls after avg counts', () => {
    expect(
      rw(
        'SELECT status, avg(amount) FROM payments GROUP BY status HAVING count(*) > 1 AND SUM( amount ) < 9 ORDER BY 1 LIMIT 3',
        {
          limit: null,
          avgColumns: [1],
          having: true,
        },
      ),
    ).toBe(
      'SELECT status, sum(amount) AS `avg(amount)`, count(amount), count(*), SUM( amount ) FROM payments GROUP BY status ORDER BY 1 ',
    );
    expect(
      rw('SELECT a FROM t GROUP BY a HAVING 2 <= count(b)', { limit: null, avgColumns: [], having: true }),
    ).toBe('SELECT a, count(b) FROM t GROUP BY a ');
  });
  it('refuses what it cannot rewrite with SCATTER_UNSUPPORTED', () => {
    const refused = (sql: string, avgColumns: number[] = []) => {
      try {
        rw(sql, { limit: 5, avgColumns });
        return null;
      } catch (err) {
        expect(err).toBeInstanceOf(ShardgateError);
        return (err as ShardgateError).code;
      }
    };
    expect(refused('SELECT avg(a) FROM t UNION SELECT a FROM u', [0])).toBe('SCATTER_UNSUPPORTED');
    expect(refused('SELECT avg(x) + 1 FROM t', [0])).toBe('SCATTER_UNSUPPORTED');
    expect(refused('SELECT CAST(avg(x) AS SIGNED) FROM t', [0])).toBe('SCATTER_UNSUPPORTED');
    expect(refused('SELECT 1; SELECT 2')).toBe('SCATTER_UNSUPPORTED');
    expect(refused('SELECT a FROM t LIMIT @n')).toBe('SCATTER_UNSUPPORTED');
  });
});

describe('MySQL split INSERT', () => {
  it('keeps the chosen VALUES rows and inlines placeholders', () => {
    const sql = "INSERT INTO t (id, s) VALUES (1, 'a'), (?, ?), (3, '(x)') ON DUPLICATE KEY UPDATE s = ?";
    expect(inlineInsertRowsMysql(sql, [1, 2], ['2', "it's \\ ok", 'z'])).toBe(
      "INSERT INTO t (id, s) VALUES ('2', 'it''s \\\\ ok'), (3, '(x)') ON DUPLICATE KEY UPDATE s = 'z'",
    );
    expect(inlineInsertRowsMysql('REPLACE INTO t VALUES ROW(1), ROW(?)', [1], [null])).toBe(
      'REPLACE INTO t VALUES ROW(NULL)',
    );
  });
  it('refuses what is not INSERT ... VALUES', () => {
    expect(() => inlineInsertRowsMysql('INSERT INTO t SELECT * FROM u', [0], [])).toThrow(ShardgateError);
    expect(() => inlineInsertRowsMysql('INSERT INTO t VALUES (1)', [3], [])).toThrow(ShardgateError);
  });
});

describe('MySQL scatter rewrite for windows the proxy computes', () => {
  it('appends the hidden columns of windows the proxy computes (partition, order, arguments)', () => {
    expect(
      rw(
        'SELECT user_id, id, lead(id, 2, 0) OVER w AS v, count(*) OVER (PARTITION BY `status`, x % 3 ORDER BY id DESC) AS n FROM t WINDOW w AS (PARTITION BY user_id ORDER BY id) ORDER BY user_id, id LIMIT 4 OFFSET 2',
        { limit: null, avgColumns: [], windows: true },
      ),
    ).toBe(
      'SELECT user_id, id, lead(id, 2, 0) OVER w AS v, count(*) OVER (PARTITION BY `status`, x % 3 ORDER BY id DESC) AS n, user_id, id, id, 2, 0, `status`, x % 3, id FROM t WINDOW w AS (PARTITION BY user_id ORDER BY id) ORDER BY user_id, id ',
    );
    expect(() =>
      rw('SELECT id, row_number() OVER v AS r FROM t', { limit: null, avgColumns: [], windows: true }),
    ).toThrow(ShardgateError);
  });
});
