// A member's side of a cutover run by another instance (docs/control-plane.md, "Fenced cutover"):
// it holds writes for the shards in flux with this process's own cutover gate (the block of
// docs/cutover.md, minus the catch-up and the deadline, which are the controller's), acknowledges
// once nothing of its own is in flight there, and applies the switch the controller published
// before releasing. Which switches this process already routes by is kept per migration, so a
// switch seen twice (its own, the watch, a catch-up read, a restart over the state files) applies once.
import type { RuntimeTopology } from '../backend/pg-topology.js';
import type { CutoverGate } from '../migration/cutover-gate.js';
import { configBeforeSplit } from '../migration/manager.js';
import { planSources } from '../migration/plan.js';
import { configAfterSwitch } from '../migration/plan-merge.js';
import type { CutoverMember, SwitchEntry } from './control-plane.js';

export interface MemberLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class GateCutoverMember implements CutoverMember {
  /** Migration id -> whether this process's topology has it switched. */
  private readonly switched = new Map<string, boolean>();

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
    o: { migrationId: string; graceMs: number },
    drained: () => Promise<void>,
    decided: Promise<SwitchEntry | null>,
  ): Promise<void> {
    const report = await this.gate.block(
      shards,
      { migrationId: o.migrationId, graceMs: o.graceMs, deadlineMs: Number.POSITIVE_INFINITY },
      {
        catchUp: async () => {
          await drained();
          const entry = await decided;
          if (!entry) throw new Error('the controller aborted the cutover');
          this.pending = entry;
        },
        switchTopology: () => {
          const entry = this.pending;
          this.pending = null;
          if (entry) this.apply(entry);
        },
      },
    );
    this.log.info(
      {
        migration: o.migrationId,
        outcome: report.outcome,
        blockMs: Math.round(report.blockMs),
        heldStatements: report.heldStatements,
      },
      'cutover hold for another instance released',
    );
  }

  private pending: SwitchEntry | null = null;

  /** True when `entry` changes what this process routes by (false when already in force). */
  wouldApply(entry: SwitchEntry): boolean {
    return (this.switched.get(entry.migrationId) ?? false) !== (entry.kind === 'switch');
  }

  apply(entry: SwitchEntry): void {
    if (!this.wouldApply(entry)) return;
    this.markApplied(entry);
    const plan = entry.plan;
    const config = this.topology.currentConfig;
    const positions = new Map(Object.entries(entry.positions));
    if (entry.kind === 'switch') {
      this.topology.rebuild(configAfterSwitch(config, plan));
      for (const s of planSources(plan)) this.translate(plan, s.shard, positions);
    } else {
      this.topology.rebuild(configBeforeSplit(config, plan));
      for (const t of plan.targets) this.translate(plan, t.shard, positions);
    }
    this.log.info(
      { migration: entry.migrationId, kind: entry.kind, clusterVersion: entry.version },
      'shared topology switch applied',
    );
  }

  /** The controller applied `entry` itself: the watch's copy must not apply it again. */
  markApplied(entry: SwitchEntry): void {
    this.switched.set(entry.migrationId, entry.kind === 'switch');
  }

  fenceAll(until: Promise<void>): void {
    this.gate.fence(until, this.fenceGraceMs);
  }

  private translate(plan: SwitchEntry['plan'], shard: string, positions: Map<string, string>): void {
    if (plan.operation === 'move') this.gate.translations.recordAlongside(shard, positions);
    else this.gate.translations.record(shard, positions);
  }
}
