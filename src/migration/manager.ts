// The split state machine of docs/cutover.md, run inside the proxy (it owns the topology and the
// sessions the cutover block holds). Every phase change is written to the state file first, so
// `migrate resume <id>` and a restarted proxy continue from it. The data plane (copy, capture,
// verify, cleanup) lives in its own modules; this file decides when each runs.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { RuntimeTopology } from '../backend/pg-topology.js';
import type { ShardConfig, ShardgateConfig } from '../config/schema.js';
import type { CutoverFence, FenceRound, SwitchEntry } from '../control/control-plane.js';
import { decideWithinMs, fencedGraceMs } from '../control/hold-bound.js';
import { parseKeyRange } from '../domain/keyspace.js';
import { ShardgateError } from '../errors.js';
import { ChangeApplier } from './applier.js';
import { deleteMovedRows, dropReplication } from './cleanup.js';
import { copyTables, newCopyStates } from './copier.js';
import { rememberBackendCredentials } from './credentials.js';
import {
  type CutoverGate,
  type CutoverOptions,
  type CutoverReport,
  type CutoverSteps,
  switchedNote,
} from './cutover-gate.js';
import {
  attemptBackoffMs,
  READY_SAMPLES,
  type ReadinessProbe,
  sampleReadiness,
} from './cutover-readiness.js';
import { deleteMysqlMovedRows } from './mysql-cleanup.js';
import { type AfterSwitchContext, startMysqlReverse } from './mysql-reverse-capture.js';
import { rollbackMysql, verifyMysqlAfterSwitch } from './mysql-rollback-driver.js';
import { driveMysqlSplit, mysqlBaseTables, mysqlTableSizes } from './mysql-split-driver.js';
import { openClient, withClient } from './pg-connect.js';
import {
  createSlotWithSnapshot,
  currentWalLsn,
  dropSlot,
  type ExportedSnapshot,
  ensurePublication,
  slotExists,
} from './pg-replication.js';
import {
  carriedTables,
  type PlannedSource,
  planMove,
  planSources,
  planSplit,
  protocolOf,
  type SplitPlan,
  type SplitRequest,
  splitShard,
} from './plan.js';
import { mergeOrder, planMerge } from './plan-merge.js';
import { PressureMonitor } from './pressure.js';
import type { ReverseStream } from './reverse-stream.js';
import { holders, keyOwner, type RowRoute, routeByShardKey, tableKind } from './row-owner.js';
import { copySchema } from './schema-copy.js';
import { addResumeSegment } from './segments.js';
import { furthest, ownedSequences, readSequences, writeSequences } from './sequences.js';
import { SETTLE_MAX_MS } from './settle-wait.js';
import { checkSpareReplicas } from './spare-replicas.js';
import {
  type LegState,
  type MigrationState,
  MigrationStore,
  notRunYet,
  type Phase,
  SWITCHED_PHASES,
  TERMINAL_PHASES,
} from './state-store.js';
import { configAfterSwitch, configBeforeSwitch } from './switch-config.js';
import { quoteIdent } from './table-meta.js';
import { Throttle } from './throttle.js';
import type { ServerAddress, SplitTarget, VerifyReport } from './types.js';
import { verifySplit } from './verify.js';
import { combineReports, verifyingStatus } from './verify-report.js';

/**
 * Verification waits for the reverse capture as long as it keeps applying: right after the
 * switch it may be far behind (a merge's single reverse capture carries both sources' writes,
 * and starts by decoding everything since its slot was made), and failing the migration on one
 * slow catch-up helps no operator. Only this long without the applied LSN moving is an error
 * (or the whole wait passing SETTLE_MAX_MS).
 */
const SETTLE_STALL_MS = 30_000;
/**
 * How long stopping a run waits for each capture's stop and then for the run's body. The MySQL
 * capture's own stop is bounded well below it (mysql-binlog-capture.ts); PostgreSQL's applier ends
 * its replication connection.
 */
const STOP_WAIT_MS = 30_000;

export interface StartRequest {
  shard: string;
  /** Hex prefix, or "auto" for the advisor's balancing point (the midpoint without load data). */
  at: string;
  targets: [string, string];
  verify: 'full' | { sample: number };
  /** Stop after planning (the plan is returned, nothing is saved). */
  dryRun?: boolean;
  /** Capture lag (bytes) under which the cutover may start. */
  catchUpBytes?: number;
  /** Cutover attempts before the migration waits for `resume`. */
  cutoverAttempts?: number;
}

export interface MoveTableRequest {
  table: string;
  /** The shard that becomes the table's home. */
  to: string;
  verify: 'full' | { sample: number };
}

export interface MergeRequest {
  /** Two shards owning adjacent key ranges. */
  shards: [string, string];
  /** A server of migration.spares that becomes the merged shard's primary. */
  into: string;
  verify: 'full' | { sample: number };
}

export interface ManagerDeps {
  topology: RuntimeTopology;
  gate: CutoverGate;
  log: Logger;
  /** Balancing split point of a shard from the advisor (hex prefix), null without load data. */
  balancingPoint?: (shard: string) => string | null;
  registry?: Registry;
  /**
   * Other live instances sharing this one's control plane. Without a fence the block holds writes
   * in this process only, so a migration is refused while others serve (docs/control-plane.md).
   */
  otherInstances?: () => Promise<string[]>;
  /**
   * The cutover fenced across instances (etcd control plane) or across the workers of this one
   * (IPC through the primary): every live member holds too.
   */
  fence?: CutoverFence | null;
}

interface Running {
  abort: AbortController;
  done: Promise<void>;
  /** One forward capture per source. */
  forward: ChangeApplier[];
  /** One per target after the switch (PostgreSQL's applier, or a MySQL half's binlog capture). */
  reverse: ReverseStream[];
  /** The body returned or failed; with no applier left, nothing of it runs any more. */
  ended: boolean;
}

export class MigrationManager {
  readonly store: MigrationStore;
  private readonly running = new Map<string, Running>();
  private readonly verifyingNow = new Set<string>();
  private readonly lagGauge: Gauge | null;
  private readonly rowsGauge: Gauge | null;

  constructor(private readonly deps: ManagerDeps) {
    this.store = new MigrationStore(deps.topology.currentConfig.migration.stateDir);
    rememberBackendCredentials(deps.topology.currentConfig);
    deps.topology.onChange(() => rememberBackendCredentials(deps.topology.currentConfig));
    const registers = deps.registry ? [deps.registry] : [];
    this.lagGauge = deps.registry
      ? new Gauge({
          name: 'shardgate_migration_capture_lag_bytes',
          help: 'Bytes of source WAL the change capture of a migration has not applied yet',
          labelNames: ['migration'],
          registers,
        })
      : null;
    this.rowsGauge = deps.registry
      ? new Gauge({
          name: 'shardgate_migration_copied_rows',
          help: 'Rows copied so far by a migration',
          labelNames: ['migration'],
          registers,
        })
      : null;
  }

