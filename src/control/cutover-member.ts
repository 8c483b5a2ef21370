// A member's side of a cutover run by another instance (docs/control-plane.md, "Fenced cutover"):
// it holds writes for the shards in flux with this process's own cutover gate (the block of
// docs/cutover.md, minus the catch-up and the deadline, which are the controller's), acknowledges
// once nothing of its own is in flight there, and applies the switch the controller published
// before releasing. Which switches this process already routes by is kept per migration, so a
// switch seen twice (its own, the watch, a catch-up read, a restart over the state files) applies once.
import type { RuntimeTopology } from '../backend/pg-topology.js';
import { ShardgateError } from '../errors.js';
import type { CutoverGate } from '../migration/cutover-gate.js';
import { planSources, protocolOf } from '../migration/plan.js';
import { configAfterSwitch, configBeforeSwitch } from '../migration/switch-config.js';
import type { CutoverMember, HoldDecision, HoldRelease, SwitchEntry } from './control-plane.js';

/** A member's own account of one hold it kept for another instance's cutover. */
export interface MemberHoldReport {
  migrationId: string;
  outcome: 'switched' | 'aborted';
  /** What ended the hold (the member's own deadline, or the decision heard first). */
  releasedBy: HoldRelease;
  /** The bound the hold was published with (migration.fencedCutoverDeadlineMs of the controller). */
  deadlineMs: number;
  /** From this member's hold to its release. */
  heldMs: number;
  heldStatements: number;
  abortedTransactions: number;
}

/** How many hold reports a member keeps (newest last). */
const REPORTS_KEPT = 32;

export interface MemberLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class GateCutoverMember implements CutoverMember {
  /** Migration id -> whether this process's topology has it switched. */
  private readonly switched = new Map<string, boolean>();
  /** The last holds kept for other instances, newest last. */
  readonly reports: MemberHoldReport[] = [];

  constructor(
    private readonly topology: RuntimeTopology,
    private readonly gate: CutoverGate,
    private readonly log: MemberLog,
    /** Migrations the topology was built switched (configWithMigrations over the state files). */
    switchedAtStart: Iterable<string>,
    /** Grace of in-flight writes when the lease goes stale. */
    private readonly fenceGraceMs: number,
  ) {
    for (const id of switchedAtStart) this.switched.set(id, true);
  }

  async hold(
    shards: string[],
    o: { migrationId: string; graceMs: number; deadlineMs: number },
    drained: () => Promise<void>,
    decided: Promise<HoldDecision>,
  ): Promise<void> {
    let releasedBy: HoldRelease = 'abort';
    const report = await this.gate.block(
      shards,
      {
        migrationId: o.migrationId,
        graceMs: o.graceMs,
        deadlineMs: Number.POSITIVE_INFINITY,
        // An abort releases this member at once, even while it still drains (F5): no switch
        // can follow without its ack.
        abandoned: decided.then((d) => {
          releasedBy = d.by;
          return d.entry ? new Promise<string>(() => undefined) : `the hold was aborted (${d.by})`;
        }),
      },
      {
        catchUp: async () => {
          await drained();
          const { entry, by } = await decided;
          releasedBy = by;
          if (!entry) throw new Error(`the hold was aborted (${by})`);
          this.pending = entry;
        },
        switchTopology: () => {
          const entry = this.pending;
          this.pending = null;
          // Inside the hold: the gate's block aborts the transactions left open after the switch.
          if (entry) this.switchTo(entry);
        },
      },
    );
    const kept: MemberHoldReport = {
      migrationId: o.migrationId,
      outcome: report.outcome,
      releasedBy,
      deadlineMs: o.deadlineMs,
      heldMs: Math.round(report.blockMs),
      heldStatements: report.heldStatements,
      abortedTransactions: report.abortedTransactions,
    };
    this.reports.push(kept);
    if (this.reports.length > REPORTS_KEPT) this.reports.shift();
    this.log.info(kept, 'cutover hold for another instance released');
  }

  private pending: SwitchEntry | null = null;

  /** True when `entry` changes what this process routes by (false when already in force). */
  wouldApply(entry: Pick<SwitchEntry, 'migrationId' | 'kind'>): boolean {
    return (this.switched.get(entry.migrationId) ?? false) !== (entry.kind === 'switch');
  }

  /**
   * Applies a switch seen outside a hold (the watch, a catch-up read): transactions open on the
   * shards it switched away are aborted (40001), as the block does after its own switch.
   */
  apply(entry: SwitchEntry): void {
    const shards = this.switchTo(entry);
    if (shards.length === 0) return;
    const error = new ShardgateError('CUTOVER_RETRY', { shard: shards.join(', '), id: entry.migrationId });
    this.gate.abortTransactionsOn(shards, error);
  }

  /** Rebuilds the topology for `entry`; returns the shards switched away (none when already in force). */
  private switchTo(entry: SwitchEntry): string[] {
    if (!this.wouldApply(entry)) return [];
    this.markApplied(entry);
    const plan = entry.plan;
    const config = this.topology.currentConfig;
    const positions = new Map(Object.entries(entry.positions));
    // The shards the controller held: the sources for a switch, the targets for a rollback.
    const away =
      entry.kind === 'switch' ? planSources(plan).map((s) => s.shard) : plan.targets.map((t) => t.shard);
    this.topology.rebuild(
      entry.kind === 'switch' ? configAfterSwitch(config, plan) : configBeforeSwitch(config, plan),
    );
    // As the controller does (manager.ts): the shards that took the keys (targets for a switch,
    // sources for a rollback) serve from a replica only once it has replayed the switch's position.
    for (const [shard, lsn] of positions) this.topology.fenceReplicas(shard, lsn, protocolOf(plan));
    // Translations rewrite PostgreSQL sessions' positions: a MySQL switch's GTIDs are not theirs.
    if (plan.protocol !== 'mysql') for (const shard of away) this.translate(plan, shard, positions);
    this.log.info(
      { migration: entry.migrationId, kind: entry.kind, clusterVersion: entry.version },
      'shared topology switch applied',
    );
    return away;
  }

  /** The controller applied `entry` itself: the watch's copy must not apply it again. */
  markApplied(entry: SwitchEntry): void {
    this.switched.set(entry.migrationId, entry.kind === 'switch');
  }

  fenceAll(until: Promise<void>, maxGraceMs: number): void {
    this.gate.fence(until, Math.min(this.fenceGraceMs, maxGraceMs));
  }

  private translate(plan: SwitchEntry['plan'], shard: string, positions: Map<string, string>): void {
    if (plan.operation === 'move') this.gate.translations.recordAlongside(shard, positions);
    else this.gate.translations.record(shard, positions);
  }
}
