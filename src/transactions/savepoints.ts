// The savepoints of a session's open transaction, in order, for both protocols. A transaction
// that spans shards sends SAVEPOINT / ROLLBACK TO / RELEASE to every participant; a shard that
// joins later gets the active savepoints replayed right after its BEGIN (its state at join time
// is its state at each of them: nothing of the transaction ran there yet), so a ROLLBACK TO is
// right on every participant. Tracked from the start of every transaction (a single-shard one
// may join a second shard later); a transaction without savepoints costs an empty array.
import type { TransactionAction } from '../sql/facts.js';

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
}

export const PG_SAVEPOINTS: SavepointDialect = {
  same: (a, b) => a === b,
  replacesSameName: false,
  beginCommits: false,
  savepointSql: (name) => `SAVEPOINT "${name.replaceAll('"', '""')}"`,
};

export const MYSQL_SAVEPOINTS: SavepointDialect = {
  // MySQL compares savepoint names with the system character set's case-insensitive collation.
  same: (a, b) => a.localeCompare(b, 'en', { sensitivity: 'accent' }) === 0,
  replacesSameName: true,
  beginCommits: true,
  savepointSql: (name) => `SAVEPOINT \`${name.replaceAll('`', '``')}\``,
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
