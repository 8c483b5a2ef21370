// The oracle harness's pure parts: corpus parsing (known-failure marks) and verdicts.
import { describe, expect, it } from 'vitest';
import { compareOutcomes } from '../../bench/oracle/compare.js';
import { parseCorpus } from '../../bench/oracle/corpus.js';
import { generateStatements } from '../../bench/oracle/generator.js';
import { mysqlStatementInfo } from '../../bench/oracle/mysql-statement-info.js';

const rows = (cols: string[], data: Array<Array<string | null>>, tag = `SELECT ${data.length}`) => ({
  kind: 'result' as const,
  columns: cols.map((name) => ({ name, type: name === 'f' ? 701 : 1700 })),
  rows: data,
  tag,
});
const opts = (ordered: boolean) => ({ ordered, floatTypes: new Set([701]) });

describe('oracle harness', () => {
  it('parses a corpus file with known-failure marks', () => {
    const s = parseCorpus('-- a comment\nSELECT 1;\n-- known: planner\nSELECT\n  2;\nSELECT 3;\n', 'x.sql');
    expect(s).toEqual([
      { sql: 'SELECT 1', source: 'x.sql:2' },
      { sql: 'SELECT\n  2', source: 'x.sql:4', known: 'planner' },
      { sql: 'SELECT 3', source: 'x.sql:6' },
    ]);
    expect(() => parseCorpus('SELECT 1', 'y.sql')).toThrow(/without a closing/);
  });

  it('judges names, types, tags, order and SQLSTATEs', () => {
    const a = rows(['n'], [['1.50'], ['2']]);
    expect(compareOutcomes(a, rows(['n'], [['2'], ['1.50']]), opts(false))).toEqual({ verdict: 'match' });
    expect(compareOutcomes(a, rows(['n'], [['2'], ['1.50']]), opts(true)).verdict).toBe('mismatch');
    expect(compareOutcomes(a, rows(['n'], [['1.5'], ['2']]), opts(true)).verdict).toBe('mismatch');
    expect(compareOutcomes(a, rows(['sum'], [['1.50'], ['2']]), opts(true)).verdict).toBe('mismatch');
    expect(
      compareOutcomes(rows(['f'], [['0.30000000000000004']]), rows(['f'], [['0.3']]), opts(true)),
    ).toEqual({
      verdict: 'match',
    });
    const refused = {
      kind: 'error' as const,
      code: '0A000',
      message: 'cannot run this statement on several shards: HAVING 3',
    };
    expect(compareOutcomes(a, refused, opts(false))).toEqual({
      verdict: 'refused',
      reason: 'cannot run this statement on several shards: HAVING N',
    });
    const e = (code: string) => ({ kind: 'error' as const, code, message: '' });
    expect(compareOutcomes(e('23505'), e('23505'), opts(false))).toEqual({ verdict: 'match' });
    expect(compareOutcomes(e('23505'), a, opts(false)).verdict).toBe('mismatch');
  });

  it('generates the same statements from the same seed, writes included', () => {
    const a = generateStatements(600, { seed: 3, users: 30 });
    expect(a).toEqual(generateStatements(600, { seed: 3, users: 30 }));
    expect(a).not.toEqual(generateStatements(600, { seed: 4, users: 30 }));
    expect(a.filter((s) => /^(INSERT|UPDATE|DELETE)/.test(s.sql)).length).toBeGreaterThan(60);
  });

  it('counts errno 1235 as a refusal on MySQL, and 0A000 there as an ordinary error code', () => {
    const a = rows(['n'], [['1']]);
    const refused = { kind: 'error' as const, code: '1235', message: 'cannot run this on several shards' };
    const mysqlOpts = { ...opts(false), refusedCode: '1235' };
    expect(compareOutcomes(a, refused, mysqlOpts).verdict).toBe('refused');
    expect(compareOutcomes(a, refused, opts(false)).verdict).toBe('mismatch');
    expect(compareOutcomes(refused, refused, mysqlOpts)).toEqual({ verdict: 'match' });
  });

  it('spells the generated statements in the MySQL dialect', () => {
    const sqls = generateStatements(3000, { seed: 5, users: 30, dialect: 'mysql' }).map((s) => s.sql);
    const pg = generateStatements(3000, { seed: 5, users: 30 }).map((s) => s.sql);
    for (const banned of [/DISTINCT ON/, /string_agg|array_agg|bool_and|bool_or/, /ON CONFLICT/, /::/])
      expect(sqls.filter((s) => banned.test(s))).toEqual([]);
    expect(sqls.filter((s) => /^UPDATE .* RETURNING/.test(s))).toEqual([]);
    expect(sqls.some((s) => /ON DUPLICATE KEY UPDATE/.test(s))).toBe(true);
    expect(sqls.some((s) => /group_concat\(/.test(s))).toBe(true);
    expect(pg.some((s) => /ON CONFLICT/.test(s))).toBe(true);
  });

  it('reads whether a MySQL statement writes and whether its ORDER BY is top-level', () => {
    expect(mysqlStatementInfo('SELECT id FROM t ORDER BY id')).toEqual({ writes: false, ordered: true });
    expect(mysqlStatementInfo('SELECT group_concat(id ORDER BY id) FROM t')).toEqual({
      writes: false,
      ordered: false,
    });
    expect(mysqlStatementInfo("SELECT 'order by' FROM t FOR UPDATE")).toEqual({
      writes: false,
      ordered: false,
    });
    expect(mysqlStatementInfo('INSERT INTO t (id) VALUES (1) ON DUPLICATE KEY UPDATE id = 1').writes).toBe(
      true,
    );
    expect(mysqlStatementInfo('WITH x AS (SELECT 1) UPDATE t SET a = 1').writes).toBe(true);
    expect(mysqlStatementInfo('(SELECT a FROM t ORDER BY a LIMIT 1) UNION SELECT b FROM u').ordered).toBe(
      false,
    );
  });
});
