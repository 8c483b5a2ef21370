// The oracle harness's pure parts: corpus parsing (known-failure marks) and verdicts.
import { describe, expect, it } from 'vitest';
import { compareOutcomes } from '../../bench/oracle/compare.js';
import { parseCorpus } from '../../bench/oracle/corpus.js';
import { generatePgStatements } from '../../bench/oracle/pg-generator.js';

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
    const a = generatePgStatements(600, { seed: 3, users: 30 });
    expect(a).toEqual(generatePgStatements(600, { seed: 3, users: 30 }));
    expect(a).not.toEqual(generatePgStatements(600, { seed: 4, users: 30 }));
    expect(a.filter((s) => /^(INSERT|UPDATE|DELETE)/.test(s.sql)).length).toBeGreaterThan(60);
  });
});
