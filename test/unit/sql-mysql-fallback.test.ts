// The token-based fallback classifier on its own: for statements both paths can read, it must
// agree with the parser-based facts on what routing uses (kind, tables, written tables, key
// conditions, INSERT rows); for the rest it must stay on the safe side.
import { describe, expect, it } from 'vitest';
import type { StatementFacts } from '../../src/sql/facts.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { fallbackFacts } from '../../src/sql/mysql/fallback-classifier.js';
import { fingerprintMysql, type Token } from '../../src/sql/mysql/fingerprint-mysql.js';

const analyzer = new MysqlQueryAnalyzer({ cacheSize: 0 });

function fallback(sql: string): StatementFacts {
  const tokens: Token[][] = [];
  fingerprintMysql(sql, tokens);
  return fallbackFacts(tokens[0]!, 'test');
}

const routing = (f: StatementFacts) => ({
  kind: f.kind,
  tables: f.tables,
  writeTables: f.writeTables,
  keyConditions: f.keyConditions,
  insert: f.insert,
  locking: f.locking,
  pinsSession: f.pinsSession,
});

const AGREE = [
  'SELECT c FROM sbtest1 WHERE id=?',
  'SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ? AND k = 3',
  "SELECT * FROM users AS u WHERE u.user_id IN (1, -2, ?) AND state = 'on'",
  'SELECT * FROM t WHERE (id = 5) AND x > 1 FOR UPDATE',
  'SELECT * FROM t WHERE k = 1 OR k = 2',
  'SELECT a FROM t WHERE CASE WHEN a = 1 AND b = 2 THEN 1 END = 1 AND id = 4',
  'SELECT * FROM t WHERE id = @x',
  'SELECT LAST_INSERT_ID()',
  'UPDATE sbtest1 SET k=k+1 WHERE id=?',
  'UPDATE t SET a = 1 WHERE 7 = id',
  'DELETE FROM sbtest1 WHERE id=?',
  'DELETE FROM t WHERE id = 3 ORDER BY id LIMIT 1',
  'INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)',
  "INSERT INTO t (a, b) VALUES (1, 'x'), (-2, NOW()) ON DUPLICATE KEY UPDATE b = VALUES(b)",
  'INSERT INTO t SET a = 1, b = ?',
  'INSERT IGNORE INTO db.t VALUES (1, 2)',
  'REPLACE INTO t (a) VALUES (1)',
  'INSERT INTO t (a) SELECT a FROM u WHERE a = 1',
  'UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = 1, t2.b = 2',
];

describe('MySQL fallback classifier', () => {
  it.each(AGREE)('agrees with the parser on %s', (sql) => {
    const parsed = analyzer.analyze(sql).facts.statements[0]!;
    expect(parsed.parseError).toBeNull();
    expect(routing(fallback(sql))).toEqual(routing(parsed));
  });
  it('records the parse error and never answers unknown', () => {
    const f = fallback('MERGE INTO t USING u ON t.id = u.id');
    expect(f.kind).toBe('write');
    expect(f.parseError).toBe('test');
  });
  it('lets a plain unparsable SELECT scatter but refuses to merge ORDER BY / LIMIT / aggregates', () => {
    expect(fallback('SELECT a FROM t WHERE b = 1').select?.unmergeable).toBeNull();
    expect(fallback('SELECT a FROM t ORDER BY a LIMIT 3').select?.unmergeable).toContain('could not parse');
    expect(fallback('SELECT count(*) FROM t').select?.unmergeable).toContain('could not parse');
    // Found by the MySQL oracle: unparsed var_pop() and aggregates under a function were concatenated.
    expect(
      analyzer.analyze('SELECT DISTINCTROW var_pop(id) FROM likes WHERE id <= 33').facts.statements[0]?.select
        ?.unmergeable,
    ).toContain('could not parse');
    // VARIANCE() and STD() are read as VAR_POP() and STDDEV_POP() (the grammar lacks them).
    const variance = analyzer.analyze('SELECT var_pop(id), variance(id), std(id) FROM likes WHERE id <= 33')
      .facts.statements[0]?.select;
    expect(variance?.unmergeable).toBeNull();
    expect(variance?.program).toBeDefined();
    expect(fallback('SELECT round(var_pop(a), 2) FROM t').select?.unmergeable).toContain('could not parse');
    expect(fallback('SELECT a, row_number() over (order by a) FROM t').select?.unmergeable).toContain(
      'could not parse',
    );
  });
  it('does not take function arguments for tables', () => {
    expect(fallback("SELECT EXTRACT(YEAR FROM d), TRIM(LEADING 'x' FROM s) FROM t").tables).toEqual(['t']);
    expect(fallback('SELECT 1 FROM dual').tables).toEqual([]);
  });
});
