// The cutover block (docs/cutover.md, "The cutover block"): holds new writes for one shard in a
// FIFO, drains in-flight write transactions within a grace period (then aborts them with 40001),
// waits for the targets, switches, and releases the held statements, all within a hard deadline.
// Sessions of every front end take part through GateParticipant; the gate knows no protocol.

import { ShardgateError } from '../errors.js';
import { requireLsn } from './lsn.js';

export type HoldOutcome = 'switched' | 'aborted';

/** What the gate needs from a client session. */
export interface GateParticipant {
  /** Shard of the session's open transaction, or null outside a transaction. */
  openTransactionShard(): string | null;
  /**
   * Abort the session's work on any of `shards` with `error` (SQLSTATE 40001): an idle
   * transaction at once, a running statement by cancelling it (its transaction ends when it
   * does). The session must call `releaseWriter` once nothing of it can commit there any more.
   */
  abortForCutover(shards: readonly string[], error: ShardgateError): void;
}

export interface CutoverSteps {
  /** Resolves once the targets hold every change the source committed (no write can commit now). */
  catchUp(remainingMs: number): Promise<void>;
  /** The point of no return: swap the topology. Must not throw after it has changed anything. */
  switchTopology(): Promise<void> | void;
}

export interface CutoverOptions {
  migrationId: string;
  graceMs: number;
  /** Infinity for a member holding for another instance's cutover: the controller decides when it ends. */
  deadlineMs: number;
  /**
   * Resolves (with the reason) when the block must end without a switch, whatever step it is in:
   * a member's hold once the controller aborted, so it does not keep holding, or kill its in-flight
   * transactions, for a cutover that will not happen.
   */
  abandoned?: Promise<string>;
}

/** The migration history's line for a block that switched. */
export function switchedNote(report: CutoverReport): string {
  return `switched in ${Math.round(report.blockMs)} ms (${report.heldStatements} statements held, max ${Math.round(report.maxHeldMs)} ms)`;
}

export interface CutoverReport {
  outcome: HoldOutcome;
  /** From hold to release. */
  blockMs: number;
  /** Why the block aborted, when it did. */
  reason: string | null;
  heldStatements: number;
  maxHeldMs: number;
  p99HeldMs: number;
  /** Write transactions aborted with 40001 because they outlived the grace period. */
  abortedTransactions: number;
  /** Phase durations inside the block. */
  drainMs: number;
  catchUpMs: number;
  /** When the hold began (epoch ms; absent in older state files): lines the block up with client timings. */
  startedAt?: number;
  /** A block fenced across instances: members that had to acknowledge, and when the last ack came (ms after the hold was published). */
  fence?: { members: string[]; acksMs: number | null };
}