  private get config(): ShardgateConfig {
    return this.deps.topology.currentConfig;
  }

  list(): MigrationState[] {
    return this.store.list();
  }

  get(id: string): MigrationState {
    const s = this.store.load(id);
    if (!s) throw new ShardgateError('MIGRATION_INVALID', { detail: `no migration "${id}"` });
    return s;
  }

  isRunning(id: string): boolean {
    const r = this.running.get(id);
    return r !== undefined && !this.runOver(r);
  }

  /** The body returned or failed and no applier of it is left: nothing of this run goes on. */
  private runOver(r: Running): boolean {
    return r.ended && r.forward.length === 0 && r.reverse.length === 0;
  }

  /**
   * Nothing ended the migration while a verification ran (a rollback, an abort, a cleanup). Not
   * "the phase is still verifying": a reverse capture's checkpoint rewrites the state file from
   * its own read and may put back the phase before the verification began.
   */
  private stillVerifying(id: string): boolean {
    const phase = this.store.load(id)?.phase;
    return phase !== undefined && !TERMINAL_PHASES.has(phase);
  }

  /** A verification of this migration is under way. */
  verifying(id: string): boolean {
    return this.verifyingNow.has(id);
  }

  /** After a restart: the reverse capture of switched migrations (their topology: see below). */
  async restore(): Promise<void> {
    for (const s of this.list()) {
      if (SWITCHED_PHASES.has(s.phase) && s.phase !== 'cleaned') {
        // The fences of the switch (a restart forgets which replicas had replayed it).
        for (const [shard, position] of Object.entries(s.switchPositions ?? {}))
          this.deps.topology.fenceReplicas(shard, position, protocolOf(s.plan));
        this.track(s.id, (r) => this.startReverse(s, r));
      }
    }
  }

  async plan(req: StartRequest): Promise<SplitPlan> {
    const config = this.config;
    const shard = splitShard(config, req.shard);
    let at = req.at;
    let atChosenBy: SplitRequest['atChosenBy'] = 'operator';
    if (at === 'auto') {
      atChosenBy = 'advisor';
      at = this.deps.balancingPoint?.(req.shard) ?? midpoint(shard);
    }
    const source = planSplit(config, {
      shard: req.shard,
      at,
      atChosenBy,
      targets: req.targets,
      verify: req.verify,
      sizes: new Map(),
      inMaintenanceWindow: false,
    }).source;
    if (shard.protocol === 'mysql') {
      // The source's unsharded tables (its catalog) move with the first half, like PostgreSQL's.
      const sourceTables = await mysqlBaseTables(source);
      const plan = planSplit(config, {
        shard: req.shard,
        at,
        atChosenBy,
        targets: req.targets,
        verify: req.verify,
        sizes: await mysqlTableSizes(source, sourceTables),
        sourceTables,
        inMaintenanceWindow: this.inMaintenanceWindow(),
      });
      // A configured table the source does not have has nothing to move (PostgreSQL-only names).
      return { ...plan, tables: plan.tables.filter((t) => sourceTables.includes(t.name)) };
    }
    const sourceTables = await ordinaryTables(source);
    const sizes = await tableSizes(source, [...new Set([...Object.keys(config.tables), ...sourceTables])]);
    return planSplit(config, {
      shard: req.shard,
      at,
      atChosenBy,
      targets: req.targets,
      verify: req.verify,
      sizes,
      sourceTables,
      inMaintenanceWindow: new Throttle({
        rowsPerSecond: 1,
        bytesPerSecond: 1,
        maintenanceWindow: config.migration.maintenanceWindow ?? null,
        maintenanceMultiplier: config.migration.maintenanceMultiplier,
        batchRows: 1,
      }).limits().maintenance,
    });
  }

  /** Plans and starts a split; returns its first state (the work continues in the background). */
  async start(req: StartRequest): Promise<MigrationState> {
    this.refuseWorkers();
    await this.refuseOtherInstances();
    this.refuseBusy(req.shard);
    const plan = await this.plan(req);
    // The replicas the plan recorded are the ones the switch and every restart install.
    await checkSpareReplicas(this.config, plan.targets, protocolOf(plan));
    return this.begin(plan, req);
  }

