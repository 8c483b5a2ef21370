// Runs statements over node-postgres with every value left as the server's text, so the oracle's
// and shardgate's answers compare byte for byte (no driver-side parsing of numbers or dates).
import type pg from 'pg';
import type { Outcome } from './outcome.js';

const RAW_TYPES = { getTypeParser: () => (value: string) => value };

/** Float type OIDs (float4, float8): compared with a tolerance. */
export const PG_FLOAT_TYPES: ReadonlySet<number> = new Set([700, 701]);

function tagOf(r: pg.QueryResult): string {
  if (r.command === 'INSERT') return `INSERT 0 ${r.rowCount ?? 0}`;
  return r.rowCount === null ? r.command : `${r.command} ${r.rowCount}`;
}

/** query_canceled: statement_timeout ended the statement. */
export const PG_STATEMENT_TIMEOUT_SQLSTATE = '57014';

/** Runs one statement on a client; resolves to its outcome, never rejects for a statement error. */
export async function runPgStatement(client: pg.Client, sql: string): Promise<Outcome> {
  try {
    const r = await client.query({ text: sql, rowMode: 'array', types: RAW_TYPES });
    return {
      kind: 'result',
      columns: (r.fields ?? []).map((f) => ({ name: f.name, type: f.dataTypeID })),
      rows: (r.rows as Array<Array<string | null>>) ?? [],
      tag: tagOf(r),
    };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (typeof e.code !== 'string') throw err;
    return { kind: 'error', code: e.code, message: e.message ?? '' };
  }
}
