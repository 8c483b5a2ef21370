// The compensating statements an open transaction has gathered, per server (the router fills
// PlannedStatement.compensation). At COMMIT across shards they decide between compensate mode
// (every write has a compensation) and two-phase commit (any write without one: compensate only
// relaxes two_phase where the application said how to undo).
//
// Two steps, so that only what happened is undone: planned() looks at each statement before it
// runs and may only take compensate mode away (a blocker, safe whether or not it then runs);
// applied() keeps a statement's compensations once it succeeded on the server that ran it, so a
// failed or re-planned statement leaves nothing behind. A savepoint takes compensate mode away:
// ROLLBACK TO would undo writes whose compensations were kept.
import { mayWriteData } from '../backend/server-loss.js';
import type { StatementFacts } from '../sql/facts.js';
import type { CompensationNote } from './compensation-template.js';

interface NotedStatement {
  facts: StatementFacts;
  plan: { type: string; target?: { server: string }; write?: boolean };
  compensation?: CompensationNote;
}

const SAVEPOINT_ACTIONS = new Set(['savepoint', 'rollback_to', 'release']);

export class TransactionCompensations {
  private readonly byServer = new Map<string, string[]>();
  /** Why this transaction cannot use compensate mode (the first write without a compensation). */
  private blocker: string | null = null;

  /** Before the statements run: anything they would write that nothing can undo. */
  planned(statements: readonly NotedStatement[]): void {
    for (const s of statements) {
      if (this.blocker !== null) return;
      this.blocker = blockerOf(s);
    }
  }

  /**
   * After the statements ran on `server`: their compensations, when they all succeeded. A unit
   * of several that failed may have written part of them (MySQL keeps the statements before the
   * failed one): nothing says which, so two-phase commit then.
   */
  applied(server: string, statements: readonly NotedStatement[], succeeded: boolean): void {
    if (this.blocker !== null) return;
    if (!succeeded) {
      if (statements.length > 1 && statements.some(mayWriteData))
        this.blocker = 'a statement failed in a unit of several that wrote';
      return;
    }
    for (const s of statements) {
      const note = s.compensation;
      if (s.facts.kind !== 'write' || note === undefined || 'reason' in note) continue;
      let list = this.byServer.get(server);
      if (!list) this.byServer.set(server, (list = []));
      list.push(...note.sql);
    }
  }

  clear(): void {
    this.byServer.clear();
    this.blocker = null;
  }

  /**
   * Each server's compensating statements, latest write first (undone in reverse), or the
   * reason the transaction commits with two-phase commit instead.
   */
  forServers(servers: readonly string[]): Map<string, string[]> | { reason: string } {
    if (this.blocker !== null) return { reason: this.blocker };
    const out = new Map<string, string[]>();
    for (const server of servers) out.set(server, [...(this.byServer.get(server) ?? [])].reverse());
    return out;
  }
}

/** Why `s` keeps its transaction from compensate mode, or null. */
function blockerOf(s: NotedStatement): string | null {
  const action = s.facts.transaction?.action;
  if (action !== undefined && SAVEPOINT_ACTIONS.has(action)) return 'the transaction used a savepoint';
  if (s.facts.kind !== 'write') {
    // DDL, COPY FROM, TRUNCATE, CALL, unknown text, a write function: writes nothing can undo.
    // A locking read is a 'write' of the router's, not this; the rest changes no data.
    return mayWriteData(s) && !s.facts.locking
      ? `a ${s.facts.kind} statement that may write has no compensation`
      : null;
  }
  const note = s.compensation;
  if (note === undefined) {
    // The router gives every write of a transaction a note; one without writes no row.
    return s.facts.writeTables.length > 0 || s.facts.modifyingCte || s.facts.merge
      ? 'a write planned outside the transaction'
      : null;
  }
  if ('reason' in note) return note.reason;
  if (s.plan.type !== 'single' || !s.plan.target?.server) return 'a write on several shards at once';
  return null;
}
