// Compensate mode's store (src/transactions/compensating.ts) for both protocols: the record table
// <schema>.compensations on the default shard's primary and <schema>.compensation_marks on every
// shard's primary. The statements and their order live here once; a CompensationDriver says how
// one server dialect writes them, runs them and reads their answers (pg- and mysql-compensation-store.ts).
import type { CompensationRecord, CompensationState, CompensationStore } from './compensating.js';
import { serverNamed } from './recovery.js';
import { DefiniteFailure } from './two-phase.js';

/** Old marks are swept at most this often. */
const SWEEP_EVERY_MS = 10 * 60_000;

export interface CompensationTopology<S> {
  view(): { defaultShard: string };
  shardList(): ReadonlyArray<{ name: string; primary: S }>;
  server(name: string): S | null | undefined;
}

/** One server dialect's part of the store. */
export interface CompensationDriver<S extends { name: string }> {
  /** The record table and the marks table, schema-qualified. */
  readonly log: string;
  readonly marks: string;
  /** What the log server runs before its first use (the dialect's CREATE ... IF NOT EXISTS). */
  readonly createLog: string;
  /** What every participant runs before its first mark. */
  readonly createMarks: string;
  /** The current time, and the JSON column's value from its text. */
  readonly now: string;
  json(text: string): string;
  text(value: string): string;
  /** `now` minus whole seconds. */
  secondsAgo(seconds: number): string;
  /** `now` plus milliseconds. */
  msAhead(ms: number): string;
  /** The select list's age in seconds, participants as text and announced as 1/0 or true/false. */
  readonly ageColumn: string;
  /** Seconds until next_attempt_at (0 when due or unset). */
  readonly retryInColumn: string;
  readonly participantsColumn: string;
  readonly announcedColumn: string;
  isTrue(cell: string): boolean;
  /** Runs a CREATE ... IF NOT EXISTS script; a concurrent creator's win counts as made. */
  create(server: S, sql: string): Promise<void>;
  /** Runs writes (and their COMMIT when the pool may carry autocommit=0); throws on an error; rows changed. */
  write(server: S, sql: string): Promise<number>;
  /** Runs a sweep's DELETE; its failure is let go (the next sweep tries again). */
  sweep(server: S, sql: string): Promise<void>;
  /** The rows of one SELECT as text cells; null when the tables do not exist yet. */
  select(server: S, sql: string): Promise<Array<Array<string | null>> | null>;
  /** Writes a fenced commit mark unless one exists; true when the participant's own mark won. */
  fenceCommit(server: S, id: string): Promise<boolean>;
  /**
   * Runs a compensation's transaction (compensateTransactionSql) on one connection: null when it
   * committed, else how the server refused it, the transaction rolled back.
   */
  compensate(server: S, id: string, sql: string): Promise<CompensationRefusal | null>;
}

export interface CompensationRefusal {
  /** The server's error, with its SQLSTATE or errno. */
  message: string;
  /** The compensate mark was there: an earlier run applied it. */
  already: boolean;
  /** The same statements may well succeed later: not a failed compensation. */
  transient: boolean;
}

/** The statement a participant runs right before its COMMIT (see compensating.ts, step 2). */
export function commitMarkStatement<S extends { name: string }>(
  driver: CompensationDriver<S>,
  id: string,
): string {
  return `INSERT INTO ${driver.marks} (id, kind) VALUES (${driver.text(id)}, 'commit')`;
}

/**
 * A compensation as one transaction: its mark goes first, so a second run stops at the mark's key
 * (or waits for a run in progress), then the compensating statements.
 */
export function compensateTransactionSql<S extends { name: string }>(
  driver: CompensationDriver<S>,
  id: string,
  statements: readonly string[],
): string {
  return `BEGIN; INSERT INTO ${driver.marks} (id, kind) VALUES (${driver.text(id)}, 'compensate'); ${statements.join('; ')}; COMMIT`;
}

export class SqlCompensationStore<S extends { name: string }> implements CompensationStore {
  private readonly created = new Map<string, Promise<void>>();
  private lastSweep = 0;

  constructor(
    private readonly topology: CompensationTopology<S>,
    private readonly driver: CompensationDriver<S>,
  ) {}

  private logServer(): S {
    const name = this.topology.view().defaultShard;
    const shard = this.topology.shardList().find((s) => s.name === name) ?? this.topology.shardList()[0]!;
    return shard.primary;
  }

  private createOnce(server: S, kind: 'log' | 'marks'): Promise<void> {
    const key = `${server.name}\0${kind}`;
    let made = this.created.get(key);
    if (!made) {
      made = this.driver.create(server, kind === 'log' ? this.driver.createLog : this.driver.createMarks);
      made.catch(() => this.created.delete(key));
      this.created.set(key, made);
    }
    return made;
  }

