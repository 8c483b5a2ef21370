// Values inlined into statement text read the same whatever the session's string mode:
// PostgreSQL standard_conforming_strings on or off, MySQL with or without NO_BACKSLASH_ESCAPES.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { inlineParams as inlineMysql } from '../../src/protocol/mysql/sql-inline.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { inlineInsertRows } from '../../src/sql/insert-rows.js';

beforeAll(async () => {
  await QueryAnalyzer.load();
});

describe('PostgreSQL split INSERT', () => {
  it("writes a value with a backslash as E'...' (backslashes and quotes doubled)", () => {
    const sql = inlineInsertRows(
      'INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)',
      [1],
      ['1', 'x', '2', "it's\\"],
    );
    expect(sql).toBe("INSERT INTO t (a, b) VALUES ('2', E'it''s\\\\')");
  });

  it('finds the rows past an E-string holding an escaped quote', () => {
    const sql = inlineInsertRows("INSERT INTO t (a, b) VALUES (1, E'a\\'), (9'), (2, 'b')", [1], []);
    expect(sql).toBe("INSERT INTO t (a, b) VALUES (2, 'b')");
  });

  it('never leaves a backslash outside an E-string (property)', () => {
    fc.assert(
      fc.property(fc.string(), (v) => {
        const sql = inlineInsertRows('INSERT INTO t (a) VALUES ($1), ($2)', [0], [v, 'z']);
        const literal = sql.slice(sql.indexOf('VALUES (') + 8, -1);
        if (v.includes('\\')) expect(literal.startsWith("E'")).toBe(true);
        else expect(literal).toBe(`'${v.replace(/'/g, "''")}'`);
      }),
    );
  });
});

describe('MySQL inliner', () => {
  it('writes a value with a backslash as a hex literal (the same with NO_BACKSLASH_ESCAPES)', () => {
    fc.assert(
      fc.property(fc.string(), (v) => {
        const sql = inlineMysql('SELECT ?', [{ text: v, numeric: false }]);
        if (/[\\\u0000-\u001f]/.test(v))
          expect(sql).toBe(`SELECT _utf8mb4 X'${Buffer.from(v).toString('hex')}'`);
        else expect(sql).not.toContain('\\');
      }),
    );
  });
});
