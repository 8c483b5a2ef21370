// The savepoints of a session's open transaction, in order, for both protocols. A transaction
// that spans shards sends SAVEPOINT / ROLLBACK TO / RELEASE to every participant; a shard that
// joins later gets the active savepoints replayed right after its BEGIN (its state at join time
// is its state at each of them: nothing of the transaction ran there yet), so a ROLLBACK TO is
// right on every participant. Tracked from the start of every transaction (a single-shard one
// may join a second shard later); a transaction without savepoints costs an empty array.
import { ShardgateError } from '../errors.js';
import type { TransactionAction, TransactionFacts } from '../sql/facts.js';

/** How a database names and stacks savepoints. */
export interface SavepointDialect {
  /** Whether two names are the same savepoint (PostgreSQL: names arrive case-folded, exact; MySQL: case-insensitive). */
  same(a: string, b: string): boolean;
  /** A SAVEPOINT of a name in use drops the older one (MySQL) rather than hiding it (PostgreSQL). */
  replacesSameName: boolean;
  /** BEGIN inside a transaction commits it and starts another (MySQL), or is only a warning (PostgreSQL). */
  beginCommits: boolean;
  /** The statement that sets savepoint `name` again on a joining shard. */
  savepointSql(name: string): string;
  /** ROLLBACK TO / RELEASE of savepoint `name`. */
  undoSql(action: 'rollback_to' | 'release', name: string): string;
}

const undoVerb = (action: 'rollback_to' | 'release') => (action === 'release' ? 'RELEASE' : 'ROLLBACK TO');
const pgQuote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const mysqlQuote = (name: string) => `\`${name.replaceAll('`', '``')}\``;

export const PG_SAVEPOINTS: SavepointDialect = {
  same: (a, b) => a === b,
  replacesSameName: false,
  beginCommits: false,
  savepointSql: (name) => `SAVEPOINT ${pgQuote(name)}`,
  undoSql: (action, name) => `${undoVerb(action)} SAVEPOINT ${pgQuote(name)}`,
};

export const MYSQL_SAVEPOINTS: SavepointDialect = {
  // MySQL compares savepoint names with the system character set's case-insensitive collation.
  same: (a, b) => a.localeCompare(b, 'en', { sensitivity: 'accent' }) === 0,
  replacesSameName: true,
  beginCommits: true,
  savepointSql: (name) => `SAVEPOINT ${mysqlQuote(name)}`,
  undoSql: (action, name) => `${undoVerb(action)} SAVEPOINT ${mysqlQuote(name)}`,
};

/**
 * A statement of a message as the stack sees it: its transaction action (null: not transaction
 * control) and savepoint name (null: none, or shardgate could not read it).
 */
export interface SavepointStatement {
  action: TransactionAction | null;
  name: string | null;
}

const SAVEPOINT_ACTIONS: ReadonlySet<TransactionAction> = new Set(['savepoint', 'rollback_to', 'release']);

export function isSavepointAction(action: TransactionAction | null | undefined): boolean {
  return action !== undefined && action !== null && SAVEPOINT_ACTIONS.has(action);
}

export class SavepointStack {
  private readonly names: string[] = [];
  private lost = false;

  constructor(private readonly dialect: SavepointDialect) {}

  /** The active savepoints, oldest first. */
  get active(): readonly string[] {
    return this.names;
  }

  /**
   * False once shardgate no longer knows which savepoints the server holds (a message of several
   * statements with a savepoint failed part way, or a participant was lost): it may not replay them.
   */
  get known(): boolean {
    return !this.lost;
  }

  /** Index of the newest savepoint of that name, -1 when none. */
  find(name: string): number {
    for (let i = this.names.length - 1; i >= 0; i--) if (this.dialect.same(this.names[i]!, name)) return i;
    return -1;
  }

  has(name: string): boolean {
    return this.find(name) >= 0;
  }

  savepoint(name: string): void {
    if (this.dialect.replacesSameName) {
      const old = this.find(name);
      if (old >= 0) this.names.splice(old, 1);
    }
    this.names.push(name);
  }

  /** ROLLBACK TO: the savepoint stays, newer ones go. False when there is no such savepoint. */
  rollbackTo(name: string): boolean {
    const i = this.find(name);
    if (i < 0) return false;
    this.names.length = i + 1;
    return true;
  }

  /** RELEASE: the savepoint and newer ones go. False when there is no such savepoint. */
  release(name: string): boolean {
    const i = this.find(name);
    if (i < 0) return false;
    this.names.length = i;
    return true;
  }

  /**
   * What the server did with the transaction statements of a message run on one server: all of
   * them when it succeeded; after an error nothing known changed when it was one statement (a
   * failed savepoint statement changes nothing), else it is unknown which ran.
   */
  track(statements: readonly SavepointStatement[], ok: boolean): void {
    if (!ok) {
      if (statements.length > 1 && statements.some((s) => isSavepointAction(s.action))) this.lost = true;
      return;
    }
    for (const s of statements) this.apply(s);
  }