interface Hold {
  shards: string[];
  released: Promise<HoldOutcome>;
  release: (outcome: HoldOutcome) => void;
  heldDelays: number[];
  /** Resolves when the last writer of the shard leaves. */
  onDrained: (() => void) | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class CutoverGate {
  /** read_your_writes positions of shards that were switched away. */
  readonly translations = new PositionTranslations();
  private readonly holds = new Map<string, Hold>();
  /** Sessions holding a write admission (a write unit or a write transaction) per shard. */
  private readonly writers = new Map<string, Set<GateParticipant>>();
  private readonly participants = new Set<GateParticipant>();
  /** Every write waits while set: this instance lost its etcd lease (docs/control-plane.md, F3). */
  private fencedUntil: Promise<void> | null = null;

  register(p: GateParticipant): void {
    this.participants.add(p);
  }

  unregister(p: GateParticipant): void {
    this.participants.delete(p);
    this.releaseWriter(p);
  }

  /** Cheap check for the hot path. */
  get blocking(): boolean {
    return this.holds.size > 0 || this.fencedUntil !== null;
  }

  /**
   * Holds every new write (any shard) until `until` resolves; writes in flight get `graceMs`, then
   * are aborted with 40001, as in a block. Used while this instance cannot prove it still has its
   * control-plane lease: it may have missed a switch, so every range may be in flux for it.
   */
  fence(until: Promise<void>, graceMs: number): void {
    const fenced: Promise<void> = until.then(
      () => undefined,
      () => undefined,
    );
    this.fencedUntil = fenced;
    void fenced.then(() => {
      if (this.fencedUntil === fenced) this.fencedUntil = null;
    });
    const error = fenceError();
    setTimeout(() => {
      if (this.fencedUntil !== fenced) return;
      for (const [shard, set] of this.writers) for (const p of set) p.abortForCutover([shard], error);
    }, graceMs).unref();
  }

  isHeld(shard: string): boolean {
    return this.holds.size > 0 && this.holds.has(shard);
  }

  /**
   * Admits a session's write on `shard`. A session already writing there, or inside a transaction
   * on it (in flight), passes; others wait while the shard is held and get the outcome: the caller
   * must plan the statement again (the topology may have changed) before sending it. While fenced,
   * only writes already admitted pass (they end at the fence's grace).
   */
  async admitWriter(p: GateParticipant, shard: string): Promise<HoldOutcome | null> {
    let set = this.writers.get(shard);
    if (set?.has(p)) return null;
    const fenced = this.fencedUntil;
    if (fenced) {
      // A transaction's shard is fixed: it cannot wait for the fence and be planned again, and this
      // instance may have missed a switch of that shard, so its new write is refused (40001).
      const open = p.openTransactionShard();
      if (open !== null) {
        p.abortForCutover([open], fenceError());
        return 'aborted';
      }
      await fenced;
      return 'aborted';
    }
    const hold = this.holds.get(shard);
    if (hold && p.openTransactionShard() !== shard) {
      const started = performance.now();
      const outcome = await hold.released;
      hold.heldDelays.push(performance.now() - started);
      return outcome;
    }
    if (!set) {
      set = new Set();
      this.writers.set(shard, set);
    }
    set.add(p);
    return null;
  }

  /** The session's write transaction (or autocommit write) ended: it no longer blocks a drain. */
  releaseWriter(p: GateParticipant): void {
    for (const [shard, set] of this.writers) {
      if (!set.delete(p)) continue;
      const hold = set.size === 0 ? this.holds.get(shard) : undefined;
      if (hold && hold.shards.every((s) => this.writerCount(s) === 0)) hold.onDrained?.();
    }
  }

  writerCount(shard: string): number {
    return this.writers.get(shard)?.size ?? 0;
  }

  /**
   * Runs one cutover block on `shards` (one for a split, both halves for a rollback). Never
   * throws: failures abort and are reported.
   */
  async block(shards: string[], options: CutoverOptions, steps: CutoverSteps): Promise<CutoverReport> {
    for (const shard of shards) {
      if (this.holds.has(shard))
        throw new ShardgateError('INTERNAL', { detail: `shard ${shard} already held` });
    }
    const started = performance.now();
    const startedAt = Date.now();
    const elapsed = () => performance.now() - started;
    let release!: (o: HoldOutcome) => void;
    const released = new Promise<HoldOutcome>((r) => {
      release = r;
    });
    const hold: Hold = { shards, released, release, heldDelays: [], onDrained: null };
    for (const shard of shards) this.holds.set(shard, hold);
    let aborted = 0;
    let drainMs = 0;
    let catchUpMs = 0;
    let outcome: HoldOutcome = 'aborted';
    let reason: string | null = null;
    const writers = () => shards.flatMap((shard) => [...(this.writers.get(shard) ?? [])]);
    const { abandoned } = options;
    const unlessAbandoned = <T>(p: Promise<T>): Promise<T> =>
      abandoned ? Promise.race([p, abandoned.then((why) => Promise.reject(new Error(why)))]) : p;
    try {
      // 2. Drain in-flight writers; past the grace period, abort them (40001) and keep waiting.
      const error = new ShardgateError('CUTOVER_RETRY', {
        shard: shards.join(', '),
        id: options.migrationId,
      });
      if (!(await unlessAbandoned(this.waitDrained(hold, options.graceMs)))) {
        for (const p of new Set(writers())) {
          aborted++;
          p.abortForCutover(shards, error);
        }
        if (!(await unlessAbandoned(this.waitDrained(hold, options.deadlineMs - elapsed())))) {
          throw new Error(`in-flight transactions did not end within the ${options.deadlineMs} ms deadline`);
        }
      }
      drainMs = elapsed();
      // 3. Every write on the shards has ended and new ones wait: the source's position is final.
      const remaining = options.deadlineMs - elapsed();
      if (remaining <= 0) throw new Error('deadline passed while draining');
      await withTimeout(
        unlessAbandoned(steps.catchUp(remaining)),
        remaining,
        'the targets did not catch up before the deadline',
      );
      catchUpMs = elapsed() - drainMs;
      if (elapsed() > options.deadlineMs) throw new Error('deadline passed while catching up');
      // 4. The point of no return.
      await steps.switchTopology();
      outcome = 'switched';
      aborted += this.abortTransactionsOn(shards, error);
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    } finally {
      for (const shard of shards) this.holds.delete(shard);
      // 5. Release: held statements are planned again against whichever topology is current.
      hold.release(outcome);
    }
    await Promise.resolve();
    const delays = hold.heldDelays.sort((a, b) => a - b);
    return {
      outcome,
      blockMs: elapsed(),
      reason,
      heldStatements: delays.length,
      maxHeldMs: delays.length ? delays[delays.length - 1]! : 0,
      p99HeldMs: delays.length ? delays[Math.min(delays.length - 1, Math.floor(delays.length * 0.99))]! : 0,
      abortedTransactions: aborted,
      drainMs,
      catchUpMs,
      startedAt,
    };
  }

  /**
   * After a switch of `shards`: transactions still open there (read-only so far) must not write
   * there now. Returns how many were aborted.
   */
  abortTransactionsOn(shards: readonly string[], error: ShardgateError): number {
    let aborted = 0;
    for (const p of this.participants) {
      const open = p.openTransactionShard();
      if (open !== null && shards.includes(open)) {
        aborted++;
        p.abortForCutover([open], error);
      }
    }
    return aborted;
  }

  private drained(hold: Hold): boolean {
    return hold.shards.every((s) => this.writerCount(s) === 0);
  }

  private async waitDrained(hold: Hold, withinMs: number): Promise<boolean> {
    if (this.drained(hold)) return true;
    if (withinMs <= 0) return false;
    if (!Number.isFinite(withinMs)) {
      await new Promise<void>((resolve) => {
        hold.onDrained = resolve;
      });
      hold.onDrained = null;
      return true;
    }
    const drained = new Promise<boolean>((resolve) => {
      hold.onDrained = () => resolve(true);
    });
    const result = await Promise.race([drained, sleep(withinMs).then(() => false)]);
    hold.onDrained = null;
    return result || this.drained(hold);
  }
}

function fenceError(): ShardgateError {
  return new ShardgateError('CUTOVER_RETRY', { shard: 'every shard', id: 'control-plane fence' });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  if (!Number.isFinite(ms)) return p;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * read_your_writes across a switch: a session's last write position on a shard that no longer
 * exists is replaced by positions on the shards that took its keys (their current LSN at the
 * switch, which covers everything copied). Sessions translate lazily, on their next statement.
 */
export class PositionTranslations {
  version = 0;
  private readonly byShard = new Map<string, ReadonlyMap<string, string>>();
  private readonly alongside = new Map<string, ReadonlyMap<string, string>>();

  record(oldShard: string, positions: ReadonlyMap<string, string>): void {
    // A shard that comes back (rollback) is no longer translated away.
    for (const shard of positions.keys()) this.byShard.delete(shard);
    this.byShard.set(oldShard, positions);
    this.version++;
  }

  /**
   * A table moved from `shard` to another shard at `positions`: a session that wrote on `shard`
   * may have written the moved table, so it also waits for those positions (a later write on the
   * shard makes the wait stronger than needed, never weaker).
   */
  recordAlongside(shard: string, positions: ReadonlyMap<string, string>): void {
    const merged = new Map(this.alongside.get(shard) ?? []);
    for (const [s, p] of positions) merged.set(s, p);
    this.alongside.set(shard, merged);
    this.version++;
  }

  /** Rewrites `positions` in place (a chain of splits resolves in a few passes). */
  apply(positions: Map<string, string>): void {
    this.translate(positions);
    for (const [shard, extra] of this.alongside) {
      if (!positions.has(shard)) continue;
      for (const [s, p] of extra) {
        const held = positions.get(s);
        if (held === undefined || lsnBefore(held, p)) positions.set(s, p);
      }
    }
  }

  private translate(positions: Map<string, string>): void {
    for (let pass = 0; pass < 4; pass++) {
      let changed = false;
      for (const shard of [...positions.keys()]) {
        const next = this.byShard.get(shard);
        if (!next) continue;
        positions.delete(shard);
        for (const [newShard, pos] of next) positions.set(newShard, pos);
        changed = true;
      }
      if (!changed) return;
    }
  }
}

/** a < b as LSNs; a position that does not parse is replaced (the switch's is exact). */
function lsnBefore(a: string, b: string): boolean {
  try {
    return requireLsn(a) < requireLsn(b);
  } catch {
    return true;
  }
}
