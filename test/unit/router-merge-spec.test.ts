// mergeFor on analyzed SELECTs: what a scatter read may merge, and the subqueries and CTEs it
// must refuse because each shard would combine only its own rows.
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeFor } from '../../src/router/merge-spec.js';
import { QueryAnalyzer, resolveValue } from '../../src/sql/analyzer.js';

let analyzer: QueryAnalyzer;
beforeAll(async () => {
  analyzer = await QueryAnalyzer.create({ cacheSize: 100 });
});

function decide(sql: string) {
  const a = analyzer.analyze(sql);
  return mergeFor(a.facts.statements[0]!.select, (ref) => resolveValue(ref, a.literals, []), {
    shardKeys: new Set(['user_id']),
    sharded: new Set(['a', 'b', 'users', 'posts', 'payments', 'likes']),
  });
}

describe('merge decisions', () => {
  it('refuses subqueries and CTEs that aggregate, dedupe or page across shards', () => {
    for (const sql of [
      'WITH t AS (SELECT sum(amount) AS s FROM payments) SELECT s FROM t',
      'SELECT count(*) FROM (SELECT DISTINCT post_id FROM likes) d',
      'SELECT id FROM payments WHERE amount > (SELECT avg(amount) FROM payments)',
      'SELECT id FROM (SELECT id FROM posts ORDER BY id LIMIT 5) p',
      'SELECT count(*) FROM (SELECT user_id FROM a UNION SELECT user_id FROM b) u',
    ]) {
      const d = decide(sql);
      expect('unsupported' in d ? d.unsupported : sql).toMatch(/subquery or CTE/);
    }
  });

  it('merges subqueries that are shard-local: grouped, partitioned or correlated by the shard key', () => {
    for (const sql of [
      'SELECT t.user_id, t.n FROM (SELECT user_id, count(*) AS n FROM likes GROUP BY user_id) t ORDER BY 1',
      'SELECT id FROM users u WHERE 2 < (SELECT count(*) FROM posts p WHERE p.user_id = u.user_id) ORDER BY id',
      'SELECT count(*) FROM (SELECT user_id FROM a UNION ALL SELECT user_id FROM b) u',
      'SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS r FROM posts) p WHERE r = 1',
    ])
      expect([sql, decide(sql)]).toEqual([
        sql,
        expect.not.objectContaining({ unsupported: expect.anything() }),
      ]);
  });

  it('merges window functions partitioned by the shard key per shard, evaluates the others at the proxy', () => {
    expect(
      decide(
        'SELECT user_id, id, row_number() OVER (PARTITION BY user_id ORDER BY id) FROM posts ORDER BY 1, 2',
      ),
    ).not.toHaveProperty('unsupported');
    expect(
      decide('SELECT user_id, id, rank() OVER w FROM posts WINDOW w AS (PARTITION BY user_id ORDER BY id)'),
    ).not.toHaveProperty('unsupported');
    const d = decide('SELECT id, row_number() OVER (ORDER BY id) FROM posts ORDER BY id LIMIT 2');
    if ('unsupported' in d) throw new Error(d.unsupported);
    expect(d.merge).toMatchObject({
      windows: { outputs: [null, { fn: 'row_number', partition: [], order: [{ column: 2 }], args: [] }] },
      limit: 2,
      visibleColumns: 2,
    });
    expect(d.rewrite).toMatchObject({ limit: null, windows: true });
    // What the proxy does not evaluate stays refused with the reason.
    const framed = decide('SELECT id, sum(id) OVER (ORDER BY id ROWS 2 PRECEDING) FROM posts');
    expect('unsupported' in framed && framed.unsupported).toMatch(
      /window function not partitioned by the shard key/,
    );
  });

  it('DISTINCT ON output columns keeps the first row per key after ordering', () => {
    const d = decide('SELECT DISTINCT ON (user_id) user_id, id FROM posts ORDER BY user_id, id DESC LIMIT 3');
    if ('unsupported' in d) throw new Error(d.unsupported);
    expect(d.merge).toMatchObject({ distinctOn: [0], limit: 3, distinct: false });
  });

  it('UNION deduplicates across shards, UNION ALL concatenates; INTERSECT/EXCEPT, mixed operators and reference branches are evaluated at the proxy', () => {
    const u = decide('SELECT user_id FROM a UNION SELECT user_id FROM b ORDER BY 1 LIMIT 5 OFFSET 2');
    if ('unsupported' in u) throw new Error(u.unsupported);
    expect(u.merge).toMatchObject({ distinct: true, orderBy: [{ column: 0 }], limit: 5, offset: 2 });
    expect(u.rewrite).toEqual({ limit: 7, avgColumns: [] });
    const all = decide('SELECT user_id FROM a UNION ALL SELECT user_id FROM b');
    expect(all).toEqual({ merge: null, rewrite: null });
    const intersect = decide('SELECT user_id FROM a INTERSECT ALL SELECT user_id FROM b ORDER BY 1 LIMIT 3');
    if ('unsupported' in intersect) throw new Error(intersect.unsupported);
    expect(intersect.merge).toMatchObject({
      setOps: { tree: { op: 'intersect', all: true, left: { leaf: 0 }, right: { leaf: 1 } }, onceLeaves: [] },
      limit: 3,
    });
    expect(intersect.rewrite).toMatchObject({ limit: null, setOps: 2 });
    // A branch on a reference table is read from one shard only.
    const reference = decide('SELECT topic FROM trending_topics UNION ALL SELECT status FROM payments');
    if ('unsupported' in reference) throw new Error(reference.unsupported);
    expect(reference.merge?.setOps?.onceLeaves).toEqual([0]);
    const mixed = decide('SELECT x FROM a UNION SELECT x FROM b UNION ALL SELECT x FROM a');
    if ('unsupported' in mixed) throw new Error(mixed.unsupported);
    expect(mixed.merge?.setOps?.tree).toMatchObject({ op: 'union', all: true, right: { leaf: 2 } });
    for (const [sql, why] of [
      ['SELECT count(*) FROM a UNION SELECT count(*) FROM b', /aggregate in a UNION branch/],
      ['SELECT count(*) FROM a EXCEPT SELECT count(*) FROM b', /aggregate in a UNION branch/],
    ] as const) {
      const d = decide(sql);
      expect('unsupported' in d && d.unsupported).toMatch(why);
    }
  });

  it('HAVING on count/sum/min/max against constants is merged; other HAVING is refused', () => {
    const d = decide(
      'SELECT status, count(*) FROM payments GROUP BY status HAVING NOT (min(amount) < 5) OR 3 <= count(*)',
    );
    if ('unsupported' in d) throw new Error(d.unsupported);
    expect(d.merge?.having).toEqual({
      op: 'or',
      args: [
        { op: 'not', args: [{ op: 'compare', comparison: '<', column: 2, value: '5' }] },
        { op: 'compare', comparison: '>=', column: 3, value: '3' },
      ],
    });
    expect(d.merge?.aggregates.slice(1)).toEqual([
      { column: 2, fn: 'min' },
      { column: 3, fn: 'count' },
    ]);
    expect(d.rewrite).toMatchObject({ having: true });
    // Other HAVING: the proxy evaluates it over merged partials (the aggregate program).
    const evaluated = decide('SELECT status FROM payments GROUP BY status HAVING avg(amount) > 3');
    if ('unsupported' in evaluated) throw new Error(evaluated.unsupported);
    expect(evaluated.merge?.program?.having).toMatchObject({ k: 'op', op: '>' });
  });

  it('SELECT * ... ORDER BY a column: sorted by name at merge time', () => {
    const d = decide('SELECT * FROM users ORDER BY name DESC, id LIMIT 5');
    if ('unsupported' in d) throw new Error(d.unsupported);
    expect(d.merge?.orderBy).toEqual([
      { column: -1, name: 'name', desc: true, nullsFirst: true },
      { column: -1, name: 'id', desc: false, nullsFirst: false },
    ]);
  });

  it('merges bool_and/bool_or/every and the stddev family, hiding their partials', () => {
    const d = decide('SELECT every(vip), stddev(amount), variance(amount) FROM users');
    if ('unsupported' in d) throw new Error(d.unsupported);
    expect(d.merge?.aggregates.map((a) => a.fn)).toEqual(['bool_and', 'stddev_samp', 'var_samp']);
    expect(d.merge?.aggregates[1]).toMatchObject({ countColumn: 3, sumColumn: 4, sumSquaresColumn: 5 });
    expect(d.merge?.visibleColumns).toBe(3);
    expect(d.rewrite?.statColumns).toEqual([1, 2]);
  });
});
