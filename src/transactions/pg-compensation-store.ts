// The PostgreSQL side of compensate mode (src/transactions/compensating.ts): the record table
// shardgate.compensations on the default shard's primary (next to the two-phase decision log,
// as durable as that primary's data) and shardgate.compensation_marks on every shard's primary,
// written in the same transaction as the commit or the compensation it marks.
import type { PgServerConnection, SimpleResult } from '../backend/pg-server-connection.js';
import type { RuntimeServer, RuntimeTopology } from '../backend/pg-topology.js';
import type { CompensationRecord, CompensationState, CompensationStore } from './compensating.js';
import { check, createIfMissing, PgStatementError, sqlText, withServer } from './pg-two-phase.js';
import { serverNamed } from './recovery.js';
import { DefiniteFailure } from './two-phase.js';

const LOG = 'shardgate.compensations';
const MARKS = 'shardgate.compensation_marks';
const CREATE_LOG = `CREATE SCHEMA IF NOT EXISTS shardgate;
CREATE TABLE IF NOT EXISTS ${LOG} (
  id text PRIMARY KEY,
  state text NOT NULL,
  participants jsonb NOT NULL,
  compensate text NOT NULL DEFAULT '',
  detail text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  announced_at timestamptz)`;
const CREATE_MARKS = `CREATE SCHEMA IF NOT EXISTS shardgate;
CREATE TABLE IF NOT EXISTS ${MARKS} (
  id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('commit', 'compensate')),
  fenced boolean NOT NULL DEFAULT false,
  marked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, kind))`;
const MISSING_TABLE = new Set(['42P01', '3F000']);
/** Errors after which the same statements may well succeed later: not a failed compensation. */
const TRANSIENT = /^(08|53|57|40001|40P01|55P03|25006)/;
/** Old marks are swept at most this often. */
const SWEEP_EVERY_MS = 10 * 60_000;

/** The statement a participant runs right before its COMMIT (see compensating.ts, step 2). */
export function commitMarkSql(id: string): string {
  return `INSERT INTO ${MARKS} (id, kind) VALUES (${sqlText(id)}, 'commit')`;
}

export class PgCompensationStore implements CompensationStore {
  private logCreated: Promise<void> | null = null;
  private readonly marksCreated = new Map<string, Promise<void>>();
  private lastSweep = 0;

  constructor(private readonly topology: RuntimeTopology) {}

  private logServer(): RuntimeServer {
    const name = this.topology.view().defaultShard;
    const shard = this.topology.shardList().find((s) => s.name === name) ?? this.topology.shardList()[0]!;
    return shard.primary;
  }

  private onLog(sql: string): Promise<SimpleResult> {
    return withServer(this.logServer(), (c) => c.query(sql));
  }

  async ready(servers: readonly string[]): Promise<void> {
    this.logCreated ??= createOnce(this.logServer(), CREATE_LOG, () => {
      this.logCreated = null;
    });
    await Promise.all([
      this.logCreated,
      ...servers.map((name) => {
        let made = this.marksCreated.get(name);
        if (!made) {
          made = createOnce(serverNamed(this.topology, name), CREATE_MARKS, () =>
            this.marksCreated.delete(name),
          );
          this.marksCreated.set(name, made);
        }
        return made;
      }),
    ]);
  }

  async open(id: string, participants: CompensationRecord['participants']): Promise<void> {
    check(
      await this.onLog(
        `INSERT INTO ${LOG} (id, state, participants) VALUES (${sqlText(id)}, 'committing', ${sqlText(JSON.stringify(participants))}::jsonb)`,
      ),
    );
  }

  async forget(id: string): Promise<void> {
    check(await this.onLog(`DELETE FROM ${LOG} WHERE id = ${sqlText(id)}`));
  }

  async setState(
    id: string,
    state: CompensationState,
    detail: string,
    compensate?: readonly string[],
  ): Promise<void> {
    const final = state !== 'committing' && state !== 'compensating';
    check(
      await this.onLog(
        `UPDATE ${LOG} SET state = ${sqlText(state)}, detail = ${sqlText(detail)}` +
          (compensate ? `, compensate = ${sqlText(compensate.join(','))}` : '') +
          (final ? ', finished_at = now()' : '') +
          ` WHERE id = ${sqlText(id)}`,
      ),
    );
  }

