// The MySQL/MariaDB driver of the migration manager's split, merge and table move: the manager
// owns the phases, the state file, resume, progress and the (fenced) cutover block; this file runs
// each phase's MySQL data plane over every source (mysql-sources.ts: copy, binlog capture,
// verification) and keeps its checkpoints in the state: per source, the copy's cursors with the
// first snapshot's GTID position after every batch, and the binlog position the capture applied.
//
// Resume after a crash: the copy goes on from its cursors with a newer snapshot, and the capture
// starts at the first snapshot's position (or the applied position, once the capture ran), so a
// change made meanwhile to a row copied before the crash still reaches the halves; every apply is
// an upsert or a delete by primary key, so what is replayed twice converges.
import { createHash } from 'node:crypto';
import type { SwitchEntry } from '../control/control-plane.js';
import { type CutoverOptions, type CutoverReport, type CutoverSteps, switchedNote } from './cutover-gate.js';
import {
  copiedMysqlRows,
  copyMysqlSources,
  MysqlSourceCaptures,
  publishMysqlCopies,
  resetMysqlLegs,
} from './mysql-sources.js';
import type { SwitchableTopology } from './mysql-split.js';
import { binlogPosition, openMysqlEach, withMysql } from './mysql-table.js';
import { planSources } from './plan.js';
import type { MigrationState, Phase } from './state-store.js';
import { configAfterSwitch } from './switch-config.js';
import { Throttle } from './throttle.js';
import type { ServerAddress } from './types.js';

/** What the manager lends the driver: its state machine's steps, never its own state. */
export interface SplitDriverContext {
  note(state: MigrationState, phase: Phase, status: string): void;
  save(state: MigrationState): void;
  fencedBlock(
    shards: string[],
    options: CutoverOptions,
    steps: (commit: (entry: Omit<SwitchEntry, 'version'>) => Promise<void>) => CutoverSteps,
  ): Promise<CutoverReport>;
  topology: SwitchableTopology & {
    /** Keeps a shard's replicas out of rotation until they have replayed `position` (topology.ts). */
    fenceReplicas(shard: string, position: string, protocol: 'mysql'): void;
  };
  onCopied(state: MigrationState, rows: number): void;
}

/** How long one catch-up wait outside the block lasts before the state is saved again. */
const CATCH_UP_ROUND_MS = 2_000;

