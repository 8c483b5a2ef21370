import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { QueryAnalyzer, resolveValue } from '../../src/sql/analyzer.js';
import type { QueryFacts, ValueRef } from '../../src/sql/facts.js';
import { MysqlQueryAnalyzer, type SqlAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { rewriteForScatterMysql } from '../../src/sql/mysql/scatter-rewrite-mysql.js';
import { expectSessionValuesUncached } from '../support/unit-analyzer-cache.js';

describe('MysqlQueryAnalyzer', () => {
  it('has the QueryAnalyzer surface: create, analyze, stats', async () => {
    const a = await MysqlQueryAnalyzer.create({ cacheSize: 10 });
    expect(a.stats).toMatchObject({ hits: 0, misses: 0, size: 0 });
    const first = a.analyze('SELECT c FROM sbtest1 WHERE id=1');
    const second = a.analyze('SELECT c FROM sbtest1 WHERE id=2');
    expect(first.cacheHit).toBe(false);
    expect(second.cacheHit).toBe(true);
    expect(second.facts.statements).toBe(first.facts.statements);
    expect(resolveValue(second.facts.statements[0]!.keyConditions[0]!.values[0]!, second.literals, [])).toBe(
      '2',
    );
    expect(a.stats).toMatchObject({ hits: 1, misses: 1, size: 1 });
  });
  it('shares the SqlAnalyzer type with the PostgreSQL QueryAnalyzer', () => {
    const analyzers: SqlAnalyzer[] = [
      new MysqlQueryAnalyzer({ cacheSize: 1 }),
      new QueryAnalyzer({ cacheSize: 1 }),
    ];
    expect(analyzers.map((a) => a.stats.size)).toEqual([0, 0]);
  });
  it('reads INTERSECT ALL / EXCEPT ALL (the grammar lacks them) with their ALL kept', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 10 });
    const shape = (sql: string) => a.analyze(sql).facts.statements[0]?.select;
    const s = shape(
      'SELECT a FROM t INTERSECT ALL SELECT b FROM u EXCEPT ALL SELECT c FROM v UNION SELECT d FROM w',
    );
    expect(s?.unmergeable).toBeNull();
    expect(s?.setOps?.tree).toEqual({
      op: 'union',
      all: false,
      left: {
        op: 'except',
        all: true,
        left: { op: 'intersect', all: true, left: { leaf: 0 }, right: { leaf: 1 } },
        right: { leaf: 2 },
      },
      right: { leaf: 3 },
    });
    expect(shape('SELECT a FROM t INTERSECT SELECT b FROM u')?.setOps?.tree).toMatchObject({ all: false });
    // Inside a subquery the ALL is not put back: unparsed, so never merged.
    expect(
      shape('SELECT count(*) FROM (SELECT a FROM t INTERSECT ALL SELECT b FROM u) x')?.unmergeable,
    ).toContain('could not parse');
  });
  it('keeps placeholder and literal shapes apart in the cache', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 10 });
    const lit = a.analyze('SELECT * FROM t WHERE a = 1 AND b = ?');
    const par = a.analyze('SELECT * FROM t WHERE a = ? AND b = 1');
    expect(par.cacheHit).toBe(false);
    const keys = (q: typeof lit, params: string[]) =>
      q.facts.statements[0]!.keyConditions.map(
        (k) => `${k.column}=${resolveValue(k.values[0]!, q.literals, params)}`,
      );
    expect(keys(lit, ['P'])).toEqual(['a=1', 'b=P']);
    expect(keys(par, ['P'])).toEqual(['a=P', 'b=1']);
    expect(par.facts.paramCount).toBe(1);
  });
  it('does not cache facts that hold values (SET, USE, SHARDGATE)', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 10 });
    expectSessionValuesUncached(a, ['USE Shop', 'Shop'], ['USE shop', 'shop']);
    expectSessionValuesUncached(a, ["SET sql_mode = 'A'", "'A'"], ["SET sql_mode = 'B'", "'B'"]);
    expect(a.stats.size).toBe(0);
  });
  it('bounds the cache', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 3 });
    for (let i = 0; i < 10; i++) a.analyze(`SELECT * FROM t${i} WHERE id = 1`);
    expect(a.stats.size).toBe(3);
  });
  it('reads comment hints on hits and misses', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 10 });
    const miss = a.analyze('/* shardgate: consistency=strong shard=s1 */ SELECT * FROM t WHERE id = 1');
    const hit = a.analyze('SELECT * FROM t WHERE id = 2 # shardgate: role=replica vip=on');
    expect(miss.facts.hints).toEqual({ consistency: 'strong', shard: 's1' });
    expect(hit.cacheHit).toBe(true);
    expect(hit.facts.hints).toEqual({ role: 'replica', vip: 'on' });
  });
  it('SHARDGATE EXPLAIN carries the inner statement text', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 10 });
    const r = a.analyze('shardgate explain SELECT * FROM t WHERE id = ?');
    expect(r.facts.statements[0]!.shardgate).toEqual({
      command: 'explain',
      statement: 'SELECT * FROM t WHERE id = ?',
    });
    expect(r.facts.paramCount).toBe(1);
  });
  it('reads VARIANCE / STD as aggregates only where a call can stand, never as a table name', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 10 });
    const facts = (sql: string) => a.analyze(sql).facts.statements[0]!;
    expect(facts('INSERT INTO std (id, v) VALUES (1, 2)')).toMatchObject({ kind: 'write', tables: ['std'] });
    expect(facts('INSERT INTO variance (id) VALUES (1)')).toMatchObject({
      kind: 'write',
      tables: ['variance'],
    });
    expect(facts('INSERT std (id) VALUES (1)')).toMatchObject({ kind: 'write', tables: ['std'] });
    expect(facts('REPLACE INTO variance (id) VALUES (1)').tables).toEqual(['variance']);
    expect(facts('UPDATE std SET v = 3 WHERE id = 1')).toMatchObject({ kind: 'write', tables: ['std'] });
    expect(facts('CREATE TABLE std (id int)').tables).toEqual(['std']);
    const sel = facts('SELECT std(v), 1 + variance(v) FROM std JOIN variance ON std.id = variance.id');
    expect(sel.kind).toBe('read');
    expect(sel.tables).toEqual(['std', 'variance']);
    expect(sel.parseError).toBeNull();
    // Parsed as aggregates (unparsed text would be unmergeable).
    expect(facts('SELECT std(v), variance(v) FROM std WHERE id < 5').select?.unmergeable).toBeNull();
  });
  it('analyzes every statement of a multi-statement text', () => {
    const a = new MysqlQueryAnalyzer({ cacheSize: 10 });
    const r = a.analyze('BEGIN; UPDATE t SET a = 1 WHERE id = 2; COMMIT;');
    expect(r.facts.statements.map((s) => s.kind)).toEqual(['transaction', 'write', 'transaction']);
    expect(r.statements).toHaveLength(3);
    // One statement the parser rejects does not spoil the others.
    const mixed = a.analyze(
      'SELECT 1; INSERT INTO t (a) VALUES (1) AS n ON DUPLICATE KEY UPDATE a = n.a; SET NAMES utf8mb4',
    );
    expect(mixed.facts.statements.map((s) => s.kind)).toEqual(['read', 'write', 'session']);
  });
});

