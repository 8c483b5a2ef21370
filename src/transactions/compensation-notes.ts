// The compensating statements an open transaction has gathered, per server, as its writes are
// planned (the router fills PlannedStatement.compensation). At COMMIT across shards they decide
// between compensate mode (every write has a compensation) and two-phase commit (any write
// without one: compensate only relaxes two_phase where the application said how to undo).
import type { StatementFacts } from '../sql/facts.js';
import type { CompensationNote } from './compensation-template.js';

interface NotedStatement {
  facts: StatementFacts;
  plan: { type: string; target?: { server: string } };
  compensation?: CompensationNote;
}

export class TransactionCompensations {
  private readonly byServer = new Map<string, string[]>();
  /** Why this transaction cannot use compensate mode (the first write without a compensation). */
  private blocker: string | null = null;

  note(statements: readonly NotedStatement[]): void {
    for (const s of statements) {
      if (s.facts.kind !== 'write' || this.blocker !== null) continue;
      const note = s.compensation;
      if (note === undefined) {
        // The router gives every write of a transaction a note; one without writes no row.
        if (s.facts.writeTables.length > 0 || s.facts.modifyingCte || s.facts.merge)
          this.blocker = 'a write planned outside the transaction';
        continue;
      }
      if ('reason' in note) {
        this.blocker = note.reason;
        continue;
      }
      const server = s.plan.type === 'single' ? s.plan.target?.server : undefined;
      if (!server) {
        this.blocker = 'a write on several shards at once';
        continue;
      }
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
