import { beforeAll, describe, expect, it } from 'vitest';
import { QueryAnalyzer, resolveValue } from '../../src/sql/analyzer.js';
import { decodeBindParams, parseTextArray } from '../../src/sql/bind-params.js';
import { rewriteForScatter } from '../../src/sql/scatter-rewrite.js';

let analyzer: QueryAnalyzer;
beforeAll(async () => {
  analyzer = await QueryAnalyzer.create({ cacheSize: 100 });
});

const first = (sql: string) => analyzer.analyze(sql).facts.statements[0]!;

describe('analyzer facts', () => {
  it('finds key conditions with literals, params, IN and ANY', () => {
    const a = analyzer.analyze('SELECT * FROM users WHERE user_id = 42');
    const k = a.facts.statements[0]!.keyConditions[0]!;
    expect(k).toMatchObject({ table: 'users', column: 'user_id' });
    expect(resolveValue(k.values[0]!, a.literals, [])).toBe('42');
    expect(first('SELECT * FROM users WHERE user_id = $1').keyConditions[0]!.values[0]).toEqual({
      kind: 'param',
      index: 1,
    });
    expect(first('SELECT * FROM users u WHERE u.user_id IN (1, 2, 3)').keyConditions[0]!.values).toHaveLength(
      3,
    );
    expect(first('SELECT * FROM users WHERE user_id = ANY($1::bigint[])').keyConditions[0]!.arrayParam).toBe(
      1,
    );
  });
  it('resolves negative literals and cache hits with new values', () => {
    const a = analyzer.analyze('SELECT * FROM users WHERE user_id = -5');
    expect(resolveValue(a.facts.statements[0]!.keyConditions[0]!.values[0]!, a.literals, [])).toBe('-5');
    const b = analyzer.analyze('SELECT * FROM users WHERE user_id = 77');
    const c = analyzer.analyze('SELECT * FROM users WHERE user_id = 78');
    expect(c.cacheHit).toBe(true);
    expect(resolveValue(c.facts.statements[0]!.keyConditions[0]!.values[0]!, c.literals, [])).toBe('78');
    void b;
  });
  it('propagates keys through co-located joins', () => {
    const f = first('SELECT * FROM posts p JOIN users u ON u.user_id = p.user_id WHERE p.user_id = 7');
    expect(f.keyConditions.map((k) => k.table).sort()).toEqual(['posts', 'users']);
  });
  it('classifies statements', () => {
    expect(first('SELECT * FROM t FOR UPDATE SKIP LOCKED').kind).toBe('write');
    expect(first('SELECT * FROM (SELECT * FROM t FOR SHARE) x').kind).toBe('write');
    expect(first('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d').kind).toBe('write');
    expect(first("SELECT nextval('s')").functions).toContain('nextval');
    expect(first('BEGIN READ ONLY').transaction).toEqual({ action: 'begin', readOnly: true });
    expect(first('START TRANSACTION ISOLATION LEVEL SERIALIZABLE READ ONLY').transaction?.readOnly).toBe(
      true,
    );
    expect(first("SET statement_timeout = '5s'").session).toMatchObject({
      action: 'set',
      name: 'statement_timeout',
      value: '5s',
    });
    expect(first('SET LOCAL work_mem = 100').session?.local).toBe(true);
    expect(first('RESET ALL').session?.name).toBe('all');
    expect(first('DISCARD ALL').session?.action).toBe('discard');
    expect(first('LISTEN ch').pinsSession).toBe(true);
    expect(first("NOTIFY ch, 'x'").utility).toBe('notify');
    expect(first('COPY t FROM STDIN').utility).toBe('copy_from');
    expect(first('CREATE TEMP TABLE x (a int)').pinsSession).toBe(true);
    expect(first('SET shardgate.vip = on').shardgate).toEqual({ command: 'set', name: 'vip', value: 'on' });
    expect(first('SHARDGATE EXPLAIN SELECT 1').shardgate).toEqual({
      command: 'explain',
      statement: 'SELECT 1',
    });
    expect(first('SELEC 1').kind).toBe('unknown');
  });
  it('describes select shapes for merging', () => {
    const s = first('SELECT user_id, count(*), avg(x) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT 5 OFFSET 2')
      .select!;
    expect(s.groupBy).toEqual([1]);
    expect(s.orderBy[0]).toMatchObject({ position: 2, desc: true });
    expect(s.outputs.map((o) => o.aggregate)).toEqual([undefined, 'count', 'avg']);
    expect(first('SELECT a FROM t UNION SELECT a FROM u').select!.union).toEqual({
      all: false,
      branchTables: [['t'], ['u']],
    });
    expect(first('SELECT a FROM t INTERSECT SELECT a FROM u').select).toMatchObject({
      unmergeable: null,
      setOps: { tree: { op: 'intersect', all: false }, branchTables: [['t'], ['u']] },
    });
  });
  it('describes multi-row inserts', () => {
    const f = first('INSERT INTO posts (id, user_id) VALUES (1, 10), (2, $1)');
    expect(f.insert!.columns).toEqual(['id', 'user_id']);
    expect(f.insert!.rows).toHaveLength(2);
    expect(f.insert!.rows[1]![1]).toEqual({ kind: 'param', index: 1 });
  });
});

describe('bind parameters', () => {
  it('decodes text and binary values', () => {
    const i8 = Buffer.alloc(8);
    i8.writeBigInt64BE(123n);
    expect(decodeBindParams([Buffer.from('7'), i8, null], [0, 1, 0], [0, 20, 0])).toEqual(['7', '123', null]);
    expect(decodeBindParams([Buffer.from([0, 0, 0, 1])], [1], [0])).toEqual([null]);
    expect(parseTextArray('{1,2,"a b"}')).toEqual(['1', '2', 'a b']);
  });
});

describe('scatter rewrite', () => {
  it('turns LIMIT/OFFSET into LIMIT n+m and avg into sum + count', () => {
    expect(
      rewriteForScatter('SELECT a FROM t ORDER BY a LIMIT 5 OFFSET 2', { limit: 7, avgColumns: [] })
        .replace(/\s+/g, ' ')
        .trim(),
    ).toBe('SELECT a FROM t ORDER BY a LIMIT 7');
    expect(
      rewriteForScatter('SELECT g, avg(x) FROM t GROUP BY g', { limit: null, avgColumns: [1] })
        .replace(/\s+/g, ' ')
        .trim(),
    ).toBe('SELECT g, sum(x) AS avg, count(x) FROM t GROUP BY g');
  });
});
