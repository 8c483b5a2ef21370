// Compensate mode (crossShard: compensate), one coordinator for both protocols: a transaction
// that wrote on several shards commits each shard on its own, all at once, no PREPARE.
// When a shard fails after others committed, the committed ones are undone by the compensating
// statements the application declared (src/transactions/compensation-template.ts), and an event
// says so once (the "apology" the application shows its user). docs/transactions.md.
//
// Durability, so that nothing is lost or applied twice across a crash:
//   1. Before the first COMMIT, a record (id, 'committing', every participant's compensating
//      statements) is written to the log on the default shard's primary.
//   2. Each participant's COMMIT carries a commit mark (id, 'commit') inserted in its own
//      transaction: the mark exists exactly when that shard committed.
//   3. All committed: the record is deleted (the client does not wait). A shard failed while
//      others committed: the record turns
//      'compensating' with the shards to undo; each compensation runs in one transaction with a
//      mark (id, 'compensate') on that shard, so it applies at most once (the mark's key), and a
//      rerun after a crash finds the mark and applies nothing.
//   4. Recovery (every transactions.recoveryIntervalMs) takes a 'committing' record older than
//      recoveryMinAgeMs that no coordinator of this process holds (its coordinator died, or lost a
//      shard mid-COMMIT), reads the commit marks and decides: all committed, none, or compensate
//      the ones that did; it runs 'compensating' records until each shard is done. Where a mark
//      is missing it writes a fence in its place first: a COMMIT of another process still on its
//      way then fails on the mark's key, so what recovery read stays true.
//   5. A finished record's event is claimed in the log (announced_at set once) before it is sent.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ShardgateError } from '../errors.js';
import { commitAll } from './commit-all.js';
import { PeriodicPass } from './periodic-pass.js';
import type { TwoPhaseStats } from './stats.js';
import { DefiniteFailure } from './two-phase.js';

/** One shard's part of a compensate-mode transaction, as its protocol drives it. */
export interface CompensatingParticipant {
  readonly server: string;
  readonly shard: string;
  /** The statements that undo this shard's writes (in the order they are to run). */
  readonly compensations: readonly string[];
  /**
   * Inserts the commit mark of `id` and commits, in one round trip. Throws DefiniteFailure when
   * the server answered that it did not commit; any other error leaves the outcome unknown.
   */
  commitWithMark(id: string): Promise<void>;
  rollback(): Promise<void>;
}

export type CompensationState =
  | 'committing'
  | 'compensating'
  | 'compensated'
  | 'failed'
  | 'committed'
  | 'aborted'
  /** An operator repaired it by hand (`shardgate txn resolve <id> --repaired`): no more retries. */
  | 'resolved';

export interface CompensationRecord {
  id: string;
  state: CompensationState;
  participants: Array<{ server: string; shard: string; statements: string[] }>;
  /** Shards whose committed writes are (to be) undone. */
  compensate: string[];
  /** Why: the failed shard and its error; a failed compensation's error. */
  detail: string;
  ageSeconds: number;
  announced: boolean;
  /** Runs of the compensation that could not finish (a shard down, a transient error). */
  attempts: number;
  /** The error of the last such run. */
  lastError: string;
  /** Seconds until recovery runs it again (0: at its next pass). */
  retryInSeconds: number;
}

/** The durable side: the record table on the default shard's primary, the marks on every shard. */
export interface CompensationStore {
  /** Creates the tables (the log's, and the marks' on `servers`) once per process. */
  ready(servers: readonly string[]): Promise<void>;
  open(id: string, participants: CompensationRecord['participants']): Promise<void>;
  forget(id: string): Promise<void>;
  /**
   * Sets the state; with `from`, only while the record is in one of those states (false when it
   * was not: another process or an operator moved it on meanwhile).
   */
  setState(
    id: string,
    state: CompensationState,
    detail: string,
    compensate?: readonly string[],
    from?: readonly CompensationState[],
  ): Promise<boolean>;
  /** Counts a run that could not finish and sets when the next one is due ('compensating' only). */
  deferRetry(id: string, error: string, delayMs: number): Promise<void>;
  /**
   * Whether `server` committed its part of `id` (its commit mark is there); when not, a fence
   * mark takes the mark's key so that a COMMIT still on its way fails: the answer stays true.
   */
  fenceCommit(server: string, id: string): Promise<boolean>;
  /**
   * Runs `statements` and the compensate mark of `id` in one transaction on `server`:
   * 'already' when the mark was there (applied before). Throws DefiniteFailure when the
   * server refused a statement (nothing applied); any other error: try again later.
   */
  apply(server: string, id: string, statements: readonly string[]): Promise<'applied' | 'already'>;
  /** Sets announced_at when unset: true for the one caller that may emit the event. */
  claimAnnouncement(id: string): Promise<boolean>;
  get(id: string): Promise<CompensationRecord | null>;
  /** Records, newest first (at most `limit`). */
  list(limit: number): Promise<CompensationRecord[]>;
  /** Every record recovery still has work on (open, or finished and not yet announced). */
  unfinished(): Promise<CompensationRecord[]>;
  /**
   * Deletes marks older than `marksOlderThanSeconds` that no open record needs, and announced
   * finished records older than `recordsOlderThanSeconds` (at most once per ten minutes).
   */
  sweep(
    marksOlderThanSeconds: number,
    recordsOlderThanSeconds: number,
    open: readonly string[],
  ): Promise<void>;
}