  /** Plans a move of an unsharded table to another shard (nothing is saved). */
  async planMove(req: MoveTableRequest): Promise<SplitPlan> {
    const config = this.config;
    const draft = planMove(config, { ...req, sizes: new Map(), inMaintenanceWindow: false });
    const catalog = catalogOf(draft);
    const sizes = await catalog.sizes(draft.source, [req.table]);
    if (!sizes.has(req.table) && !(await catalog.tables(draft.source)).includes(req.table)) {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail: `table ${req.table} does not exist on ${draft.source.name}, its home ${draft.sourceShard}`,
      });
    }
    return planMove(config, { ...req, sizes, inMaintenanceWindow: this.inMaintenanceWindow() });
  }

  /** Moves an unsharded table to another shard live; returns its first state. */
  async startMove(req: MoveTableRequest): Promise<MigrationState> {
    this.refuseWorkers();
    await this.refuseOtherInstances();
    const plan = await this.planMove(req);
    this.refuseBusy(plan.sourceShard);
    this.refuseBusy(plan.targets[0]!.shard);
    return this.begin(plan, { shard: plan.sourceShard, at: '', targets: ['', ''], verify: req.verify });
  }

  /** Plans a merge of two adjacent shards into a spare server (nothing is saved). */
  async planMerge(req: MergeRequest): Promise<SplitPlan> {
    const config = this.config;
    const ordered = mergeOrder(config, req.shards);
    const sizes = new Map<string, Map<string, { rows: number; bytes: number }>>();
    const sourceTables = new Map<string, string[]>();
    for (const shard of ordered) {
      const address = planSources(
        planMerge(config, {
          ...req,
          sizes: new Map(),
          sourceTables: new Map(),
          inMaintenanceWindow: false,
        }),
      ).find((s) => s.shard === shard.name)!.server;
      const catalog = catalogOf({ protocol: shard.protocol === 'mysql' ? 'mysql' : 'postgres' });
      const tables = await catalog.tables(address);
      sourceTables.set(shard.name, tables);
      sizes.set(
        shard.name,
        await catalog.sizes(address, [...new Set([...Object.keys(config.tables), ...tables])]),
      );
    }
    return planMerge(config, {
      ...req,
      sizes,
      sourceTables,
      inMaintenanceWindow: this.inMaintenanceWindow(),
    });
  }

  /** Merges two adjacent shards live into one on a spare server; returns its first state. */
  async startMerge(req: MergeRequest): Promise<MigrationState> {
    this.refuseWorkers();
    await this.refuseOtherInstances();
    for (const shard of req.shards) this.refuseBusy(shard);
    const plan = await this.planMerge(req);
    // The replicas the plan recorded are the ones the switch and every restart install.
    await checkSpareReplicas(this.config, plan.targets, protocolOf(plan));
    return this.begin(plan, { shard: plan.sourceShard, at: '', targets: ['', ''], verify: req.verify });
  }

  private inMaintenanceWindow(): boolean {
    const config = this.config;
    return new Throttle({
      rowsPerSecond: 1,
      bytesPerSecond: 1,
      maintenanceWindow: config.migration.maintenanceWindow ?? null,
      maintenanceMultiplier: config.migration.maintenanceMultiplier,
      batchRows: 1,
    }).limits().maintenance;
  }

  /**
   * Several workers need a fence between them (the primary's over IPC, or etcd's): each holds its
   * own sessions. Without one (a process not started by `shardgate start`) the block would miss them.
   */
  private refuseWorkers(): void {
    if (this.config.workers !== 1 && !this.deps.fence) {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail:
          'a live migration with workers > 1 needs the fence between the workers, which `shardgate start` sets up; run it there, or with --workers 1',
      });
    }
  }

  private async refuseOtherInstances(): Promise<void> {
    if (this.deps.fence) return; // the block is fenced across instances
    const others = (await this.deps.otherInstances?.()) ?? [];
    if (others.length > 0) {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail: `other shardgate instances share this control plane (${others.join(', ')}) and a cutover block is not fenced across instances yet; stop them (or run the migration on an instance without --control) first`,
      });
    }
  }

  /** A shard takes part in at most one unfinished migration. */
  private refuseBusy(shard: string): void {
    for (const m of this.list()) {
      const involved = [
        ...planSources(m.plan).map((s) => s.shard),
        ...(m.plan.operation === 'split' || !m.plan.operation ? [] : [m.plan.targets[0]!.shard]),
      ];
      if (!TERMINAL_PHASES.has(m.phase) && involved.includes(shard)) {
        throw new ShardgateError('MIGRATION_STATE', {
          id: m.id,
          phase: m.phase,
          detail: `shard ${shard} already has this migration; finish, roll back or abort it first`,
        });
      }
    }
  }

  private begin(plan: SplitPlan, req: StartRequest): MigrationState {
    const sources = planSources(plan);
    const name =
      plan.operation === 'move'
        ? `move-${plan.move!.table.replace(/[^A-Za-z0-9]/g, '_')}`
        : plan.operation === 'merge'
          ? `merge-${sources.map((s) => s.shard).join('-')}`
          : `split-${plan.sourceShard}`;
    const id = `${name}-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(2).toString('hex')}`;
    const now = new Date().toISOString();
    const state: MigrationState = {
      id,
      createdAt: now,
      updatedAt: now,
      phase: 'planned',
      status: 'planned',
      plan,
      legs: sources.map(() => ({ slot: null, copy: [] })),
      ...notRunYet(),
      error: null,
      history: [
        {
          at: now,
          phase: 'planned',
          note:
            plan.operation === 'move'
              ? `move ${plan.move!.table} from ${plan.sourceShard} to ${plan.move!.to}`
              : plan.operation === 'merge'
                ? `merge ${sources.map((s) => s.shard).join(' and ')} into ${plan.targets[0]!.shard} on ${plan.targets[0]!.server.name}`
                : `split ${plan.sourceShard} at ${plan.at}`,
        },
      ],
    };
    this.store.save(state);
    this.drive(state, req);
    return state;
  }

  /** Continues a migration stopped by a crash, an abort of the run, or failed cutovers. */
  resume(id: string, req: Partial<StartRequest> = {}): MigrationState {
    const state = this.get(id);
    // Its cutover attempts all aborted, or it failed: the run is over, resume starts a new one.
    const over = this.running.get(id);
    if (over && this.runOver(over)) this.running.delete(id);
    if (this.running.has(id)) {
      throw new ShardgateError('MIGRATION_STATE', {
        id,
        phase: state.phase,
        detail: 'it is already running',
      });
    }
    if (TERMINAL_PHASES.has(state.phase) || SWITCHED_PHASES.has(state.phase)) {
      throw new ShardgateError('MIGRATION_STATE', {
        id,
        phase: state.phase,
        detail: 'nothing to resume (verify, clean up or roll back instead)',
      });
    }
    this.note(state, state.phase, 'resumed');
    this.drive(state, {
      shard: state.plan.sourceShard,
      at: state.plan.at,
      targets: ['', ''],
      verify: state.plan.verify,
      ...req,
    });
    return state;
  }

  /** Stops a migration before its switch: the source stays the truth; slot and publication go. */
  async abort(id: string): Promise<MigrationState> {
    const refuse = (phase: Phase) => {
      if (SWITCHED_PHASES.has(phase) || TERMINAL_PHASES.has(phase)) {
        throw new ShardgateError('MIGRATION_STATE', {
          id,
          phase,
          detail: 'only a migration before its switch can be aborted (use rollback)',
        });
      }
    };
    refuse(this.get(id).phase);
    await this.stopRunning(id);
    // The run wrote its own progress until it stopped (a slot, even a switch): read it again.
    const state = this.get(id);
    refuse(state.phase);
    await this.dropAllReplication(state);
    this.note(
      state,
      'aborted',
      'aborted by the operator; the source is untouched, the targets are left for inspection',
    );
    return state;
  }

  /** Verification again (e.g. after fixing a mismatch by hand). */
  verifyAgain(id: string): MigrationState {
    const state = this.get(id);
    if (!SWITCHED_PHASES.has(state.phase) || state.phase === 'cleaned') {
      throw new ShardgateError('MIGRATION_STATE', {
        id,
        phase: state.phase,
        detail: 'verification runs after the switch',
      });
    }
    const running = this.running.get(id);
    if (!running)
      throw new ShardgateError('MIGRATION_STATE', {
        id,
        phase: state.phase,
        detail: 'its reverse capture is not running',
      });
    // A verification that cannot run (a server down, a stopped capture) says so in the state.
    void this.runVerify(state, running).catch((err: unknown) => {
      if (!this.stillVerifying(id)) return;
      this.note(
        state,
        'switched',
        `verification could not run: ${err instanceof Error ? err.message : String(err)}; \`shardgate migrate verify ${id}\` tries again`,
      );
    });
    return state;
  }

  /** Deletes the moved rows from the source; only after a passed verification. */
  async cleanup(id: string): Promise<MigrationState> {
    const state = this.get(id);
    if (state.phase !== 'verified') {
      throw new ShardgateError('MIGRATION_STATE', {
        id,
        phase: state.phase,
        detail:
          state.verify && state.verify.mismatches.length > 0
            ? `verification found ${state.verify.mismatches.length} mismatching chunk(s); cleanup refused`
            : 'cleanup needs a passed verification',
      });
    }
    await this.stopRunning(id);
    this.note(state, 'verified', 'cleanup: deleting the moved rows from the source');
    if (state.plan.protocol === 'mysql') {
      const done = await deleteMysqlMovedRows(state.plan, (shard, table, deleted) => {
        state.status = `cleanup: ${deleted} rows of ${table} deleted from ${shard}`;
        this.store.save(state);
      });
      const total = done.perTable.reduce((n, t) => n + t.deleted, 0);
      const from = planSources(state.plan)
        .map((s) => s.shard)
        .join(' and ');
      this.note(state, 'cleaned', `${total} moved rows deleted from ${from}; reverse capture stopped`);
      return state;
    }
    for (const source of planSources(state.plan)) {
      await deleteMovedRows({
        source: source.server,
        tables: source.tables,
        ranges: [parseKeyRange(source.range)],
      });
    }
    await this.dropAllReplication(state, false);
    this.note(state, 'cleaned', 'moved rows deleted from the source; slots and publications dropped');
    return state;
  }

  /** Returns traffic to the source, carrying back the writes made on the targets since the switch. */
  async rollback(id: string): Promise<MigrationState> {
    const state = this.get(id);
    await this.refuseOtherInstances();
    if (!SWITCHED_PHASES.has(state.phase) || state.phase === 'cleaned') {
      throw new ShardgateError('MIGRATION_STATE', {
        id,
        phase: state.phase,
        detail:
          state.phase === 'cleaned'
            ? 'the source rows were deleted at cleanup'
            : 'before the switch, use abort',
      });
    }
    const running = this.running.get(id);
    if (!running || running.reverse.length === 0) {
      throw new ShardgateError('MIGRATION_STATE', {
        id,
        phase: state.phase,
        detail: 'its reverse capture is not running',
      });
    }
    const plan = state.plan;
    if (plan.protocol === 'mysql')
      return this.endRollback(state, await rollbackMysql(this.driverContext(), state, running.reverse));
    const moving = plan.operation === 'move';
    const halves = plan.targets.map((t) => t.shard);
    const sources = planSources(plan);
    // A move's source shard never left the topology: its pool is warm.
    if (!moving)
      await Promise.all(
        sources.map((s) =>
          this.deps.topology
            .prewarm(
              s.shardConfig.primary.name ?? `${s.shard}-primary`,
              s.shard,
              s.shardConfig.primary,
              this.config.pool.size,
              halves,
            )
            .catch(() => undefined),
        ),
      );
    const sequences = await movedSequences(plan);
    const withSequences = sequences.sources.some((list) => list.length > 0);
    const sourceControl = withSequences
      ? await Promise.all(sources.map((s) => openClient(s.server, 'migration-cutover')))
      : [];
    const targetControl = withSequences
      ? await Promise.all(plan.targets.map((t) => openClient(t.server, 'migration-cutover')))
      : [];
    const control = [...sourceControl, ...targetControl];
    const report = await this.fencedBlock(
      halves,
      { migrationId: id, graceMs: plan.inflightGraceMs, deadlineMs: plan.cutoverDeadlineMs },
      (commit) => ({
        catchUp: async (remaining) => {
          await Promise.all(running.reverse.map((r) => r.catchUp(remaining)));
        },
        switchTopology: async () => {
          if (withSequences) {
            const readings = await Promise.all(
              targetControl.map((c, i) => readSequences(c, [...sequences.targets[i]!])),
            );
            const at = furthest(readings);
            await Promise.all(
              sourceControl.map((c, j) => writeSequences(c, at, new Set(sequences.sources[j]!))),
            );
          }
          const back = new Map<string, string>();
          const lsns = await Promise.all(sources.map((s) => currentWalLsn(s.server)));
          for (const [j, s] of sources.entries()) back.set(s.shard, lsns[j]!);
          await commit({ migrationId: id, kind: 'rollback', plan, positions: Object.fromEntries(back) });
          this.deps.topology.rebuild(configBeforeSwitch(this.config, plan));
          // The sources' replicas serve once they have replayed what the reverse capture carried back.
          for (const [shard, lsn] of back) this.deps.topology.fenceReplicas(shard, lsn, protocolOf(plan));
          for (const h of halves) {
            if (moving) this.deps.gate.translations.recordAlongside(h, back);
            else this.deps.gate.translations.record(h, back);
          }
        },
      }),
    );
    await Promise.all(control.map((c) => c.end().catch(() => undefined)));
    return this.endRollback(state, report);
  }

  /** After the rollback block: the report kept; switched back, the run and its replication end. */
  private async endRollback(state: MigrationState, report: CutoverReport): Promise<MigrationState> {
    const sources = planSources(state.plan);
    state.cutovers.push(report);
    if (report.outcome !== 'switched') {
      this.note(
        state,
        state.phase,
        `rollback block aborted (${report.reason}); traffic stays on the targets`,
      );
      return state;
    }
    // The switch back is done: recorded first, so a stop that fails below cannot leave the state
    // saying `switched` (a cleanup then would delete the rows the source serves again).
    const back = `traffic is back on ${sources.map((s) => s.shard).join(' and ')} (block ${Math.round(report.blockMs)} ms)`;
    this.note(state, 'rolled_back', back);
    try {
      await this.stopRunning(state.id);
      await this.dropAllReplication(state);
    } catch (err) {
      this.note(
        state,
        'rolled_back',
        `${back}; stopping its change capture failed (${err instanceof Error ? err.message : String(err)}): check for replication slots left on the targets`,
      );
    }
    return state;
  }

  /**
   * The cutover block of `gate.block`, fenced across instances when the control plane has a fence
   * (docs/control-plane.md, "Fenced cutover"): the hold is published first, so every live member
   * holds `shards` while this process drains; the catch-up also waits for every member's ack; the
   * switch commits the shared version v+1 (`commit`, before anything changes here) or, failing
   * that, aborts; an aborted block publishes the abort so every member releases against v.
   */
  private async fencedBlock(
    shards: string[],
    options: CutoverOptions,
    steps: (commit: (entry: Omit<SwitchEntry, 'version'>) => Promise<void>) => CutoverSteps,
  ): Promise<CutoverReport> {
    const fence = this.deps.fence;
    if (!fence)
      return this.deps.gate.block(
        shards,
        options,
        steps(async () => undefined),
      );
    // Fenced, every instance holds the range for the block: its bound is the fenced deadline, each
    // instance's hold decided within it from its own start, the grace consistent with it (hold-bound.ts).
    const bound = this.config.migration.fencedCutoverDeadlineMs;
    options = {
      ...options,
      deadlineMs: decideWithinMs(bound),
      graceMs: fencedGraceMs(options.graceMs, bound),
    };
    let round: FenceRound;
    try {
      round = await fence.begin({
        migrationId: options.migrationId,
        shards,
        graceMs: options.graceMs,
        deadlineMs: bound,
      });
    } catch (err) {
      return notBlocked(
        `the hold could not be published: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const published = performance.now();
    let acksMs: number | null = null;
    const local = steps((entry) => round.commit(entry));
    const report = await this.deps.gate.block(shards, options, {
      catchUp: async (remaining) => {
        await Promise.all([
          round.acknowledged(remaining).then(() => {
            acksMs = performance.now() - published;
          }),
          local.catchUp(remaining),
        ]);
      },
      switchTopology: local.switchTopology,
    });
    if (report.outcome !== 'switched') await round.abort(report.reason ?? 'aborted');
    return { ...report, fence: { members: [...round.members], acksMs } };
  }

  /** Slots and publications of every source and target (errors ignored when `ignoreErrors`). */
  private async dropAllReplication(state: MigrationState, ignoreErrors = true): Promise<void> {
    const guard = (p: Promise<void>) => (ignoreErrors ? p.catch(() => undefined) : p);
    for (const [i, source] of planSources(state.plan).entries()) {
      const slot = legsOf(state)[i]?.slot;
      if (slot) await guard(dropReplication(source.server, [slot.name], [slot.publication]));
    }
    if (state.reverse) {
      for (const [i, t] of state.plan.targets.entries())
        await guard(dropReplication(t.server, [state.reverse.slots[i]!], [state.reverse.publication]));
    }
  }

  async close(): Promise<void> {
    const stops = await Promise.allSettled([...this.running.keys()].map((id) => this.stopRunning(id)));
    for (const r of stops)
      if (r.status === 'rejected')
        this.deps.log.warn({ err: String(r.reason) }, 'migration run not stopped at close');
  }

  // ---- the state machine ---------------------------------------------------------------------

  private note(state: MigrationState, phase: Phase, status: string): void {
    if (phase !== state.phase || state.history.length === 0) {
      state.history.push({ at: new Date().toISOString(), phase, note: status });
    }
    state.phase = phase;
    state.status = status;
    this.store.save(state);
    this.deps.log.info({ migration: state.id, phase, status }, 'migration');
  }

  private track(id: string, body: (r: Running) => Promise<void>): void {
    const running: Running = {
      abort: new AbortController(),
      done: Promise.resolve(),
      forward: [],
      reverse: [],
      ended: false,
    };
    this.running.set(id, running);
    running.done = body(running)
      .finally(() => {
        running.ended = true;
      })
      .catch((err: unknown) => {
        const state = this.store.load(id);
        if (!state) return;
        state.error = err instanceof Error ? err.message : String(err);
        this.note(
          state,
          state.phase,
          `failed: ${state.error}; \`shardgate migrate resume ${id}\` continues from the last checkpoint`,
        );
      });
  }

  private async stopRunning(id: string): Promise<void> {
    const r = this.running.get(id);
    if (!r) return;
    r.abort.abort();
    // Each wait bounded and its failure logged: a stop that hangs must not hang cleanup, rollback
    // or shutdown behind it silently.
    const stops = [...r.forward, ...r.reverse].map((a) =>
      this.bounded(id, 'stopping a change capture', a.stop()),
    );
    await Promise.all(stops);
    // The run's body must have ended before cleanup, rollback or abort act on its servers: on a
    // timeout the operator's command fails with the reason instead of going on beside it.
    if (!(await this.bounded(id, 'the run ending after its captures stopped', r.done)))
      throw new Error(
        `migration ${id}: its run did not end within ${STOP_WAIT_MS} ms of being stopped; try the command again`,
      );
    this.running.delete(id);
    this.lagGauge?.remove(id);
  }

  /**
   * Waits for p at most STOP_WAIT_MS; a failure or a timeout is logged with its reason, not
   * thrown. False on a timeout.
   */
  private async bounded(id: string, what: string, p: Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_WAIT_MS);
    });
    try {
      const outcome = await Promise.race([p.then(() => 'done' as const), timeout]);
      if (outcome === 'done') return true;
      this.deps.log.warn({ migration: id }, `${what} did not finish within ${STOP_WAIT_MS} ms`);
      return false;
    } catch (err) {
      this.deps.log.warn(
        { migration: id, err: err instanceof Error ? err.message : String(err) },
        `${what} failed`,
      );
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The manager's steps a protocol driver runs its phases with. */
  private driverContext(): AfterSwitchContext {
    return {
      load: (id) => this.store.load(id),
      note: (state, phase, status) => this.note(state, phase, status),
      save: (state) => this.store.save(state),
      fencedBlock: (shards, options, steps) => this.fencedBlock(shards, options, steps),
      topology: this.deps.topology,
      onCopied: (state, rows) => this.rowsGauge?.set({ migration: state.id }, rows),
    };
  }

  private drive(state: MigrationState, req: StartRequest): void {
    if (state.plan.protocol === 'mysql') {
      this.track(state.id, async (running) => {
        await driveMysqlSplit(
          this.driverContext(),
          state,
          running.abort.signal,
          req.cutoverAttempts ?? this.config.migration.cutoverAttempts,
        );
        // Switched: the reverse capture keeps the source current for a rollback.
        if (SWITCHED_PHASES.has(state.phase)) await this.startReverse(state, running);
      });
      return;
    }
    this.track(state.id, async (running) => {
      const { signal } = running.abort;
      const plan = state.plan;
      const sources = planSources(plan);
      const legs = legsOf(state);
      const targets = splitTargets(plan);
      // One exported snapshot per source, alive from its slot's creation to the end of its copy.
      const snapshots: Array<ExportedSnapshot | null> = sources.map(() => null);
      try {
        if (state.phase === 'planned' || state.phase === 'schema') {
          this.note(
            state,
            'schema',
            `schema of ${plan.tables.length} tables on ${targets.map((t) => t.server.name).join(', ')}`,
          );
          // Unsharded tables go to the first half only (the new default shard).
          for (const [j, source] of sources.entries()) {
            for (const [i, t] of targets.entries()) {
              const names = carriedTables(plan, j)
                .filter((x) => holders(x, targets.length).includes(i))
                .map((x) => x.name);
              if (names.length > 0)
                await copySchema({ source: source.server, targets: [t.server], tables: names });
            }
          }
          for (const [j, source] of sources.entries()) {
            const carried = carriedTables(plan, j);
            const leg = legs[j]!;
            if (carried.length === 0) continue;
            const slotName = legSlotName(state.id, j);
            const publication = `${slotName}_pub`;
            await ensurePublication(
              source.server,
              publication,
              carried.map((t) => t.name),
            );
            // A slot of an earlier try (recorded, or created just before a crash and not yet
            // recorded: the name is the same) goes; the copy starts over from a new snapshot.
            for (const name of new Set([leg.slot?.name, slotName])) {
              if (name && (await slotExists(source.server, name))) await dropSlot(source.server, name);
            }
            const snapshot = await createSlotWithSnapshot(source.server, slotName);
            snapshots[j] = snapshot;
            leg.slot = { name: slotName, publication, consistentLsn: snapshot.consistentLsn };
            leg.copy = await newCopyStates(source.server, carried, snapshot.consistentLsn);
            this.store.save(state);
          }
          this.note(state, 'copying', 'copying');
        }
        if (state.phase === 'copying') {
          for (const [j, source] of sources.entries()) {
            const leg = legs[j]!;
            if (!leg.slot || leg.copy.every((t) => t.done)) continue;
            if (!snapshots[j]) {
              // Resumed: the first snapshot died with its connection; the rest comes from a new one.
              const snapshot = await createSlotWithSnapshot(
                source.server,
                `${leg.slot.name}_r${Date.now().toString(36)}`.slice(0, 63),
                { temporary: true },
              );
              snapshots[j] = snapshot;
              for (const t of leg.copy) if (!t.done) addResumeSegment(t, snapshot.consistentLsn);
              this.store.save(state);
            }
            const snapshot = snapshots[j]!;
            const throttle = new Throttle(plan.throttle);
            const pressure = new PressureMonitor(source.server, throttle, { intervalMs: 2_000 });
            pressure.start();
            try {
              const result = await copyTables({
                source: source.server,
                targets,
                tables: carriedTables(plan, j),
                states: leg.copy,
                ...(sources.length > 1 ? { sourceScope: [parseKeyRange(source.range)] } : {}),
                snapshotName: snapshot.snapshotName,
                throttle,
                signal,
                checkpoint: async (states) => {
                  leg.copy = states;
                  this.store.save(state);
                  this.rowsGauge?.set({ migration: state.id }, copiedRows(legs));
                },
                onStatus: (status) => {
                  if (status !== state.status) {
                    state.status = status;
                    this.store.save(state);
                  }
                },
              });
              if (!result.complete) return;
            } finally {
              pressure.stop();
              await snapshot.release();
              snapshots[j] = null;
            }
          }
          this.note(state, 'catching_up', 'applying the changes captured during the copy');
        }
        if (state.phase === 'catching_up' || state.phase === 'blocking') {
          await this.catchUpAndSwitch(state, running, targets, req);
        }
      } finally {
        await Promise.all(snapshots.map((s) => s?.release()));
      }
    });
  }

  private async catchUpAndSwitch(
    state: MigrationState,
    running: Running,
    targets: SplitTarget[],
    req: StartRequest,
  ): Promise<void> {
    const plan = state.plan;
    const sources = planSources(plan);
    const legs = legsOf(state);
    const signal = running.abort.signal;
    const forward: ChangeApplier[] = [];
    for (const [j, source] of sources.entries()) {
      const leg = legs[j]!;
      if (!leg.slot) continue;
      forward.push(
        new ChangeApplier({
          source: source.server,
          slot: leg.slot.name,
          publication: leg.slot.publication,
          destinations: targets.map((t) => t.server),
          route: routeByShardKey(
            plan.tables,
            targets.map((t) => t.range),
          ),
          tables: carriedTables(plan, j),
          copyStates: leg.copy,
          onStatus: (status) => {
            state.status = status;
          },
        }),
      );
    }
    running.forward = forward;
    for (const f of forward) await f.start();
    // Reverse capture slots exist before the switch, so no write on a target escapes them.
    const base = legs[0]?.slot?.name ?? legSlotName(state.id, 0);
    const reversePublication = `${base}_rev`;
    const reverseSlots = targets.map((_, i) => `${base}_rev${i}`.slice(0, 63));
    for (const [i, t] of targets.entries()) {
      await ensurePublication(
        t.server,
        reversePublication,
        tablesOn(plan, i).map((x) => x.name),
      );
      if (!(await slotExists(t.server, reverseSlots[i]!))) {
        await withClient(t.server, 'migration-reverse-slot', (c) =>
          c.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [reverseSlots[i]]),
        );
      }
    }
    state.reverse = { slots: reverseSlots, publication: reversePublication };
    this.store.save(state);
    const sequences = await movedSequences(plan);
    const threshold = req.catchUpBytes ?? 64 * 1024;
    const attempts = req.cutoverAttempts ?? this.config.migration.cutoverAttempts;
    const deadlineMs = this.deps.fence
      ? this.config.migration.fencedCutoverDeadlineMs
      : plan.cutoverDeadlineMs;
    const probe: ReadinessProbe = {
      lagBytes: async () => {
        const lags = await Promise.all(forward.map((f) => f.lag()));
        const seconds = lags.reduce((n, l) => Math.max(n, l.seconds ?? 0), 0);
        const bytes = lags.every((l) => l.bytes !== null) ? lags.reduce((n, l) => n + l.bytes!, 0) : null;
        state.capture = { appliedLsn: forward[0]?.appliedLsn ?? null, lagBytes: bytes, lagSeconds: seconds };
        this.lagGauge?.set({ migration: state.id }, bytes ?? 0);
        return lags.map((l) => l.bytes);
      },
      roundTrip: async (timeoutMs) => {
        await Promise.all(forward.map((f) => f.catchUp(timeoutMs)));
      },
    };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) {
        const wait = attemptBackoffMs(attempt, this.config.migration.cutoverBackoffMs, 30_000);
        state.status = `cutover attempt ${attempt - 1} aborted, next attempt in ${wait} ms`;
        this.store.save(state);
        await sleepAbortable(wait, signal);
      }
      // Catching up: no block until the lag is small and a marker's round trip through the capture
      // fits well within the block's deadline, for a few samples in a row (cutover-readiness.ts).
      let ready = 0;
      while (ready < READY_SAMPLES) {
        if (signal.aborted) return;
        // A stopped capture never catches up: say why instead of waiting on a growing lag.
        const stopped = forward.find((f) => f.status.startsWith('error'));
        if (stopped) throw new Error(`the change capture stopped: ${stopped.status}`);
        const sample = await sampleReadiness(probe, threshold, deadlineMs, Math.max(5_000, deadlineMs * 4));
        if (signal.aborted) return;
        ready = sample.ready ? ready + 1 : 0;
        const paused = forward.find((f) => f.status !== 'streaming');
        const trip =
          sample.roundTripMs === null
            ? ''
            : `, round trip ${Math.round(sample.roundTripMs)} ms of ${deadlineMs} ms`;
        state.status = `catching up: ${sample.bytes ?? '?'} bytes behind${trip}${paused ? ` (capture ${paused.status})` : ''}`;
        this.store.save(state);
        await sleepAbortable(200, signal);
      }
      this.note(state, 'blocking', `cutover attempt ${attempt}`);
      // Opened before the block: a connection setup inside it would lengthen every held write,
      // and every statement it releases would wait for a new server connection to the targets.
      const control = await Promise.all(targets.map((t) => openClient(t.server, 'migration-cutover')));
      const sourceControl = await Promise.all(
        sources.map((s, j) =>
          sequences.sources[j]!.length > 0 ? openClient(s.server, 'migration-cutover') : null,
        ),
      );
      const spares = this.config.migration.spares;
      await Promise.all(
        plan.targets.map((t) => {
          const server = spares.find((s) => s.name === t.server.name);
          return server
            ? this.deps.topology
                .prewarm(
                  t.server.name,
                  t.shard,
                  server,
                  this.config.pool.size,
                  sources.map((s) => s.shard),
                )
                .catch(() => undefined)
            : undefined;
        }),
      );
      const report = await this.fencedBlock(
        sources.map((s) => s.shard),
        { migrationId: state.id, graceMs: plan.inflightGraceMs, deadlineMs: plan.cutoverDeadlineMs },
        (commit) => ({
          catchUp: async (remaining) => {
            await Promise.all(forward.map((f) => f.catchUp(remaining)));
          },
          switchTopology: async () => {
            if (sourceControl.some((c) => c !== null)) {
              const readings = await Promise.all(
                sourceControl.map((c, j) => (c ? readSequences(c, sequences.sources[j]!) : [])),
              );
              const at = furthest(readings);
              await Promise.all(control.map((c, i) => writeSequences(c, at, sequences.targets[i]!)));
            }
            const positions = new Map<string, string>();
            const lsns = await Promise.all(control.map((c) => currentWalLsn(c)));
            for (const [i, t] of targets.entries()) positions.set(t.shard, lsns[i]!);
            await commit({
              migrationId: state.id,
              kind: 'switch',
              plan,
              positions: Object.fromEntries(positions),
            });
            state.switchPositions = Object.fromEntries(positions);
            this.deps.topology.rebuild(configAfterSwitch(this.config, plan));
            // The targets' replicas serve once they have replayed everything the switch moved.
            for (const [shard, lsn] of positions) this.deps.topology.fenceReplicas(shard, lsn);
            for (const s of sources) {
              if (plan.operation === 'move') this.deps.gate.translations.recordAlongside(s.shard, positions);
              else this.deps.gate.translations.record(s.shard, positions);
            }
          },
        }),
      );
      await Promise.all([...control, ...sourceControl].map((c) => c?.end().catch(() => undefined)));
      state.cutovers.push(report);
      if (report.outcome === 'switched') {
        this.note(state, 'switched', switchedNote(report));
        await Promise.all(forward.map((f) => f.stop()));
        running.forward = [];
        this.lagGauge?.remove(state.id);
        await this.startReverse(state, running);
        return;
      }
      this.note(
        state,
        'catching_up',
        `cutover attempt ${attempt} aborted: ${report.reason}; traffic stayed on ${sources.map((s) => s.shard).join(' and ')}`,
      );
    }
    await Promise.all(forward.map((f) => f.stop()));
    running.forward = [];
    this.note(
      state,
      'catching_up',
      `${attempts} cutover attempts aborted (last: ${state.cutovers.at(-1)?.reason}); \`shardgate migrate resume ${state.id}\` tries again`,
    );
  }

  /** Reverse capture (targets -> sources) from the switch positions, then verification. */
  private async startReverse(state: MigrationState, running: Running): Promise<void> {
    const plan = state.plan;
    if (plan.protocol === 'mysql') {
      running.reverse = await startMysqlReverse(this.driverContext(), state);
      if (state.phase === 'switched' || state.phase === 'verifying') await this.runVerify(state, running);
      return;
    }
    if (!state.reverse) return;
    const sources = planSources(plan);
    const appliers = plan.targets.map(
      (t, i) =>
        new ChangeApplier({
          source: t.server,
          slot: state.reverse!.slots[i]!,
          publication: state.reverse!.publication,
          destinations: sources.map((s) => s.server),
          route: reverseRoute(plan),
          tables: reverseTables(plan, i),
          ...(state.switchPositions?.[t.shard] ? { startLsn: state.switchPositions[t.shard] } : {}),
        }),
    );
    running.reverse = appliers;
    for (const r of appliers) await r.start();
    if (state.phase === 'switched' || state.phase === 'verifying') await this.runVerify(state, running);
  }

  private async runVerify(state: MigrationState, running: Running): Promise<void> {
    const plan = state.plan;
    this.verifyingNow.add(state.id);
    this.note(state, 'verifying', verifyingStatus(plan));
    let report: VerifyReport;
    try {
      // Each source against its share of the targets (a merge's two sources, each its own range),
      // over the tables it carried (a reference table's rows came from the first source only).
      const reports: VerifyReport[] = [];
      // MySQL: whole tables once its reverse captures caught up (mysql-rollback-driver.ts).
      if (plan.protocol === 'mysql') reports.push(await verifyMysqlAfterSwitch(plan, running.reverse));
      else
        for (const [j, source] of planSources(plan).entries()) {
          reports.push(
            await verifySplit({
              source: source.server,
              targets: splitTargets(plan),
              tables: carriedTables(plan, j),
              mode: plan.verify === 'full' ? 'full' : 'sample',
              sample: plan.verify === 'full' ? 0 : plan.verify.sample,
              settle: async () => {
                await Promise.all(
                  running.reverse.map((r) =>
                    r.catchUp(SETTLE_STALL_MS, { whileProgressing: { maxMs: SETTLE_MAX_MS } }),
                  ),
                );
              },
              ...(plan.operation === 'merge' ? { targetScope: [parseKeyRange(source.range)] } : {}),
            }),
          );
        }
      report = combineReports(reports, plan);
    } finally {
      this.verifyingNow.delete(state.id);
    }
    // Rolled back (or aborted) while it ran: its copy of the state is stale, and writing `verified`
    // over `rolled_back` would let a cleanup delete the rows the source serves again.
    if (!this.stillVerifying(state.id)) return;
    state.verify = report;
    if (report.mismatches.length === 0) {
      this.note(state, 'verified', `verified ${report.rowsChecked} rows in ${report.chunksChecked} chunks`);
    } else {
      const names = report.mismatches
        .slice(0, 5)
        .map((m) =>
          m.wholeTable
            ? `${m.table}${m.target ? ` on ${m.target}` : ''} row count ${m.sourceRows} on the source, ${m.targetRows} moved`
            : `${m.table}${m.target ? ` on ${m.target}` : ''} (${m.fromKey?.join(',') ?? 'start'}, ${m.toKey?.join(',') ?? 'end'}]${m.rows?.length ? ` keys ${m.rows.map((k) => k.join(',')).join(' ')}` : ''}`,
        );
      this.note(
        state,
        'switched',
        `verification failed: ${report.mismatches.length} chunk(s) differ: ${names.join('; ')}; cleanup refused`,
      );
    }
  }
}

