// The PostgreSQL side of compensate mode (src/transactions/compensation-store.ts): the record table
// shardgate.compensations on the default shard's primary (next to the two-phase decision log,
// as durable as that primary's data) and shardgate.compensation_marks on every shard's primary,
// written in the same transaction as the commit or the compensation it marks.
import type { PgServerConnection } from '../backend/pg-server-connection.js';
import type { RuntimeServer } from '../backend/pg-topology.js';
import { type CompensationDriver, commitMarkStatement } from './compensation-store.js';
import { check, createIfMissing, PgStatementError, sqlText, withServer } from './pg-two-phase.js';

const LOG = 'shardgate.compensations';
const MARKS = 'shardgate.compensation_marks';
const MISSING_TABLE = new Set(['42P01', '3F000']);
/** Errors after which the same statements may well succeed later: not a failed compensation. */
const TRANSIENT = /^(08|53|57|40001|40P01|55P03|25006)/;

export const pgCompensation: CompensationDriver<RuntimeServer> = {
  log: LOG,
  marks: MARKS,
  createLog: `CREATE SCHEMA IF NOT EXISTS shardgate;
CREATE TABLE IF NOT EXISTS ${LOG} (
  id text PRIMARY KEY,
  state text NOT NULL,
  participants jsonb NOT NULL,
  compensate text NOT NULL DEFAULT '',
  detail text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  announced_at timestamptz);
-- Retries of a compensation that could not run (added later: a log made before gets them here).
ALTER TABLE ${LOG} ADD COLUMN IF NOT EXISTS attempts int NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS last_error text NOT NULL DEFAULT '',
  ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz`,
  createMarks: `CREATE SCHEMA IF NOT EXISTS shardgate;
CREATE TABLE IF NOT EXISTS ${MARKS} (
  id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('commit', 'compensate')),
  fenced boolean NOT NULL DEFAULT false,
  marked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, kind))`,
  now: 'now()',
  json: (text) => `${sqlText(text)}::jsonb`,
  text: sqlText,
  secondsAgo: (seconds) => `now() - interval '${Math.floor(seconds)} seconds'`,
  msAhead: (ms) => `now() + interval '${Math.max(0, Math.floor(ms))} milliseconds'`,
  ageColumn: 'extract(epoch FROM now() - created_at)::float8::text',
  retryInColumn: 'coalesce(greatest(extract(epoch FROM next_attempt_at - now()), 0), 0)::float8::text',
  participantsColumn: 'participants::text',
  announcedColumn: '(announced_at IS NOT NULL)::text',
  isTrue: (cell) => cell === 'true',

  create: (server, sql) => withServer(server, (c) => createIfMissing(c, sql)),

  async write(server, sql) {
    const r = check(await withServer(server, (c) => c.query(sql)));
    return Number(/ (\d+)$/.exec(r.tag ?? '')?.[1] ?? 0);
  },

  async sweep(server, sql) {
    await withServer(server, (c) => c.query(sql)).catch(() => undefined);
  },

  async select(server, sql) {
    const r = await withServer(server, (c) => c.query(sql));
    if (r.error && MISSING_TABLE.has(r.error.code)) return null;
    return check(r).rows;
  },

  async fenceCommit(server, id) {
    // ON CONFLICT waits for a participant's own mark still in flight, then sees whether it committed.
    const r = check(
      await withServer(server, (c) =>
        c.query(
          `INSERT INTO ${MARKS} (id, kind, fenced) VALUES (${sqlText(id)}, 'commit', true) ON CONFLICT (id, kind) DO NOTHING;
           SELECT fenced::text FROM ${MARKS} WHERE id = ${sqlText(id)} AND kind = 'commit'`,
        ),
      ),
    );
    return r.rows[0]?.[0] === 'false';
  },

  compensate: (server, _id, sql) =>
    withServer(server, async (c) => {
      const r = await c.query(sql);
      if (!r.error) return null;
      await rollback(c);
      return {
        message: `${r.error.message} (SQLSTATE ${r.error.code})`,
        already: r.error.code === '23505' && r.error.message.includes('compensation_marks_pkey'),
        transient: TRANSIENT.test(r.error.code),
      };
    }),
};

/** The statement a participant runs right before its COMMIT (see compensating.ts, step 2). */
export const commitMarkSql = (id: string): string => commitMarkStatement(pgCompensation, id);

async function rollback(c: PgServerConnection): Promise<void> {
  const r = await c.query('ROLLBACK');
  if (r.error) throw new PgStatementError(r.error.code, r.error.message);
}