/** Every ValueRef of the facts points inside the literal list / placeholder range. */
function refsInRange(facts: QueryFacts, literalCount: number): boolean {
  const ok = (v: ValueRef | null) =>
    v === null ||
    v.kind === 'const' ||
    (v.kind === 'literal'
      ? v.index >= 0 && v.index < literalCount
      : v.index >= 1 && v.index <= facts.paramCount);
  return facts.statements.every(
    (s) =>
      s.keyConditions.every((k) => k.values.every(ok)) &&
      (s.insert?.rows.every((r) => r.every(ok)) ?? true) &&
      (s.select === null || (ok(s.select.limit) && ok(s.select.offset))),
  );
}

const SQL_PIECES = [
  'SELECT',
  'INSERT',
  'INTO',
  'UPDATE',
  'DELETE',
  'FROM',
  'WHERE',
  'SET',
  'VALUES',
  'AND',
  'OR',
  'IN',
  'LIMIT',
  'ORDER BY',
  'GROUP BY',
  'JOIN',
  'ON',
  'BEGIN',
  'END',
  'CREATE',
  'PROCEDURE',
  'CASE',
  'SHOW',
  'USE',
  'XA',
  'NAMES',
  'shardgate',
  'EXPLAIN',
  'avg(x)',
  't',
  'u.id',
  '`q`',
  '*',
  '=',
  ',',
  '(',
  ')',
  ';',
  '?',
  '1',
  '-2',
  "'s'",
  '"d"',
  "x'1f'",
  '0x1',
  '@v',
  '@@session.x',
  '/*!',
  '*/',
  '/* shardgate: shard=s1 */',
  '#',
  '--',
  '\n',
  ':=',
  '->>',
  '\\',
];

describe('MySQL analyzer robustness (property)', () => {
  const analyzer = new MysqlQueryAnalyzer({ cacheSize: 200 });
  const check = (sql: string) => {
    try {
      const r = analyzer.analyze(sql);
      expect(refsInRange(r.facts, r.literals.length)).toBe(true);
    } catch (err) {
      expect(err).toBeInstanceOf(ShardgateError);
    }
    try {
      rewriteForScatterMysql(sql, { limit: 5, avgColumns: [0] });
    } catch (err) {
      expect(err).toBeInstanceOf(ShardgateError);
    }
  };
  it('arbitrary strings never throw anything but ShardgateError', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), check), { numRuns: 400 });
  });
  it('SQL-like token soup never throws anything but ShardgateError, refs stay in range', () => {
    const soup = fc.array(fc.constantFrom(...SQL_PIECES), { maxLength: 40 }).map((p) => p.join(' '));
    fc.assert(fc.property(soup, check), { numRuns: 400 });
  });
});
