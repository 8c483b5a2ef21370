// What one statement produced on one side of the differential comparison: a result (column
// names, type OIDs, rows as text, command tag) or an error (SQLSTATE, message). Protocol-neutral,
// so the PostgreSQL and MySQL runners share the comparison.

export interface ResultOutcome {
  kind: 'result';
  columns: Array<{ name: string; type: number }>;
  /** Cells as the server's text (null for NULL). */
  rows: Array<Array<string | null>>;
  tag: string;
}

export interface ErrorOutcome {
  kind: 'error';
  code: string;
  message: string;
}

export type Outcome = ResultOutcome | ErrorOutcome;

/** The statement ran past the per-statement time limit (server-side or the client's bound). */
export interface TimeoutOutcome {
  kind: 'timeout';
  limitMs: number;
  /** How it ended: the server's own limit, or the client closing the connection. */
  how: string;
}

export type RunOutcome = Outcome | TimeoutOutcome;

/** Runs one statement; resolves to its outcome, never rejects for a statement error. */
export type StatementRunner = (sql: string) => Promise<RunOutcome>;

export function formatOutcome(o: RunOutcome, maxRows = 20): string {
  if (o.kind === 'timeout') return `TIMEOUT after ${o.limitMs} ms (${o.how})`;
  if (o.kind === 'error') return `ERROR ${o.code}: ${o.message}`;
  const head = o.columns.map((c) => `${c.name}:${c.type}`).join(' | ');
  const rows = o.rows.slice(0, maxRows).map((r) => r.map((c) => (c === null ? 'NULL' : c)).join(' | '));
  const more = o.rows.length > maxRows ? [`... ${o.rows.length - maxRows} more rows`] : [];
  return [head, ...rows, ...more, o.tag].join('\n');
}
