// The statements a splitter found, as written: what the fingerprint and analyzer tests compare
// its ranges by (PostgreSQL and MySQL alike).
import type { StatementRange } from '../../src/sql/fingerprint.js';

export function statementTexts(sql: string, ranges: readonly StatementRange[]): string[] {
  return ranges.map((r) => sql.slice(r.start, r.end));
}
