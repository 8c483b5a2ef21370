// The split state machine of docs/cutover.md, run inside the proxy (it owns the topology and the
// sessions the cutover block holds). Every phase change is written to the state file first, so
// `migrate resume <id>` and a restarted proxy continue from it. The data plane (copy, capture,
// verify, cleanup) lives in its own modules; this file decides when each runs.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { RuntimeTopology } from '../backend/topology.js';
import type { ShardConfig, ShardgateConfig } from '../config/schema.js';
import { ShardgateError } from '../errors.js';
import { parseKeyRange } from '../router/sharding/keyspace.js';
import { ChangeApplier } from './applier.js';
import { deleteMovedRows, dropReplication } from './cleanup.js';
import { copyTables, newCopyStates } from './copier.js';
import { rememberBackendCredentials } from './credentials.js';
import type { CutoverGate } from './cutover-gate.js';
import { openClient, withClient } from './pg-connect.js';
import {
  createSlotWithSnapshot,
  currentWalLsn,
  dropPublication,
  dropSlot,
  type ExportedSnapshot,
  ensurePublication,
  slotExists,
} from './pg-replication.js';
import {
  configAfterSplit,
  configBeforeMove,
  planMove,
  planSplit,
  rehome,
  type SplitPlan,
  type SplitRequest,
} from './plan.js';
import { PressureMonitor } from './pressure.js';
import { holders, routeByShardKey, routeToFirst, tableKind } from './row-owner.js';
import { copySchema } from './schema-copy.js';
import { addResumeSegment } from './segments.js';
import { furthest, ownedSequences, readSequences, writeSequences } from './sequences.js';
import {
  type MigrationState,
  MigrationStore,
  type Phase,
  SWITCHED_PHASES,
  TERMINAL_PHASES,
} from './state-store.js';
import { quoteIdent } from './table-meta.js';
import { Throttle } from './throttle.js';
import type { ServerAddress, SplitTarget, VerifyReport } from './types.js';
import { verifySplit } from './verify.js';

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

export interface ManagerDeps {
  topology: RuntimeTopology;
  gate: CutoverGate;
  log: Logger;
  /** Balancing split point of a shard from the advisor (hex prefix), null without load data. */
  balancingPoint?: (shard: string) => string | null;
  registry?: Registry;
}

interface Running {
  abort: AbortController;
  done: Promise<void>;
  forward: ChangeApplier | null;
  reverse: ChangeApplier[];
}