/**
 * The config as switched migrations left it (every process applies this at start, so a restart
 * never routes a moved key back to its old shard).
 */
export function configWithMigrations(config: ShardgateConfig): ShardgateConfig {
  let out = config;
  const states = new MigrationStore(config.migration.stateDir).list();
  for (const s of states) if (SWITCHED_PHASES.has(s.phase)) out = configAfterSwitch(out, s.plan);
  return out;
}

/** Ids of the migrations configWithMigrations applies (their switch is in the topology at start). */
export function switchedMigrationIds(config: ShardgateConfig): string[] {
  return new MigrationStore(config.migration.stateDir)
    .list()
    .filter((s) => SWITCHED_PHASES.has(s.phase))
    .map((s) => s.id);
}

/** The report of a block that never began (nothing was held anywhere). */
function notBlocked(reason: string): CutoverReport {
  return {
    outcome: 'aborted',
    blockMs: 0,
    reason,
    heldStatements: 0,
    maxHeldMs: 0,
    p99HeldMs: 0,
    abortedTransactions: 0,
    drainMs: 0,
    catchUpMs: 0,
    startedAt: Date.now(),
  };
}

/** The per-source progress of a state (written by every version since merges; see the store). */
function legsOf(state: MigrationState): LegState[] {
  state.legs ??= [{ slot: state.slot, copy: state.copy }];
  return state.legs;
}