  async ready(servers: readonly string[]): Promise<void> {
    await Promise.all([
      this.createOnce(this.logServer(), 'log'),
      ...servers.map((name) => this.createOnce(serverNamed(this.topology, name), 'marks')),
    ]);
  }

  async open(id: string, participants: CompensationRecord['participants']): Promise<void> {
    const d = this.driver;
    await d.write(
      this.logServer(),
      `INSERT INTO ${d.log} (id, state, participants) VALUES (${d.text(id)}, 'committing', ${d.json(JSON.stringify(participants))})`,
    );
  }

  async forget(id: string): Promise<void> {
    await this.driver.write(
      this.logServer(),
      `DELETE FROM ${this.driver.log} WHERE id = ${this.driver.text(id)}`,
    );
  }

  async setState(
    id: string,
    state: CompensationState,
    detail: string,
    compensate?: readonly string[],
    from?: readonly CompensationState[],
  ): Promise<boolean> {
    const d = this.driver;
    const final = state !== 'committing' && state !== 'compensating';
    const changed = await d.write(
      this.logServer(),
      `UPDATE ${d.log} SET state = ${d.text(state)}, detail = ${d.text(detail)}` +
        (compensate ? `, compensate = ${d.text(compensate.join(','))}` : '') +
        (final ? `, finished_at = ${d.now}` : '') +
        ` WHERE id = ${d.text(id)}` +
        (from ? ` AND state IN (${from.map((f) => d.text(f)).join(', ')})` : ''),
    );
    return changed > 0;
  }

  async deferRetry(id: string, error: string, delayMs: number): Promise<void> {
    const d = this.driver;
    await d.write(
      this.logServer(),
      `UPDATE ${d.log} SET attempts = attempts + 1, last_error = ${d.text(error)}, next_attempt_at = ${d.msAhead(delayMs)}
         WHERE id = ${d.text(id)} AND state = 'compensating'`,
    );
  }

  async fenceCommit(server: string, id: string): Promise<boolean> {
    await this.ready([server]);
    return this.driver.fenceCommit(serverNamed(this.topology, server), id);
  }

  async apply(server: string, id: string, statements: readonly string[]): Promise<'applied' | 'already'> {
    await this.ready([server]);
    const sql = compensateTransactionSql(this.driver, id, statements);
    const refused = await this.driver.compensate(serverNamed(this.topology, server), id, sql);
    if (refused === null) return 'applied';
    if (refused.already) return 'already';
    throw refused.transient ? new Error(refused.message) : new DefiniteFailure(refused.message);
  }

  async claimAnnouncement(id: string): Promise<boolean> {
    const d = this.driver;
    const changed = await d.write(
      this.logServer(),
      `UPDATE ${d.log} SET announced_at = ${d.now} WHERE id = ${d.text(id)} AND announced_at IS NULL`,
    );
    return changed > 0;
  }

  async get(id: string): Promise<CompensationRecord | null> {
    return (await this.select(`WHERE id = ${this.driver.text(id)}`))[0] ?? null;
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
    const d = this.driver;
    const rows = await d.select(
      this.logServer(),
      `SELECT id, state, ${d.participantsColumn}, compensate, detail, ${d.ageColumn}, ${d.announcedColumn},
              attempts, last_error, ${d.retryInColumn}
         FROM ${d.log} ${tail}`,
    );
    // No table yet: no transaction ever ran in compensate mode here.
    if (!rows) return [];
    return rows.map((row) => {
      const text = (i: number) => row[i] ?? '';
      return {
        id: text(0),
        state: text(1) as CompensationState,
        participants: JSON.parse(text(2)) as CompensationRecord['participants'],
        compensate: text(3) ? text(3).split(',') : [],
        detail: text(4),
        ageSeconds: Number(text(5)),
        announced: d.isTrue(text(6)),
        attempts: Number(text(7)),
        lastError: text(8),
        retryInSeconds: Number(text(9)),
      };
    });
  }

  async sweep(
    olderThanSeconds: number,
    recordsOlderThanSeconds: number,
    open: readonly string[],
  ): Promise<void> {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    const d = this.driver;
    const keep = open.length > 0 ? ` AND id NOT IN (${open.map((id) => d.text(id)).join(', ')})` : '';
    await d.sweep(
      this.logServer(),
      `DELETE FROM ${d.log} WHERE state NOT IN ('committing', 'compensating') AND announced_at IS NOT NULL
         AND created_at < ${d.secondsAgo(recordsOlderThanSeconds)}`,
    );
    await Promise.allSettled(
      this.topology
        .shardList()
        .map((s) =>
          d.sweep(
            s.primary,
            `DELETE FROM ${d.marks} WHERE marked_at < ${d.secondsAgo(olderThanSeconds)}${keep}`,
          ),
        ),
    );
  }
}