  private apply(s: SavepointStatement): void {
    switch (s.action) {
      case 'savepoint':
        if (s.name === null) this.lost = true;
        else this.savepoint(s.name);
        return;
      case 'rollback_to':
        if (s.name === null) this.lost = true;
        else this.rollbackTo(s.name);
        return;
      case 'release':
        if (s.name === null) this.lost = true;
        else this.release(s.name);
        return;
      case 'begin':
        if (this.dialect.beginCommits) this.clear();
        return;
      case 'commit':
      case 'rollback':
        this.clear();
        return;
      default:
        return;
    }
  }

  /** The transaction lost a participant: a ROLLBACK TO cannot bring it back. */
  forget(): void {
    this.lost = true;
  }

  /** Statements that give a joining shard every active savepoint, oldest first. */
  replay(): string[] {
    return this.names.map((n) => this.dialect.savepointSql(n));
  }

  /** The transaction ended. */
  clear(): void {
    this.names.length = 0;
    this.lost = false;
  }
}

type SavepointAction = 'savepoint' | 'rollback_to' | 'release';

/** A participant of a transaction that spans shards, as a savepoint statement sees it. */
export interface SavepointParticipant {
  shard: string;
  serverName: string;
}

/** What one participant answered: a server's error, or done (with its command tag, PostgreSQL). */
export interface SavepointAnswer<E> {
  error?: E | null;
  tag?: string | null;
}

/** The first participant that did not do it: its connection failed (`reason`) or its server said no. */
export type SavepointFailure<E> = { reason: unknown } | { serverError: E };

/** The protocol's part of a savepoint statement sent to every participant. */
export interface CrossShardSavepointDriver<P extends SavepointParticipant, E> {
  readonly dialect: SavepointDialect;
  readonly stack: SavepointStack;
  readonly participants: readonly P[];
  readonly transactionServer: string | null;
  /** What the client sends statements in, for the error: 'message' (PostgreSQL), 'query' (MySQL). */
  readonly unit: string;
  send(participant: P, sql: string): Promise<SavepointAnswer<E>>;
  /** A target did not do it (`targets`: how many were sent it): answers the client or throws. */
  failed(failure: SavepointFailure<E>, sql: string, targets: number): void;
  /** Every participant did it and the stack follows: answers the client (`tag`: the first one given). */
  done(action: SavepointAction, tag: string): void;
}

/** A planned statement as a savepoint statement sees it. */
export interface SavepointCandidate {
  sql: string;
  facts: { transaction: TransactionFacts | null };
}

/** The savepoint statement among a unit's statements, if any. */
export function savepointStatement<S extends SavepointCandidate>(statements: readonly S[]): S | undefined {
  return statements.find((st) => isSavepointAction(st.facts.transaction?.action));
}

/**
 * Runs savepoint statement `s` (alone in its unit of `count` statements) on every participant of
 * a transaction that spans shards, so that a shard's state at each savepoint is the same
 * everywhere. A name the stack does not know goes to one participant, whose server says so.
 */
export async function savepointOnEveryShard<P extends SavepointParticipant, E>(
  s: SavepointCandidate,
  count: number,
  driver: CrossShardSavepointDriver<P, E>,
): Promise<void> {
  const parts = driver.participants;
  const shards = parts.map((p) => p.shard).join(', ');
  const { action, savepoint: name } = s.facts.transaction!;
  if (count > 1)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: 'SAVEPOINT, ROLLBACK TO or RELEASE sent together with other statements',
      shards,
    });
  const stack = driver.stack;
  if (name === null || name === undefined || !stack.known)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: `${s.sql.slice(0, 40)} (shardgate does not know this transaction's savepoints: a ${driver.unit} with several statements and a savepoint failed part way, or a name it could not read)`,
      shards,
    });
  const act = action as SavepointAction;
  const sql = act === 'savepoint' ? driver.dialect.savepointSql(name) : driver.dialect.undoSql(act, name);
  const targets =
    act === 'savepoint' || stack.has(name)
      ? parts
      : [parts.find((b) => b.serverName === driver.transactionServer) ?? parts[0]!];
  const results = await Promise.allSettled(targets.map((b) => driver.send(b, sql)));
  let tag = '';
  for (const r of results) {
    if (r.status === 'rejected') return driver.failed({ reason: r.reason }, sql, targets.length);
    if (r.value.error) return driver.failed({ serverError: r.value.error }, sql, targets.length);
    tag ||= r.value.tag ?? '';
  }
  if (targets.length < parts.length)
    throw new ShardgateError('INTERNAL', {
      detail: `${sql} succeeded on a savepoint shardgate did not know`,
    });
  if (act === 'savepoint') stack.savepoint(name);
  else if (act === 'release') stack.release(name);
  else stack.rollbackTo(name);
  driver.done(act, tag);
}
