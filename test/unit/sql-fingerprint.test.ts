import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/sql/fingerprint.js';
import { statementTexts } from '../support/statement-texts.js';

const values = (sql: string) => fingerprint(sql).literals.map((l) => l.value);

describe('fingerprint tokenizer', () => {
  it('replaces literals, folds case and whitespace, drops comments', () => {
    const fp = fingerprint(
      "SELECT * FROM t WHERE a = 'it''s' AND b = E'x\\ny' AND c = $$d$$ AND d = 4.5e3 /* c */ -- x\n AND e = $1",
    );
    expect(fp.text).toBe('select * from t where a = ? and b = ? and c = ? and d = ? and e = $1');
    expect(fp.literals.map((l) => l.value)).toEqual(["it's", 'x\ny', 'd', '4.5e3']);
    expect(fp.maxParam).toBe(1);
    expect(fingerprint('select  *\n\tFROM T where A=1;').text).toBe(
      fingerprint('SELECT * FROM t WHERE a = 2').text,
    );
  });
  it('string forms and escapes', () => {
    expect(values("SELECT E'a\\'b', E'\\x41\\101\\u0042\\t', e'it''s'")).toEqual(["a'b", 'AAB\t', "it's"]);
    expect(values("SELECT E'\\xc3\\xa9'")).toEqual(['é']);
    expect(values("SELECT U&'d\\0061t\\+000061', U&'d!0061t' UESCAPE '!'")).toEqual(['data', 'dat']);
    expect(values("SELECT B'1010', X'1F', N'nat'")).toEqual(['1010', '1F', 'nat']);
    expect(fingerprint("SELECT B'1010'").literals[0]!.kind).toBe('bits');
    // standard strings: backslash is an ordinary character
    expect(values("SELECT 'a\\'")).toEqual(['a\\']);
    // continuation across a newline is one literal
    expect(values("SELECT 'foo'\n  'bar', 'x' 'y'")).toEqual(['foobar', 'x', 'y']);
  });
  it('dollar quotes with tags, and $n parameters', () => {
    expect(values('SELECT $fn$ a $$ b $fn$, $$x$$, $_1$y$_1$')).toEqual([' a $$ b ', 'x', 'y']);
    const fp = fingerprint('SELECT $1, $12::int, a$b$ FROM t');
    expect(fp.text).toBe('select $1, $12::int, a$b$ from t');
    expect(fp.maxParam).toBe(12);
    expect(fp.literals).toEqual([]);
  });
  it('quoted identifiers are kept verbatim and are not literals', () => {
    const fp = fingerprint('SELECT "Weird ""Name""" FROM "T" WHERE U&"d\\0061" = 1');
    expect(fp.text).toBe('select "Weird ""Name""" from "T" where U&"d\\0061" = ?');
    expect(values('SELECT "a\'b"')).toEqual([]);
  });
  it('nested comments and hint comments', () => {
    const fp = fingerprint(
      '/* a /* nested */ still comment */ SELECT 1 /* shardgate: vip=on */ -- shardgate: shard=s1',
    );
    expect(fp.text).toBe('select ?');
    expect(fp.hintComments).toEqual(['shardgate: vip=on', 'shardgate: shard=s1']);
    expect(fingerprint('/* shardgate: consistency=strong */ SELECT 1').hintComments).toEqual([
      'shardgate: consistency=strong',
    ]);
    expect(fingerprint("SELECT '/* not a comment */'").literals[0]!.value).toBe('/* not a comment */');
  });
  it('numbers: decimals, exponents, PG16 hex/octal/binary and underscores', () => {
    expect(values('SELECT 42, 4.2, .5, 5., 1e10, 1.5E-3, 0x1F, 0o17, 0b101, 1_000_000, 007')).toEqual([
      '42',
      '4.2',
      '.5',
      '5.',
      '1e10',
      '1.5E-3',
      '31',
      '15',
      '5',
      '1000000',
      '7',
    ]);
    expect(fingerprint('SELECT a FROM t WHERE x=-5').text).toBe('select a from t where x = - ?');
    expect(fingerprint('SELECT 1::int, a[1:2]').text).toBe('select ?::int, a[? : ?]');
  });
  it('keeps ORDER BY / GROUP BY positions in the shape', () => {
    expect(fingerprint('SELECT a, b FROM t GROUP BY 1, 2 ORDER BY 2 DESC, 1 LIMIT 10').text).toBe(
      'select a, b from t group by 1, 2 order by 2 desc, 1 limit ?',
    );
    expect(fingerprint('SELECT a FROM t ORDER BY a + 1').text).toBe('select a from t order by a + ?');
  });
  it('splits statements at top-level semicolons', () => {
    const sql =
      " SELECT 1; ; SELECT ';' ;\n-- c\nCREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2)";
    const fp = fingerprint(sql);
    expect(statementTexts(sql, fp.statements)).toEqual([
      'SELECT 1',
      "SELECT ';'",
      'CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2)',
    ]);
    expect(fp.text).toBe('select ?; select ?; create rule r as on insert to t do also (select ?; select ?)');
    const atomic =
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END; SELECT 3';
    expect(fingerprint(atomic).statements).toHaveLength(2);
    expect(fingerprint('SELECT 1;').text).toBe(fingerprint('SELECT 1').text);
    expect(fingerprint('  -- only a comment').statements).toEqual([]);
  });
  it('survives unterminated input', () => {
    for (const s of [
      "SELECT 'abc",
      'SELECT /* x',
      'SELECT $a$ x',
      'SELECT "x',
      '$',
      "E'\\",
      "U&'",
      "X'",
      '/*/*',
      '0x',
      '1e',
    ])
      expect(() => fingerprint(s)).not.toThrow();
    expect(values("SELECT 'abc")).toEqual(['abc']);
    expect(values('SELECT $a$ x')).toEqual([' x']);
    expect(fingerprint('SELECT 1 /* open').text).toBe('select ?');
  });
});

