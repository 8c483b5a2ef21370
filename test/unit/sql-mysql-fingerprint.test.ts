import { describe, expect, it } from 'vitest';
import { fingerprintMysql, type Token } from '../../src/sql/mysql/fingerprint-mysql.js';
import { statementTexts } from '../support/statement-texts.js';

const fp = fingerprintMysql;
const values = (sql: string) => fp(sql).literals.map((l) => l.value);

describe('MySQL fingerprint: literals', () => {
  it('replaces literals with ? and keeps their values and offsets', () => {
    const sql = "SELECT * FROM t WHERE a = 'x' AND b = 42 AND c = 1.5e3";
    const f = fp(sql);
    expect(f.text).toBe('select * from t where a = ? and b = ? and c = ?');
    expect(f.literals.map((l) => [l.value, l.kind, sql.slice(l.offset, l.end)])).toEqual([
      ['x', 'string', "'x'"],
      ['42', 'number', '42'],
      ['1.5e3', 'number', '1.5e3'],
    ]);
  });
  it('decodes backslash escapes and doubled quotes in both quote styles', () => {
    expect(
      values(String.raw`SELECT 'it\'s', "say \"hi\"", 'a''b', "c""d", 'x\ny\tz\0', '\%\_', '\q'`),
    ).toEqual(["it's", 'say "hi"', "a'b", 'c"d', 'x\ny\tz\0', '\\%\\_', 'q']);
  });
  it('joins adjacent strings, drops introducers and N', () => {
    expect(values("SELECT 'a' 'b'  \"c\", _utf8mb4'd', N'e', _binary 'f'")).toEqual(['abc', 'd', 'e', 'f']);
    expect(fp("SELECT _binary 'f'").text).toBe('select _binary ?');
  });
  it('hex and bit literals in both notations', () => {
    const f = fp("SELECT x'1F', X'2a', 0x3B, b'101', 0b11, 0x");
    expect(f.literals.map((l) => [l.value, l.kind])).toEqual([
      ['1F', 'bits'],
      ['2a', 'bits'],
      ['3B', 'bits'],
      ['101', 'bits'],
      ['11', 'bits'],
    ]);
    // 0x without digits is an identifier
    expect(f.text).toBe('select ?, ?, ?, ?, ?, `0x`');
  });
  it('normalizes integers, keeps identifiers that start with digits', () => {
    expect(values('SELECT 007, 0, .5, 3.')).toEqual(['7', '0', '.5', '3.']);
    expect(fp('SELECT 1col FROM 2t').text).toBe('select `1col` from `2t`');
  });
  it('numbers ? placeholders in order and tells them from literals', () => {
    const a = fp('SELECT * FROM t WHERE a = ? AND b = 5 AND c IN (?, ?)');
    expect(a.text).toBe('select * from t where a = $1 and b = ? and c in ($2, $3)');
    expect(a.maxParam).toBe(3);
    expect(fp('SELECT * FROM t WHERE a = 5 AND b = ?').text).not.toBe(
      fp('SELECT * FROM t WHERE a = ? AND b = 5').text,
    );
  });
  it('keeps ORDER BY / GROUP BY positions in the shape, LIMIT values out', () => {
    const f = fp('SELECT a, b FROM t GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10, 5');
    expect(f.text).toBe('select a, b from t group by 1 order by 2 desc, 1 limit ?, ?');
    expect(f.literals.map((l) => l.value)).toEqual(['10', '5']);
  });
  it('same shape for other values and other spacing / keyword case', () => {
    expect(fp("select  *  from T where id=1 and s='x'").text).toBe(
      fp("SELECT * FROM t WHERE id = 99 AND s = 'yy'").text,
    );
  });
});