export type CompensateOutcome =
  | { kind: 'committed'; id: string }
  /** Nothing committed: every shard rolled back. */
  | { kind: 'aborted'; id: string; detail: string }
  /** Some committed, then undone: 'compensated'; or the undoing failed or is still to run. */
  | { kind: 'compensated' | 'failed' | 'pending'; id: string; detail: string; committed: string[] }
  | { kind: 'unknown'; id: string; detail: string };

/** Tells the application once that a transaction was undone (log line, webhook). */
export type Announce = (record: CompensationRecord) => void;

/** Ids of compensate-mode transactions: `sgcomp_<process>_<n>`. */
export const COMPENSATION_ID_PREFIX = 'sgcomp_';

/** Marks stay this long after their transaction (the log no longer needs them). */
const MARK_RETENTION_SECONDS = 3600;
/** Finished, announced records stay this long in the log (and /api/transactions). */
const RECORD_RETENTION_SECONDS = 30 * 24 * 3600;
/** A compensation that could not run is retried after 1 s, 2 s, 4 s ... at most every 5 minutes. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 5 * 60_000;

/** The wait before the next run of a compensation that could not finish `attempts` times before. */
export function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(attempts, 20));
}

export class CompensatingCoordinator {
  /** Transactions this process is committing or compensating: recovery leaves them alone. */
  readonly inFlight = new Set<string>();
  private readonly instance = randomBytes(4).toString('hex');
  private seq = 0;

  constructor(
    readonly store: CompensationStore,
    readonly stats: TwoPhaseStats,
    readonly announce: Announce,
    private readonly logger: Logger,
  ) {}

  /**
   * COMMIT in compensate mode as a session runs it: the log and marks made ready, then commit();
   * when the log cannot record the transaction nothing was committed yet, so `rollBackAll`.
   */
  async commitSession(
    participants: readonly CompensatingParticipant[],
    rollBackAll: () => Promise<unknown>,
  ): Promise<CompensateOutcome> {
    try {
      await this.store.ready(participants.map((p) => p.server));
      return await this.commit(participants);
    } catch (err) {
      await rollBackAll().catch(() => undefined);
      return { kind: 'aborted', id: '', detail: `the compensation log is unavailable: ${message(err)}` };
    }
  }

  /** Commits `participants`, each on its own and all at once; see the file's head for the rest. */
  async commit(participants: readonly CompensatingParticipant[]): Promise<CompensateOutcome> {
    const id = `${COMPENSATION_ID_PREFIX}${this.instance}_${++this.seq}`;
    this.inFlight.add(id);
    let forgetting = false;
    try {
      await this.store.open(
        id,
        participants.map((p) => ({ server: p.server, shard: p.shard, statements: [...p.compensations] })),
      );
      const results = await commitAll(
        participants,
        (p) => p.commitWithMark(id),
        'compensate-after-first-commit',
      );
      const committed = participants.filter((_, i) => results[i]!.status === 'fulfilled');
      const failures = participants.flatMap((p, i) => {
        const r = results[i]!;
        return r.status === 'rejected' ? [{ p, err: r.reason as unknown }] : [];
      });
      if (failures.length === 0) {
        // The client need not wait for the deletion; a record left behind (the log unreachable
        // now) is found all-committed by recovery.
        forgetting = true;
        void this.store
          .forget(id)
          .catch(() => undefined)
          .finally(() => this.inFlight.delete(id));
        return { kind: 'committed', id };
      }
      const detail = failures.map((f) => `${f.p.server}: ${message(f.err)}`).join('; ');
      if (failures.some((f) => !(f.err instanceof DefiniteFailure))) {
        // Committed or not, only its mark will tell: recovery reads (and fences) it once the server answers.
        await this.store.setState(id, 'committing', detail).catch(() => undefined);
        this.stats.compensationUnknown++;
        return { kind: 'unknown', id, detail };
      }
      if (committed.length === 0) {
        await this.store.forget(id).catch(() => undefined);
        return { kind: 'aborted', id, detail };
      }
      return await this.compensate(id, committed, detail);
    } finally {
      if (!forgetting) this.inFlight.delete(id);
    }
  }