/**
 * Slot of source j: the first keeps the name of single-source migrations (state files of older
 * versions); a merge's second gets a suffix. Replication names are at most 63 bytes.
 */
function legSlotName(id: string, j: number): string {
  const base = `shardgate_${id.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
  return j === 0 ? base.slice(0, 63) : `${base.slice(0, 59)}_s${j}`;
}

function copiedRows(legs: readonly LegState[]): number {
  return legs.reduce((n, l) => n + l.copy.reduce((m, t) => m + t.rows, 0), 0);
}

/**
 * Where the reverse capture puts a target's change: a sharded row on the source owning its key
 * (the one source of a split or move), a reference row on every source, an unsharded row on the
 * source it came from.
 */
function reverseRoute(plan: SplitPlan): RowRoute {
  const sources = planSources(plan);
  const ranges = sources.map((s) => parseKeyRange(s.range));
  const byName = new Map(plan.tables.map((t) => [t.name, t]));
  const home = new Map<string, number>();
  for (const [j, s] of sources.entries())
    for (const t of s.tables) if (tableKind(t) === 'unsharded' && !home.has(t.name)) home.set(t.name, j);
  return (table, row) => {
    const t = byName.get(table);
    if (!t) return null;
    const kind = tableKind(t);
    if (kind === 'reference') return 'all';
    if (kind === 'unsharded' || sources.length === 1) return home.get(table) ?? 0;
    return keyOwner(row[t.shardKey], t.keyType, ranges);
  };
}

/** Sequences owned by the moved tables: on each source, and the set each target has. */
async function movedSequences(
  plan: SplitPlan,
): Promise<{ sources: string[][]; targets: Array<Set<string>> }> {
  const sources = await Promise.all(
    planSources(plan).map((s: PlannedSource) =>
      withClient(s.server, 'migration-plan', (c) =>
        ownedSequences(
          c,
          s.tables.map((t) => t.name),
        ),
      ),
    ),
  );
  if (sources.every((list) => list.length === 0))
    return { sources, targets: plan.targets.map(() => new Set()) };
  const targets = await Promise.all(
    plan.targets.map(
      async (t, i) =>
        new Set(
          await withClient(t.server, 'migration-plan', (c) =>
            ownedSequences(
              c,
              tablesOn(plan, i).map((x) => x.name),
            ),
          ),
        ),
    ),
  );
  return { sources, targets };
}

/** The moved tables target i holds: every one on the first, all but the unsharded on the others. */
function tablesOn(plan: SplitPlan, i: number): SplitPlan['tables'] {
  return plan.tables.filter((t) => holders(t, plan.targets.length).includes(i));
}

/**
 * The tables target i's reverse capture carries back to the source. A reference table's writes
 * reach every half alike, so only the first half's stream carries them (two streams of the same
 * writes would interleave their replays on the source).
 */
function reverseTables(plan: SplitPlan, i: number): SplitPlan['tables'] {
  return tablesOn(plan, i).filter((t) => i === 0 || tableKind(t) === 'sharded');
}

function splitTargets(plan: SplitPlan): SplitTarget[] {
  return plan.targets.map((t) => ({ shard: t.shard, server: t.server, range: parseKeyRange(t.range) }));
}

function midpoint(shard: ShardConfig): string {
  const r = parseKeyRange(shard.keyRange);
  return `0x${((r.start + r.end) / 2n).toString(16).padStart(16, '0')}`;
}

/**
 * The source's own tables (not partitions, not the catalogs'), by the name a client uses: bare
 * when the search path finds it, schema-qualified otherwise.
 */
async function ordinaryTables(source: ServerAddress): Promise<string[]> {
  return withClient(source, 'migration-plan', async (c) => {
    const r = await c.query<{ name: string }>(
      `SELECT CASE WHEN pg_table_is_visible(c.oid) THEN c.relname
                   ELSE quote_ident(n.nspname) || '.' || quote_ident(c.relname) END AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                            AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1`,
    );
    return r.rows.map((row) => row.name);
  });
}

/** A source's tables and their sizes, from its own catalog (PostgreSQL's or MySQL's). */
function catalogOf(plan: Pick<SplitPlan, 'protocol'>) {
  return plan.protocol === 'mysql'
    ? { tables: mysqlBaseTables, sizes: mysqlTableSizes }
    : { tables: ordinaryTables, sizes: tableSizes };
}

async function tableSizes(
  source: ServerAddress,
  tables: string[],
): Promise<Map<string, { rows: number; bytes: number }>> {
  return withClient(source, 'migration-plan', async (c) => {
    const r = await c.query<{ name: string; rows: string; bytes: string }>(
      `SELECT c.relname AS name, greatest(c.reltuples, 0)::int8::text AS rows,
              pg_total_relation_size(c.oid)::text AS bytes
         FROM pg_class c WHERE c.relkind = 'r' AND c.relname = ANY($1::text[])
          AND pg_table_is_visible(c.oid)`,
      [tables],
    );
    const sizes = new Map(
      r.rows.map((row) => [row.name, { rows: Number(row.rows), bytes: Number(row.bytes) }]),
    );
    // Never analyzed (reltuples -1 in PostgreSQL 14+): count, the estimate matters for the plan.
    for (const [name, size] of sizes) {
      if (size.rows > 0) continue;
      const n = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdent(name)}`);
      size.rows = Number(n.rows[0]?.n ?? 0);
    }
    return sizes;
  });
}

function sleepAbortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