  async fenceCommit(server: string, id: string): Promise<boolean> {
    await this.ready([server]);
    // ON CONFLICT waits for a participant's own mark still in flight, then sees whether it committed.
    const r = check(
      await withServer(serverNamed(this.topology, server), (c) =>
        c.query(
          `INSERT INTO ${MARKS} (id, kind, fenced) VALUES (${sqlText(id)}, 'commit', true) ON CONFLICT (id, kind) DO NOTHING;
           SELECT fenced::text FROM ${MARKS} WHERE id = ${sqlText(id)} AND kind = 'commit'`,
        ),
      ),
    );
    return r.rows[0]?.[0] === 'false';
  }

  async apply(server: string, id: string, statements: readonly string[]): Promise<'applied' | 'already'> {
    await this.ready([server]);
    return withServer(serverNamed(this.topology, server), async (c) => {
      // The mark goes first: a second run stops at its key (or waits for a run in progress).
      const r = await c.query(
        `BEGIN; INSERT INTO ${MARKS} (id, kind) VALUES (${sqlText(id)}, 'compensate'); ${statements.join('; ')}; COMMIT`,
      );
      if (!r.error) return 'applied';
      await rollback(c);
      if (r.error.code === '23505' && r.error.message.includes('compensation_marks_pkey')) return 'already';
      const err = `${r.error.message} (SQLSTATE ${r.error.code})`;
      if (TRANSIENT.test(r.error.code)) throw new Error(err);
      throw new DefiniteFailure(err);
    });
  }

  async claimAnnouncement(id: string): Promise<boolean> {
    const r = check(
      await this.onLog(
        `UPDATE ${LOG} SET announced_at = now() WHERE id = ${sqlText(id)} AND announced_at IS NULL RETURNING id`,
      ),
    );
    return r.rows.length > 0;
  }

  async get(id: string): Promise<CompensationRecord | null> {
    return (await this.select(`WHERE id = ${sqlText(id)}`))[0] ?? null;
  }

  list(limit: number): Promise<CompensationRecord[]> {
    return this.select(`ORDER BY created_at DESC LIMIT ${Math.max(1, Math.floor(limit))}`);
  }

  unfinished(): Promise<CompensationRecord[]> {
    return this.select(
      "WHERE state IN ('committing', 'compensating') OR announced_at IS NULL ORDER BY created_at",
    );
  }

  private async select(tail: string): Promise<CompensationRecord[]> {
    const r = await this.onLog(
      `SELECT id, state, participants::text, compensate, detail,
              extract(epoch FROM now() - created_at)::float8::text, (announced_at IS NOT NULL)::text
         FROM ${LOG} ${tail}`,
    );
    // No table yet: no transaction ever ran in compensate mode here.
    if (r.error && MISSING_TABLE.has(r.error.code)) return [];
    return check(r).rows.map((row) => ({
      id: row[0]!,
      state: row[1] as CompensationState,
      participants: JSON.parse(row[2]!) as CompensationRecord['participants'],
      compensate: row[3] ? row[3].split(',') : [],
      detail: row[4] ?? '',
      ageSeconds: Number(row[5]),
      announced: row[6] === 'true',
    }));
  }

  async sweep(
    olderThanSeconds: number,
    recordsOlderThanSeconds: number,
    open: readonly string[],
  ): Promise<void> {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    const keep = open.length > 0 ? ` AND id NOT IN (${open.map(sqlText).join(', ')})` : '';
    await this.onLog(
      `DELETE FROM ${LOG} WHERE state NOT IN ('committing', 'compensating') AND announced_at IS NOT NULL
         AND created_at < now() - interval '${Math.floor(recordsOlderThanSeconds)} seconds'`,
    ).catch(() => undefined);
    await Promise.allSettled(
      this.topology
        .shardList()
        .map((s) =>
          withServer(s.primary, (c) =>
            c.query(
              `DELETE FROM ${MARKS} WHERE marked_at < now() - interval '${Math.floor(olderThanSeconds)} seconds'${keep}`,
            ),
          ),
        ),
    );
  }
}

function createOnce(server: RuntimeServer, sql: string, onFail: () => void): Promise<void> {
  const made = withServer(server, (c) => createIfMissing(c, sql));
  made.catch(onFail);
  return made;
}

async function rollback(c: PgServerConnection): Promise<void> {
  const r = await c.query('ROLLBACK');
  if (r.error) throw new PgStatementError(r.error.code, r.error.message);
}