describe('fingerprint properties', () => {
  it('never throws; literal spans are ordered, inside the text, and re-tokenize to the same value', () => {
    const alphabet = fc.constantFrom(...'\'"$-/*;()Eex&U0123456789.\\ \nabc:,_tag'.split(''));
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 40 }).map((a) => a.join('')),
        (sql) => {
          const fp = fingerprint(sql);
          let last = 0;
          for (const l of fp.literals) {
            expect(l.offset).toBeGreaterThanOrEqual(last);
            expect(l.end).toBeGreaterThan(l.offset);
            expect(l.end).toBeLessThanOrEqual(sql.length);
            last = l.end;
            // The span alone is exactly that literal (the UESCAPE clause excepted).
            const again = fingerprint(sql.slice(l.offset, l.end)).literals;
            expect(again.map((x) => x.value)).toEqual([l.value]);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
  it('any value, encoded any way, comes back at its offset with the same shape', () => {
    const encodings: Array<(v: string) => string> = [
      (v) => `'${v.replaceAll("'", "''")}'`,
      (v) => `E'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`,
      // A dollar-quoted body ends at the first `$q$`, also one that starts inside the value
      // (v = '$q' gives `$q$$q$q$`: PostgreSQL reads '' then `q$`); such values are quoted plainly.
      (v) => (`${v}$q$`.indexOf('$q$') < v.length ? `'${v.replaceAll("'", "''")}'` : `$q$${v}$q$`),
      (v) => (v.includes('$$') || v.endsWith('$') ? `'${v.replaceAll("'", "''")}'` : `$$${v}$$`),
    ];
    const shape = fingerprint("SELECT * FROM t WHERE a = 'x' AND b = 1 /* c */").text;
    fc.assert(
      fc.property(
        fc.string({ maxLength: 20 }),
        fc.nat({ max: 3 }),
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        (v, e, n) => {
          const lit = encodings[e]!(v);
          const sql = `SELECT * FROM t WHERE a = ${lit} AND b = ${n} /* c */`;
          const fp = fingerprint(sql);
          expect(fp.text).toBe(shape);
          expect(fp.literals.map((l) => l.value)).toEqual([v, n.toString()]);
          expect(sql.slice(fp.literals[0]!.offset, fp.literals[0]!.end)).toBe(lit);
          expect(sql.slice(fp.literals[1]!.offset, fp.literals[1]!.end)).toBe(n.toString());
        },
      ),
      { numRuns: 2000 },
    );
  });
});
