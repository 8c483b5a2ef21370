// The reverse capture of a switched MySQL/MariaDB migration: each target's binlog, from the
// target's GTID position read inside the switch block, applied to the old source servers for the
// tables that target carries. A split's halves each carry back to the one source (the sharded
// tables from every half, reference and unsharded ones from the first only, as on PostgreSQL: two
// streams of the same writes would interleave on the source); a merge's one target carries back
// to both sources, a sharded row to the source whose range holds its key, a reference row to
// both, an unsharded row to the source it came from; a table move's target carries the moved
// table back to its old shard. It keeps the sources current so a rollback loses nothing. The
// applied position of each target is saved in the state file every few seconds; after a restart
// the capture starts there again (every apply is an upsert or a delete by primary key, so a
// replayed suffix converges).
import { parseKeyRange } from '../domain/keyspace.js';
import { MysqlBinlogCapture } from './mysql-binlog-capture.js';
import { binlogServerId, type SplitDriverContext } from './mysql-split-driver.js';
import { planSources, type SplitPlan } from './plan.js';
import type { ReverseStream } from './reverse-stream.js';
import { holders, tableKind } from './row-owner.js';
import { type MigrationState, SWITCHED_PHASES } from './state-store.js';
import type { SplitTarget } from './types.js';

/** The manager's steps after the switch: also a fresh read of the state file. */
export interface AfterSwitchContext extends SplitDriverContext {
  load(id: string): MigrationState | null;
}

/** How often the applied positions are written to the state file (when they moved). */
const CHECKPOINT_MS = 2_000;

/** The tables target i's reverse capture carries back to the sources. */
export function mysqlReverseTables(plan: SplitPlan, i: number): SplitPlan['tables'] {
  return plan.tables.filter(
    (t) => holders(t, plan.targets.length).includes(i) && (i === 0 || tableKind(t) === 'sharded'),
  );
}

/** Where target i's reverse capture writes: every source, each over its own key range. */
function reverseDestinations(plan: SplitPlan): SplitTarget[] {
  return planSources(plan).map((s) => ({ shard: s.shard, server: s.server, range: parseKeyRange(s.range) }));
}

/** The source each unsharded table came from (a merge's may come from either). */
function unshardedHomes(plan: SplitPlan): Map<string, number> {
  const homes = new Map<string, number>();
  for (const [j, s] of planSources(plan).entries())
    for (const t of s.tables) if (tableKind(t) === 'unsharded' && !homes.has(t.name)) homes.set(t.name, j);
  return homes;
}

/** Starts one reverse capture per target from the saved positions. */
export async function startMysqlReverse(
  ctx: AfterSwitchContext,
  state: MigrationState,
): Promise<ReverseStream[]> {
  const plan = state.plan;
  const from = state.mysql?.reverseGtid;
  if (!from || from.length !== plan.targets.length)
    throw new Error(
      'this migration switched without a reverse capture position (a version before MySQL rollback); it can be cleaned up by hand, not rolled back',
    );
  const destinations = reverseDestinations(plan);
  const homes = unshardedHomes(plan);
  const streams: MysqlReverseStream[] = [];
  try {
    for (const [i, t] of plan.targets.entries()) {
      const capture = await MysqlBinlogCapture.start({
        source: t.server,
        targets: destinations,
        tables: mysqlReverseTables(plan, i),
        homes,
        fromGtid: from[i]!,
        serverId: binlogServerId(`${state.id}:reverse:${i}`),
      });
      streams.push(new MysqlReverseStream(ctx, state.id, i, t.shard, capture));
    }
  } catch (err) {
    await Promise.allSettled(streams.map((s) => s.stop()));
    throw err;
  }
  return streams;
}

/** One target's capture, checkpointed into the state file while it runs. */
class MysqlReverseStream implements ReverseStream {
  private readonly timer: NodeJS.Timeout;
  private saved: string;
  private reported = false;

  constructor(
    private readonly ctx: AfterSwitchContext,
    private readonly id: string,
    private readonly index: number,
    private readonly shard: string,
    private readonly capture: MysqlBinlogCapture,
  ) {
    this.saved = capture.appliedPosition;
    this.timer = setInterval(() => this.checkpoint(), CHECKPOINT_MS);
    this.timer.unref();
  }

  /**
   * Written on a fresh read of the state file: the operator's commands (verify, cleanup,
   * rollback) save their own copy of the state meanwhile, and this one must not undo theirs.
   */
  private checkpoint(): void {
    const position = this.capture.appliedPosition;
    const failed = this.capture.error;
    if (position === this.saved && (!failed || this.reported)) return;
    const state = this.ctx.load(this.id);
    if (!state?.mysql?.reverseGtid || !SWITCHED_PHASES.has(state.phase) || state.phase === 'cleaned') return;
    state.mysql.reverseGtid[this.index] = position;
    if (failed && !this.reported) {
      state.status = `the reverse capture from ${this.shard} stopped: ${failed.message}; rollback and verification are refused until it runs again (restart the proxy)`;
      this.reported = true;
    }
    this.ctx.save(state);
    this.saved = position;
  }

  catchUp(timeoutMs: number): Promise<string> {
    return this.capture.catchUp(timeoutMs);
  }

  /** Bounded (the capture's stop is); rejects with the reason when it had to cut the connections. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const forced = await this.capture.stop();
    if (forced) throw new Error(`the reverse capture from ${this.shard} was stopped by force: ${forced}`);
  }
}