const CATCH_UP_SAMPLES = 3;

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
    return this.running.has(id);
  }

  /** A verification of this migration is under way. */
  verifying(id: string): boolean {
    return this.verifyingNow.has(id);
  }

  /** After a restart: the reverse capture of switched migrations (their topology: see below). */
  async restore(): Promise<void> {
    for (const s of this.list()) {
      if (SWITCHED_PHASES.has(s.phase) && s.phase !== 'cleaned')
        this.track(s.id, (r) => this.startReverse(s, r));
    }
  }

  async plan(req: StartRequest): Promise<SplitPlan> {
    const config = this.config;
    const shard = config.shards.find((s) => s.name === req.shard);
    if (!shard) {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail: `no shard "${req.shard}"; shards: ${config.shards.map((s) => s.name).join(', ')}`,
      });
    }
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
    this.refuseBusy(req.shard);
    return this.begin(await this.plan(req), req);
  }

  /** Plans a move of an unsharded table to another shard (nothing is saved). */
  async planMove(req: MoveTableRequest): Promise<SplitPlan> {
    const config = this.config;
    const draft = planMove(config, { ...req, sizes: new Map(), inMaintenanceWindow: false });
    const sizes = await tableSizes(draft.source, [req.table]);
    if (!sizes.has(req.table) && !(await ordinaryTables(draft.source)).includes(req.table)) {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail: `table ${req.table} does not exist on ${draft.source.name}, its home ${draft.sourceShard}`,
      });
    }
    return planMove(config, { ...req, sizes, inMaintenanceWindow: this.inMaintenanceWindow() });
  }

  /** Moves an unsharded table to another shard live; returns its first state. */
  async startMove(req: MoveTableRequest): Promise<MigrationState> {
    this.refuseWorkers();
    const plan = await this.planMove(req);
    this.refuseBusy(plan.sourceShard);
    this.refuseBusy(plan.targets[0]!.shard);
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

  private refuseWorkers(): void {
    if (this.config.workers !== 1) {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail:
          'a live migration needs workers: 1 (the cutover block must see every session); restart with --workers 1',
      });
    }
  }

  /** A shard takes part in at most one unfinished migration. */
  private refuseBusy(shard: string): void {
    for (const m of this.list()) {
      const involved = [
        m.plan.sourceShard,
        ...(m.plan.operation === 'move' ? [m.plan.targets[0]!.shard] : []),
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
    const name =
      plan.operation === 'move'
        ? `move-${plan.move!.table.replace(/[^A-Za-z0-9]/g, '_')}`
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
      slot: null,
      copy: [],
      capture: { appliedLsn: null, lagBytes: null, lagSeconds: null },
      cutovers: [],
      switchPositions: null,
      reverse: null,
      verify: null,
      error: null,
      history: [
        {
          at: now,
          phase: 'planned',
          note:
            plan.operation === 'move'
              ? `move ${plan.move!.table} from ${plan.sourceShard} to ${plan.move!.to}`
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
    const plan = state.plan;
    if (state.slot) {
      await dropReplication(plan.source, [state.slot.name], [state.slot.publication]).catch(() => undefined);
    }
    if (state.reverse) {
      for (const [i, t] of plan.targets.entries()) {
        await dropReplication(t.server, [state.reverse.slots[i]!], [state.reverse.publication]).catch(
          () => undefined,
        );
      }
    }
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
    void this.runVerify(state, running);
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
    const plan = state.plan;
    this.note(state, 'verified', 'cleanup: deleting the moved rows from the source');
    await deleteMovedRows({
      source: plan.source,
      tables: plan.tables,
      ranges: [parseKeyRange(plan.sourceRange)],
    });
    await dropReplication(
      plan.source,
      state.slot ? [state.slot.name] : [],
      state.slot ? [state.slot.publication] : [],
    );
    for (const [i, t] of plan.targets.entries()) {
      if (state.reverse)
        await dropReplication(t.server, [state.reverse.slots[i]!], [state.reverse.publication]);
    }
    this.note(state, 'cleaned', 'moved rows deleted from the source; slots and publications dropped');
    return state;
  }

  /** Returns traffic to the source, carrying back the writes made on the targets since the switch. */
  async rollback(id: string): Promise<MigrationState> {
    const state = this.get(id);
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
    const moving = plan.operation === 'move';
    const halves = plan.targets.map((t) => t.shard);
    const source = plan.sourceShardConfig;
    // A move's source shard never left the topology: its pool is warm.
    if (!moving)
      await this.deps.topology
        .prewarm(
          source.primary.name ?? `${source.name}-primary`,
          source.name,
          source.primary,
          this.config.pool.size,
        )
        .catch(() => undefined);
    const sequences = await movedSequences(plan);
    const control =
      sequences.source.length > 0
        ? await Promise.all(
            [plan.source, ...plan.targets.map((t) => t.server)].map((a) =>
              openClient(a, 'migration-cutover'),
            ),
          )
        : [];
    const report = await this.deps.gate.block(
      halves,
      { migrationId: id, graceMs: plan.inflightGraceMs, deadlineMs: plan.cutoverDeadlineMs },
      {
        catchUp: async (remaining) => {
          await Promise.all(running.reverse.map((r) => r.catchUp(remaining)));
        },
        switchTopology: async () => {
          if (control.length > 0) {
            const [source, ...halfClients] = control;
            const readings = await Promise.all(
              halfClients.map((c, i) => readSequences(c, [...sequences.targets[i]!])),
            );
            await writeSequences(source!, furthest(readings), new Set(sequences.source));
          }
          const position = await currentWalLsn(plan.source);
          this.deps.topology.rebuild(configBeforeSplit(this.config, plan));
          for (const h of halves) {
            const back = new Map([[plan.sourceShard, position]]);
            if (moving) this.deps.gate.translations.recordAlongside(h, back);
            else this.deps.gate.translations.record(h, back);
          }
        },
      },
    );
    await Promise.all(control.map((c) => c.end().catch(() => undefined)));
    state.cutovers.push(report);
    if (report.outcome !== 'switched') {
      this.note(
        state,
        state.phase,
        `rollback block aborted (${report.reason}); traffic stays on the targets`,
      );
      return state;
    }
    await this.stopRunning(id);
    if (state.slot) {
      await dropReplication(plan.source, [state.slot.name], [state.slot.publication]).catch(() => undefined);
    }
    for (const [i, t] of plan.targets.entries()) {
      if (state.reverse) {
        await dropReplication(t.server, [state.reverse.slots[i]!], [state.reverse.publication]).catch(
          () => undefined,
        );
      }
    }
    this.note(
      state,
      'rolled_back',
      `traffic is back on ${plan.sourceShard} (block ${Math.round(report.blockMs)} ms)`,
    );
    return state;
  }

  async close(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.stopRunning(id)));
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
      forward: null,
      reverse: [],
    };
    this.running.set(id, running);
    running.done = body(running).catch((err: unknown) => {
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
    await r.forward?.stop().catch(() => undefined);
    await Promise.all(r.reverse.map((a) => a.stop().catch(() => undefined)));
    await r.done;
    this.running.delete(id);
    this.lagGauge?.remove(id);
  }

  private drive(state: MigrationState, req: StartRequest): void {
    this.track(state.id, async (running) => {
      const { signal } = running.abort;
      const plan = state.plan;
      const targets = splitTargets(plan);
      const slotName = `shardgate_${state.id.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`.slice(0, 63);
      const publication = `${slotName}_pub`;
      let snapshot: ExportedSnapshot | null = null;
      try {
        if (state.phase === 'planned' || state.phase === 'schema') {
          this.note(
            state,
            'schema',
            `schema of ${plan.tables.length} tables on ${targets.map((t) => t.server.name).join(', ')}`,
          );
          // Unsharded tables go to the first half only (the new default shard).
          for (const [i, t] of targets.entries()) {
            await copySchema({
              source: plan.source,
              targets: [t.server],
              tables: tablesOn(plan, i).map((x) => x.name),
            });
          }
          await ensurePublication(
            plan.source,
            publication,
            plan.tables.map((t) => t.name),
          );
          if (state.slot && (await slotExists(plan.source, state.slot.name)))
            await dropSlot(plan.source, state.slot.name);
          snapshot = await createSlotWithSnapshot(plan.source, slotName);
          state.slot = { name: slotName, publication, consistentLsn: snapshot.consistentLsn };
          state.copy = await newCopyStates(plan.source, plan.tables, snapshot.consistentLsn);
          this.note(state, 'copying', 'copying');
        }
        if (state.phase === 'copying') {
          if (!snapshot) {
            // Resumed: the first snapshot died with its connection; the rest comes from a new one.
            snapshot = await createSlotWithSnapshot(
              plan.source,
              `${slotName}_r${Date.now().toString(36)}`.slice(0, 63),
              {
                temporary: true,
              },
            );
            for (const t of state.copy) if (!t.done) addResumeSegment(t, snapshot.consistentLsn);
            this.store.save(state);
          }
          const throttle = new Throttle(plan.throttle);
          const pressure = new PressureMonitor(plan.source, throttle, { intervalMs: 2_000 });
          pressure.start();
          try {
            const result = await copyTables({
              source: plan.source,
              targets,
              tables: plan.tables,
              states: state.copy,
              snapshotName: snapshot.snapshotName,
              throttle,
              signal,
              checkpoint: async (states) => {
                state.copy = states;
                this.store.save(state);
                this.rowsGauge?.set(
                  { migration: state.id },
                  states.reduce((n, s) => n + s.rows, 0),
                );
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
            snapshot = null;
          }
          this.note(state, 'catching_up', 'applying the changes captured during the copy');
        }
        if (state.phase === 'catching_up' || state.phase === 'blocking') {
          await this.catchUpAndSwitch(state, running, targets, req);
        }
      } finally {
        await snapshot?.release();
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
    const slot = state.slot!;
    const signal = running.abort.signal;
    const forward = new ChangeApplier({
      source: plan.source,
      slot: slot.name,
      publication: slot.publication,
      destinations: targets.map((t) => t.server),
      route: routeByShardKey(
        plan.tables,
        targets.map((t) => t.range),
      ),
      tables: plan.tables,
      copyStates: state.copy,
      onStatus: (status) => {
        state.status = status;
      },
    });
    running.forward = forward;
    await forward.start();
    // Reverse capture slots exist before the switch, so no write on a target escapes them.
    const reversePublication = `${slot.name}_rev`;
    const reverseSlots = targets.map((_, i) => `${slot.name}_rev${i}`.slice(0, 63));
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
    const attempts = req.cutoverAttempts ?? 3;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      // Catching up: no cutover until the lag stays small for a few samples.
      let small = 0;
      while (small < CATCH_UP_SAMPLES) {
        if (signal.aborted) return;
        // A stopped capture never catches up: say why instead of waiting on a growing lag.
        if (forward.status.startsWith('error'))
          throw new Error(`the change capture stopped: ${forward.status}`);
        const lag = await forward.lag();
        state.capture = { appliedLsn: forward.appliedLsn, lagBytes: lag.bytes, lagSeconds: lag.seconds };
        this.lagGauge?.set({ migration: state.id }, lag.bytes ?? 0);
        small = lag.bytes !== null && lag.bytes <= threshold ? small + 1 : 0;
        state.status = `catching up: ${lag.bytes ?? '?'} bytes behind${forward.status === 'streaming' ? '' : ` (capture ${forward.status})`}`;
        this.store.save(state);
        await sleepAbortable(200, signal);
      }
      this.note(state, 'blocking', `cutover attempt ${attempt}`);
      // Opened before the block: a connection setup inside it would lengthen every held write,
      // and every statement it releases would wait for a new server connection to the targets.
      const control = await Promise.all(targets.map((t) => openClient(t.server, 'migration-cutover')));
      const sourceControl =
        sequences.source.length > 0 ? await openClient(plan.source, 'migration-cutover') : null;
      const spares = this.config.migration.spares;
      await Promise.all(
        plan.targets.map((t) => {
          const server = spares.find((s) => s.name === t.server.name);
          return server
            ? this.deps.topology
                .prewarm(t.server.name, t.shard, server, this.config.pool.size)
                .catch(() => undefined)
            : undefined;
        }),
      );
      const report = await this.deps.gate.block(
        [plan.sourceShard],
        { migrationId: state.id, graceMs: plan.inflightGraceMs, deadlineMs: plan.cutoverDeadlineMs },
        {
          catchUp: async (remaining) => {
            await forward.catchUp(remaining);
          },
          switchTopology: async () => {
            if (sourceControl) {
              const at = await readSequences(sourceControl, sequences.source);
              await Promise.all(control.map((c, i) => writeSequences(c, at, sequences.targets[i]!)));
            }
            const positions = new Map<string, string>();
            const lsns = await Promise.all(control.map((c) => currentWalLsn(c)));
            for (const [i, t] of targets.entries()) positions.set(t.shard, lsns[i]!);
            state.switchPositions = Object.fromEntries(positions);
            this.deps.topology.rebuild(configAfterSplit(this.config, plan));
            if (plan.operation === 'move')
              this.deps.gate.translations.recordAlongside(plan.sourceShard, positions);
            else this.deps.gate.translations.record(plan.sourceShard, positions);
          },
        },
      );
      await Promise.all([...control, sourceControl].map((c) => c?.end().catch(() => undefined)));
      state.cutovers.push(report);
      if (report.outcome === 'switched') {
        this.note(
          state,
          'switched',
          `switched in ${Math.round(report.blockMs)} ms (${report.heldStatements} statements held, max ${Math.round(report.maxHeldMs)} ms)`,
        );
        await forward.stop();
        running.forward = null;
        this.lagGauge?.remove(state.id);
        await this.startReverse(state, running);
        return;
      }
      this.note(
        state,
        'catching_up',
        `cutover attempt ${attempt} aborted: ${report.reason}; traffic stayed on ${plan.sourceShard}`,
      );
    }
    await forward.stop();
    running.forward = null;
    this.note(
      state,
      'catching_up',
      `${attempts} cutover attempts aborted (last: ${state.cutovers.at(-1)?.reason}); \`shardgate migrate resume ${state.id}\` tries again`,
    );
  }

  /** Reverse capture (targets -> source) from the switch positions, then verification. */
  private async startReverse(state: MigrationState, running: Running): Promise<void> {
    const plan = state.plan;
    if (!state.reverse) return;
    running.reverse = plan.targets.map(
      (t, i) =>
        new ChangeApplier({
          source: t.server,
          slot: state.reverse!.slots[i]!,
          publication: state.reverse!.publication,
          destinations: [plan.source],
          route: routeToFirst,
          tables: reverseTables(plan, i),
          ...(state.switchPositions?.[t.shard] ? { startLsn: state.switchPositions[t.shard] } : {}),
        }),
    );
    for (const r of running.reverse) await r.start();
    if (state.phase === 'switched' || state.phase === 'verifying') await this.runVerify(state, running);
  }

  private async runVerify(state: MigrationState, running: Running): Promise<void> {
    const plan = state.plan;
    this.verifyingNow.add(state.id);
    this.note(
      state,
      'verifying',
      `verifying (${plan.verify === 'full' ? 'full' : `sample of ${plan.verify.sample} chunks`})`,
    );
    let report: VerifyReport;
    try {
      report = await verifySplit({
        source: plan.source,
        targets: splitTargets(plan),
        tables: plan.tables,
        mode: plan.verify === 'full' ? 'full' : 'sample',
        sample: plan.verify === 'full' ? 0 : plan.verify.sample,
        settle: async () => {
          await Promise.all(running.reverse.map((r) => r.catchUp(10_000)));
        },
      });
    } finally {
      this.verifyingNow.delete(state.id);
    }
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
  for (const s of states) if (SWITCHED_PHASES.has(s.phase)) out = configAfterSplit(out, s.plan);
  return out;
}

/** Sequences owned by the moved tables: on the source, and the set each target has. */
async function movedSequences(plan: SplitPlan): Promise<{ source: string[]; targets: Array<Set<string>> }> {
  const source = await withClient(plan.source, 'migration-plan', (c) =>
    ownedSequences(
      c,
      plan.tables.map((t) => t.name),
    ),
  );
  if (source.length === 0) return { source, targets: plan.targets.map(() => new Set()) };
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
  return { source, targets };
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

/** The config before the split: the halves replaced by the source shard as it was. */
function configBeforeSplit(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  if (plan.operation === 'move') return configBeforeMove(config, plan);
  const names = new Set(plan.targets.map((t) => t.shard));
  const index = config.shards.findIndex((s) => names.has(s.name));
  if (index < 0) return config;
  const shards = config.shards.filter((s) => !names.has(s.name));
  shards.splice(index, 0, plan.sourceShardConfig);
  const defaultShard = names.has(config.routing.defaultShard ?? '')
    ? plan.sourceShard
    : config.routing.defaultShard;
  return {
    ...config,
    shards,
    routing: { ...config.routing, defaultShard },
    tables: rehome(config.tables, plan.targets[0]!.shard, plan.sourceShard),
  };
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
