// Runs statements over node-postgres with every value left as the server's text, so the oracle's
// and shardgate's answers compare byte for byte (no driver-side parsing of numbers or dates).
import type pg from 'pg';
import type { Outcome, StatementRunner } from './outcome.js';

const RAW_TYPES = { getTypeParser: () => (value: string) => value };

/** Float type OIDs (float4, float8): compared with a tolerance. */
export const PG_FLOAT_TYPES: ReadonlySet<number> = new Set([700, 701]);

function tagOf(r: pg.QueryResult): string {
  if (r.command === 'INSERT') return `INSERT 0 ${r.rowCount ?? 0}`;
  return r.rowCount === null ? r.command : `${r.command} ${r.rowCount}`;
}

export function pgStatementRunner(client: pg.Client): StatementRunner {
  return async (sql: string): Promise<Outcome> => {
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
  };
}