export async function driveMysqlSplit(
  ctx: SplitDriverContext,
  state: MigrationState,
  signal: AbortSignal,
  cutoverAttempts: number,
): Promise<void> {
  const plan = state.plan;
  const targets = plan.targets;
  const sources = planSources(plan).map((s) => s.shard);
  if (state.phase === 'planned' || state.phase === 'schema') {
    // The copier applies the schema (SHOW CREATE TABLE, IF NOT EXISTS) before its snapshot.
    ctx.note(
      state,
      'schema',
      `schema of ${plan.tables.length} tables on ${targets.map((t) => t.server.name).join(', ')}`,
    );
    resetMysqlLegs(state);
    ctx.note(state, 'copying', 'copying');
  }
  if (state.phase === 'copying') {
    const result = await copyMysqlSources({
      state,
      throttle: new Throttle(plan.throttle),
      signal,
      checkpoint: async () => {
        publishMysqlCopies(state);
        ctx.save(state);
        ctx.onCopied(state, copiedMysqlRows(state));
      },
    });
    if (!result.complete) return;
    publishMysqlCopies(state);
    if (result.unownedRows > 0)
      throw new Error(
        `${result.unownedRows} rows have a shard key no half owns (NULL?); fix them on ${planSources(plan)
          .map((s) => s.server.name)
          .join(', ')} and resume`,
      );
    ctx.note(state, 'catching_up', 'applying the binlog changes made during the copy');
  }
  if (state.phase !== 'catching_up' && state.phase !== 'blocking') return;
  const capture = await MysqlSourceCaptures.start(state, binlogServerId(state.id));
  // Stopped once: by an abort of the run (so a wait in catchUp ends), or when the run ends.
  let stopped: Promise<string | null> | null = null;
  const stopCapture = () => {
    stopped ??= capture.stop();
    return stopped;
  };
  const stop = () => void stopCapture();
  signal.addEventListener('abort', stop, { once: true });
  const checkpoint = () => capture.checkpoint(state);
  try {
    for (let attempt = 1; attempt <= cutoverAttempts; attempt++) {
      // Caught up once outside the block, so the block waits only for what came since.
      for (;;) {
        if (signal.aborted) return;
        try {
          await capture.catchUp(CATCH_UP_ROUND_MS);
          break;
        } catch (err) {
          if (capture.error) throw new Error(`the change capture stopped: ${capture.error.message}`);
          if (signal.aborted) return;
          checkpoint();
          state.status = `catching up: ${err instanceof Error ? err.message : String(err)}`;
          ctx.save(state);
        }
      }
      checkpoint();
      ctx.note(state, 'blocking', `cutover attempt ${attempt}`);
      // Opened before the block: a connection set up inside it (TCP, login) lengthens every held write.
      const control = await openMysqlEach(targets.map((t) => t.server));
      let report: CutoverReport;
      try {
        report = await ctx.fencedBlock(
          sources,
          { migrationId: state.id, graceMs: plan.inflightGraceMs, deadlineMs: plan.cutoverDeadlineMs },
          (commit) => ({
            catchUp: async (remainingMs) => {
              await capture.catchUp(remainingMs);
              // Where each half's reverse capture begins: nothing reaches a half until the switch.
              state.mysql!.reverseGtid = await Promise.all(control.map((c) => binlogPosition(c)));
            },
            switchTopology: async () => {
              // Each half's replicas serve once they have replayed everything the switch moved.
              const positions = Object.fromEntries(
                targets.map((t, i) => [t.shard, state.mysql!.reverseGtid![i]!] as const),
              );
              await commit({ migrationId: state.id, kind: 'switch', plan, positions });
              state.switchPositions = positions;
              ctx.topology.rebuild(configAfterSwitch(ctx.topology.currentConfig, plan));
              fenceMysqlReplicas(ctx, positions);
            },
          }),
        );
      } finally {
        await Promise.allSettled(control.map((c) => c.end()));
      }
      checkpoint();
      state.cutovers.push(report);
      if (report.outcome === 'switched') {
        // Verified after the switch, as on PostgreSQL, by the manager once the reverse capture
        // runs (verifyMysqlAfterSwitch): whole tables read inside the block made it as long as
        // the moved tables (about 350 ms for 23,000 rows), past the deadline for large ones.
        ctx.note(state, 'switched', switchedNote(report));
        return;
      }
      ctx.note(
        state,
        'catching_up',
        `cutover attempt ${attempt} aborted: ${report.reason}; traffic stayed on ${sources.join(' and ')}`,
      );
    }
    ctx.note(
      state,
      'catching_up',
      `${cutoverAttempts} cutover attempts aborted (last: ${state.cutovers.at(-1)?.reason}); \`shardgate migrate resume ${state.id}\` tries again`,
    );
  } finally {
    signal.removeEventListener('abort', stop);
    await stopCapture();
  }
}

/**
 * Called in the same synchronous step as the switch's rebuild, so no read reaches a replica that
 * lacks what the switch moved (a read_your_writes session's earlier writes among it).
 */
export function fenceMysqlReplicas(ctx: SplitDriverContext, positions: Record<string, string>): void {
  for (const [shard, position] of Object.entries(positions))
    ctx.topology.fenceReplicas(shard, position, 'mysql');
}

/**
 * The binlog client's server id: fixed per migration (a resumed capture replaces its own
 * connection on the source), away from the small ids servers of a topology usually take.
 */
export function binlogServerId(migrationId: string): number {
  return 100_000 + (createHash('sha256').update(migrationId).digest().readUInt32BE(0) % 1_000_000_000);
}

/** Estimated rows and bytes of each table on a MySQL source (information_schema, for the plan). */
export async function mysqlTableSizes(
  source: ServerAddress,
  tables: readonly string[],
): Promise<Map<string, { rows: number; bytes: number }>> {
  return withMysql(source, async (c) => {
    const sizes = new Map<string, { rows: number; bytes: number }>();
    if (tables.length === 0) return sizes;
    const [rows] = await c.query(
      `SELECT TABLE_NAME AS name, TABLE_ROWS AS n, DATA_LENGTH + INDEX_LENGTH AS bytes
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)`,
      [tables],
    );
    for (const r of rows as Array<{ name: string; n: string | number | null; bytes: string | number | null }>)
      sizes.set(r.name, { rows: Number(r.n ?? 0), bytes: Number(r.bytes ?? 0) });
    return sizes;
  });
}

/** The source database's own tables (not views), by name. */
export async function mysqlBaseTables(source: ServerAddress): Promise<string[]> {
  return withMysql(source, async (c) => {
    const [rows] = await c.query(
      `SELECT TABLE_NAME AS name FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1`,
    );
    return (rows as Array<{ name: string }>).map((r) => r.name);
  });
}