  private async compensate(
    id: string,
    committed: readonly CompensatingParticipant[],
    detail: string,
  ): Promise<CompensateOutcome> {
    const servers = committed.map((c) => c.server);
    this.logger.warn(
      { id, failed: detail, compensate: servers },
      'cross-shard commit failed after a shard committed; compensating',
    );
    // Not recorded (the log is down): recovery finds the record 'committing' and the marks, and
    // compensates the same shards; the marks keep it from applying twice.
    await this.store.setState(id, 'compensating', detail, servers).catch(() => undefined);
    const done = await this.runCompensations(
      id,
      committed.map((c) => ({ server: c.server, statements: c.compensations })),
      detail,
    );
    return { kind: done, id, detail, committed: servers };
  }

  /**
   * Applies each shard's compensation (once, by its mark), then records the outcome and
   * announces it. 'pending' when a shard could not be reached (or answered a transient error):
   * the record says when to try again, and whichever process runs recovery then (this one, or
   * one started after a restart) retries it from the record; `attempts` counts the runs before.
   */
  async runCompensations(
    id: string,
    work: ReadonlyArray<{ server: string; statements: readonly string[] }>,
    detail: string,
    attempts = 0,
  ): Promise<'compensated' | 'failed' | 'pending'> {
    const failures: string[] = [];
    const transient: string[] = [];
    for (const w of work) {
      try {
        const applied = await this.store.apply(w.server, id, w.statements);
        this.logger.info({ id, server: w.server, applied }, 'compensation on a shard');
      } catch (err) {
        if (err instanceof DefiniteFailure) failures.push(`${w.server}: ${message(err)}`);
        else transient.push(`${w.server}: ${message(err)}`);
        this.logger.warn({ id, server: w.server, err: message(err) }, 'compensation did not run');
      }
    }
    if (transient.length > 0) {
      const delayMs = retryDelayMs(attempts);
      // Not recorded (the log is down too): the record stays due, the next pass retries at once.
      await this.store.deferRetry(id, transient.join('; '), delayMs).catch(() => undefined);
      this.logger.warn({ id, attempts: attempts + 1, retryInMs: delayMs }, 'compensation to be retried');
      return 'pending';
    }
    const state = failures.length > 0 ? 'failed' : 'compensated';
    try {
      // Only while unfinished: an operator's --repaired that came meanwhile stays the outcome.
      await this.finish(
        id,
        state,
        failures.length > 0 ? `${detail}; compensation failed on ${failures.join('; ')}` : detail,
        ['committing', 'compensating'],
      );
    } catch (err) {
      // Applied, but the log did not take the outcome: recovery finds the record 'compensating',
      // the marks make its rerun apply nothing, and it records and announces the outcome.
      this.logger.warn({ id, err: message(err) }, 'compensation outcome not recorded yet');
      return 'pending';
    }
    return state;
  }

  /**
   * Records the final state (with `from`, only from those states: false when the record had moved
   * on) and, when this caller claims it, announces it.
   */
  async finish(
    id: string,
    state: CompensationState,
    detail: string,
    from?: readonly CompensationState[],
  ): Promise<boolean> {
    const changed = await this.store.setState(id, state, detail, undefined, from);
    if (from && !changed) return false;
    this.stats.countCompensation(state);
    if (!(await this.store.claimAnnouncement(id))) return true;
    const record = await this.store.get(id);
    if (record) this.announce(record);
    return true;
  }
}

/** What the client hears of an outcome: null for committed, else the coded error (both protocols). */
export function compensateOutcomeError(outcome: CompensateOutcome): ShardgateError | null {
  switch (outcome.kind) {
    case 'committed':
      return null;
    case 'aborted':
      return new ShardgateError('TWO_PHASE_ABORTED', { detail: outcome.detail });
    case 'compensated':
      return new ShardgateError('COMPENSATED', {
        id: outcome.id,
        detail: outcome.detail,
        committed: outcome.committed.join(', '),
      });
    case 'failed':
    case 'pending':
      return new ShardgateError('COMPENSATION_INCOMPLETE', {
        id: outcome.id,
        detail: outcome.detail,
        committed: outcome.committed.join(', '),
        state: outcome.kind === 'failed' ? 'failed' : 'still to run (recovery retries it)',
      });
    case 'unknown':
      return new ShardgateError('COMPENSATE_OUTCOME_UNKNOWN', { id: outcome.id, detail: outcome.detail });
  }
}