describe('MySQL fingerprint: comments, identifiers, variables', () => {
  it('drops #, -- and /* */ comments but not --x', () => {
    expect(fp('SELECT 1 # c\n, 2 -- c\n, 3 /* c */ , 4').text).toBe('select ?, ?, ?, ?');
    expect(fp('SELECT 1--1').text).toBe('select ? - - ?');
    expect(fp('SELECT 1 --\tc').text).toBe('select ?');
  });
  it('keeps /*! and /*M! executable comments with their content as SQL', () => {
    const f = fp(
      '/*!40101 SET NAMES utf8 */; SELECT /*! STRAIGHT_JOIN */ a FROM t /*M!100100 WHERE id = 3 */',
    );
    expect(f.text).toBe(
      '/*!40101 set names utf8 */; select /*! straight_join */ a from t /*m!100100 where id = ? */',
    );
    expect(f.literals.map((l) => l.value)).toEqual(['3']);
    expect(f.statements).toHaveLength(2);
  });
  it('keeps backtick identifiers verbatim and lower-cases plain words', () => {
    expect(fp('SELECT `My Col`, `a``b` FROM `Db`.`T`').text).toBe('select `My Col`, `a``b` from `Db`.`T`');
  });
  it('collects shardgate hints from all comment styles', () => {
    const f = fp(
      '/* shardgate: consistency=strong */ SELECT 1 -- shardgate: vip=on\n# shardgate: role=replica\n/* other */',
    );
    expect(f.hintComments).toEqual([
      'shardgate: consistency=strong',
      'shardgate: vip=on',
      'shardgate: role=replica',
    ]);
  });
  it('user and system variables are tokens of their own', () => {
    expect(fp("SELECT @a, @`b c`, @'d', @@session.SQL_MODE, @@version").text).toBe(
      "select @a, @`b c`, @'d', @@session.sql_mode, @@version",
    );
    expect(fp("SELECT @'d'").literals).toEqual([]);
  });
  it('JSON and comparison operators stay whole', () => {
    expect(fp("SELECT doc->>'$.a', doc->'$.b' FROM t WHERE a <=> b AND c != d AND e := 1").text).toBe(
      'select doc ->> ?, doc -> ? from t where a <=> b and c != d and e := ?',
    );
  });
});

describe('MySQL fingerprint: statements', () => {
  it('splits at top-level semicolons only', () => {
    const sql = "SELECT ';'; SELECT (1;2); ; SELECT 3;";
    const f = fp(sql);
    expect(statementTexts(sql, f.statements)).toEqual(["SELECT ';'", 'SELECT (1;2)', 'SELECT 3']);
    expect(f.text).toBe('select ?; select (?; ?); select ?');
  });
  it('keeps BEGIN ... END bodies of routines and triggers in one statement', () => {
    const proc =
      'CREATE PROCEDURE p() BEGIN DECLARE x INT; label: LOOP SET x = x + 1; IF x > 3 THEN LEAVE label; END IF; END LOOP; ' +
      'CASE x WHEN 1 THEN SELECT 1; ELSE BEGIN SELECT 2; END; END CASE; SELECT CASE WHEN x THEN 1 END; END';
    const sql = `${proc}; SELECT 9`;
    const f = fp(sql);
    expect(statementTexts(sql, f.statements)).toEqual([proc, 'SELECT 9']);
    // BEGIN / END as names outside routines do not hold the statement open.
    expect(fp('CREATE TABLE t (begin INT); SELECT 1').statements).toHaveLength(2);
    const block = 'BEGIN NOT ATOMIC SELECT 1; SELECT 2; END';
    expect(fp(`${block}; BEGIN; SELECT 3`).statements).toHaveLength(3);
  });
  it('records tokens per statement on request, with literal and placeholder numbers', () => {
    const tokens: Token[][] = [];
    fp("SELECT a FROM t WHERE b = 'x' AND c = ?; COMMIT", tokens);
    expect(tokens).toHaveLength(2);
    const lit = tokens[0]!.find((t) => t.literal >= 0)!;
    expect(lit.literal).toBe(0);
    expect(tokens[0]!.find((t) => t.param > 0)!.param).toBe(1);
    expect(tokens[1]!.map((t) => t.text)).toEqual(['commit']);
  });
  it('never throws on unterminated input', () => {
    for (const sql of [
      "SELECT 'abc",
      'SELECT "x\\',
      'SELECT `id',
      'SELECT /* c',
      'SELECT /*! 1',
      "x'12",
      '@',
      '@@',
      '?',
    ]) {
      expect(() => fp(sql)).not.toThrow();
    }
    expect(fp("SELECT 'abc").literals[0]!.value).toBe('abc');
  });
});
