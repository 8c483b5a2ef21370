// The two-phase commit coordinator, one for both protocols. A protocol contributes the small
// part: how a participant prepares, commits or rolls back a prepared transaction (PostgreSQL
// PREPARE TRANSACTION / COMMIT PREPARED, MariaDB XA), and where the decision log lives.
//
// The protocol (docs/transactions.md):
//   1. PREPARE every participant (in parallel). Any failure: roll back every participant.
//   2. Decide: insert (gid, 'commit') into the decision log. This row is the commit point. When
//      a participant lives where the log does (as the log's own identity), it is not prepared: the
//      insert and its own COMMIT go in one round trip, so its commit is the decision (as Citus
//      commits its coordinator's local transaction with the commit record).
//      Recovery may have inserted (gid, 'abort') first: the insert then fails and everything is
//      rolled back. Whoever writes the row first decides; nobody decides twice.
//   3. COMMIT PREPARED on every participant. A participant that fails here is committed later by
//      recovery (the decision is durable); the client is told COMMIT.
import { randomBytes } from 'node:crypto';
import { commitAll } from './commit-all.js';
import { hitFailpoint } from './failpoints.js';
import type { TwoPhaseStats } from './stats.js';

/** One shard's part of a transaction, as its protocol drives it. */
export interface Participant {
  readonly server: string;
  readonly shard: string;
  /** Prepares the open transaction under `gid`; throws when it could not (the server rolled it back). */
  prepare(gid: string): Promise<void>;
  commitPrepared(gid: string): Promise<void>;
  rollbackPrepared(gid: string): Promise<void>;
}

/** A participant on the decision log's server: its own COMMIT writes the decision. */
export interface DecisionCarrier extends Participant {
  /**
   * Inserts the decision inside the open transaction and commits it, in one round trip. Throws
   * DecisionTaken (an abort was recorded first) or DefiniteFailure (the server refused: nothing
   * committed, the transaction is rolled back); any other error leaves the outcome unknown.
   */
  commitWithDecision(gid: string, servers: readonly string[]): Promise<void>;
  rollback(): Promise<void>;
}

/** The server answered: the statement did not take effect. */
export class DefiniteFailure extends Error {}

/** The durable record of decisions (a table on the default shard's primary). */
export interface DecisionLog {
  /** Records the commit decision; throws DecisionTaken when an abort was recorded first. */
  decideCommit(gid: string, servers: readonly string[]): Promise<void>;
}

/** Recovery recorded an abort for this transaction before its coordinator could decide commit. */
export class DecisionTaken extends Error {}

export type CommitOutcome =
  | { kind: 'committed'; gid: string; unfinished: string[] }
  | { kind: 'aborted'; gid: string; detail: string }
  | { kind: 'unknown'; gid: string; detail: string };

/** Transaction ids: `sg2pc_<process>_<n>`; recovery only touches prepared transactions so named. */
export const GID_PREFIX = 'sg2pc_';

export class TwoPhaseCoordinator {
  /** Transactions this process is committing now: recovery leaves them to it. */
  readonly inFlight = new Set<string>();
  private readonly instance = randomBytes(4).toString('hex');
  private seq = 0;

  /**
   * `decisionDeadlineMs` (transactions.recoveryMinAgeMs): a prepare phase that took longer is
   * rolled back instead of decided, because recovery may already be rolling its participants back;
   * this also lets recovery delete an old abort row without a late commit taking its place.
   */
  constructor(
    private readonly log: DecisionLog,
    readonly stats: TwoPhaseStats,
    private readonly decisionDeadlineMs: number,
  ) {}

  newGid(): string {
    return `${GID_PREFIX}${this.instance}_${++this.seq}`;
  }

  /**
   * Commits `participants` atomically. `carrier`, when given, is a further participant on the
   * decision log's server: it is not prepared, its commit carries the decision. `gid` is given
   * when the participants knew it before (MariaDB names an XA transaction at XA START).
   */
  async commit(
    participants: readonly Participant[],
    carrier: DecisionCarrier | null = null,
    gid: string = this.newGid(),
  ): Promise<CommitOutcome> {
    this.inFlight.add(gid);
    const started = performance.now();
    const abortCarrier = async () => {
      await carrier?.rollback().catch(() => undefined);
    };
    try {
      const prepared = await Promise.allSettled(participants.map((p) => p.prepare(gid)));
      const failed = prepared.findIndex((r) => r.status === 'rejected');
      if (failed >= 0) {
        const reason = (prepared[failed] as PromiseRejectedResult).reason;
        await Promise.all([this.rollBack(gid, participants, prepared), abortCarrier()]);
        return this.aborted(gid, `${participants[failed]!.server}: ${message(reason)}`);
      }
      if (performance.now() - started > this.decisionDeadlineMs) {
        await Promise.all([this.rollBack(gid, participants, prepared), abortCarrier()]);
        return this.aborted(
          gid,
          `preparing took longer than ${this.decisionDeadlineMs} ms (transactions.recoveryMinAgeMs)`,
        );
      }
      hitFailpoint('twopc-after-prepare');
      const servers = participants.map((p) => p.server);
      if (carrier) servers.push(carrier.server);
      try {
        if (carrier) await carrier.commitWithDecision(gid, servers);
        else await this.log.decideCommit(gid, servers);
      } catch (err) {
        if (err instanceof DecisionTaken) {
          await Promise.all([this.rollBack(gid, participants, prepared), abortCarrier()]);
          return this.aborted(gid, 'recovery rolled it back while it was being prepared');
        }
        if (err instanceof DefiniteFailure) {
          await this.rollBack(gid, participants, prepared);
          return this.aborted(gid, `${carrier!.server}: ${message(err)}`);
        }
        // The decision row may or may not be written: recovery reads it and finishes the job.
        this.stats.unknownOutcomes++;
        return { kind: 'unknown', gid, detail: message(err) };
      }
      hitFailpoint('twopc-after-decision');
      const committed = await commitAll(
        participants,
        (p) => p.commitPrepared(gid),
        'twopc-after-first-commit',
      );
      const unfinished = participants
        .filter((_, i) => committed[i]!.status === 'rejected')
        .map((p) => p.server);
      this.stats.commits++;
      this.stats.observeCommit((performance.now() - started) / 1000);
      return { kind: 'committed', gid, unfinished };
    } finally {
      this.inFlight.delete(gid);
    }
  }

  private aborted(gid: string, detail: string): CommitOutcome {
    this.stats.aborts++;
    return { kind: 'aborted', gid, detail };
  }

  /** Rolls back what was prepared; a participant whose prepare failed was rolled back by its server. */
  private async rollBack(
    gid: string,
    participants: readonly Participant[],
    prepared: PromiseSettledResult<void>[],
  ): Promise<void> {
    // A rollback that fails leaves a prepared transaction without a decision: recovery aborts it.
    await Promise.allSettled(
      participants.map((p, i) => (prepared[i]!.status === 'fulfilled' ? p.rollbackPrepared(gid) : null)),
    );
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