/** Recovery of compensate-mode transactions left unfinished (see the file's head, step 4). */
export class CompensationRecovery extends PeriodicPass<void> {
  constructor(
    private readonly coordinator: CompensatingCoordinator,
    private readonly options: { intervalMs: number; minAgeMs: number },
    private readonly logger: Logger,
  ) {
    super(options.intervalMs, logger, 'compensation recovery failed');
  }

  protected async runPass(): Promise<void> {
    const { store, inFlight } = this.coordinator;
    // Only what still needs work, however many finished records are newer (never a newest-N cut).
    const records = await store.unfinished();
    const minAge = this.options.minAgeMs / 1000;
    for (const r of records) {
      if (inFlight.has(r.id)) continue;
      try {
        if (r.state === 'committing') {
          if (r.ageSeconds >= minAge) await this.decide(r);
        } else if (r.state === 'compensating') {
          // Its backoff: a compensation that could not run waits until its next try is due.
          if (r.retryInSeconds <= 0) await this.resume(r);
        } else if (!r.announced) await this.announceLate(r);
      } catch (err) {
        this.logger.warn({ id: r.id, err: message(err) }, 'compensate-mode transaction not finished');
      }
    }
    const open = records
      .filter((r) => r.state === 'committing' || r.state === 'compensating')
      .map((r) => r.id);
    await store.sweep(MARK_RETENTION_SECONDS, RECORD_RETENTION_SECONDS, open);
  }

  /** Its coordinator is gone: the commit marks say which shards committed. */
  private async decide(r: CompensationRecord): Promise<void> {
    const { store } = this.coordinator;
    const marks = await Promise.all(r.participants.map((p) => store.fenceCommit(p.server, r.id)));
    const committed = r.participants.filter((_, i) => marks[i]);
    const detail = r.detail || 'shardgate stopped during the commit';
    if (committed.length === r.participants.length) {
      await this.coordinator.finish(r.id, 'committed', `${detail}; every shard had committed`, [
        'committing',
      ]);
      return;
    }
    if (committed.length === 0) {
      await this.coordinator.finish(r.id, 'aborted', `${detail}; no shard had committed`, ['committing']);
      return;
    }
    const servers = committed.map((p) => p.server);
    // Only from 'committing': another pass (or an operator) may have moved it on since the read.
    if (!(await store.setState(r.id, 'compensating', detail, servers, ['committing']))) return;
    await this.resume({ ...r, state: 'compensating', compensate: servers, detail });
  }

  private async resume(r: CompensationRecord): Promise<void> {
    const work = r.participants
      .filter((p) => r.compensate.includes(p.server))
      .map((p) => ({ server: p.server, statements: p.statements }));
    await this.coordinator.runCompensations(r.id, work, r.detail, r.attempts);
  }

  /**
   * An operator's `shardgate txn resolve <id>`: 'auto' does now what recovery would do later
   * (decide a 'committing' one from its marks, run a 'compensating' one whatever its backoff);
   * 'repaired' says the committed part was repaired by hand: the record ends 'resolved', its
   * retries stop, and it is announced unless its outcome was announced already ('failed').
   */
  async resolve(id: string, action: 'auto' | 'repaired'): Promise<CompensationRecord> {
    const { store, inFlight } = this.coordinator;
    const r = await store.get(id);
    if (!r) throw new Error(`no compensate-mode transaction ${id} in the log`);
    if (inFlight.has(id))
      throw new Error(`${id} is being committed or compensated by this shardgate now: try again in a moment`);
    if (action === 'repaired') {
      if (r.state !== 'compensating' && r.state !== 'failed')
        throw new Error(`${id} is ${r.state}: nothing is left to repair`);
      const ended = await this.coordinator.finish(
        id,
        'resolved',
        `${r.detail}; repaired by an operator${r.lastError ? ` (last error: ${r.lastError})` : ''}`,
        ['compensating', 'failed'],
      );
      // A retry (here or in another shardgate) finished it between the read and the update.
      if (!ended) {
        const now = await store.get(id);
        throw new Error(`${id} became ${now?.state ?? 'unknown'} meanwhile: nothing is left to repair`);
      }
    } else if (r.state === 'committing') {
      await this.decide(r);
    } else if (r.state === 'compensating') {
      await this.resume(r);
    } else {
      throw new Error(
        `${id} is ${r.state} already${r.state === 'failed' ? ': repair it by hand, then resolve it with --repaired' : ''}`,
      );
    }
    return (await store.get(id)) ?? r;
  }

  /** Finished, but its process stopped before the event went out. */
  private async announceLate(r: CompensationRecord): Promise<void> {
    if (await this.coordinator.store.claimAnnouncement(r.id)) this.coordinator.announce(r);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
