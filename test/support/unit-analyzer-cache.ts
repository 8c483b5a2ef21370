// What both analyzers' fact caches must not do: answer a statement whose facts hold a value
// (SET x = 64, USE db) from the entry of the same shape with another value.
import { expect } from 'vitest';
import type { StatementFacts } from '../../src/sql/facts.js';

interface Analyzer {
  analyze(sql: string): { cacheHit: boolean; facts: { statements: StatementFacts[] } };
}

/** Each [sql, value] in turn: a cache miss, and the session value its own text holds. */
export function expectSessionValuesUncached(analyzer: Analyzer, ...cases: Array<[string, string]>): void {
  for (const [sql, value] of cases) {
    const a = analyzer.analyze(sql);
    expect(a.cacheHit, sql).toBe(false);
    expect(a.facts.statements[0]!.session?.value, sql).toBe(value);
  }
}
