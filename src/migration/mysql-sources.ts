// The MySQL data plane over every source of a migration, for the driver (mysql-split-driver.ts):
// a split or a table move has one source, a merge two. Each source has its own snapshot, GTID
// position and binlog stream (positions of two servers do not compare), and in a merge its own
// keyspace on the one target: rows of a sharded table outside it are leftovers of an earlier
// split there, neither copied, nor carried, nor verified. With one source this is the split's
// copy, capture and verification unchanged.
import { parseKeyRange } from '../domain/keyspace.js';
import { MysqlBinlogCapture } from './mysql-binlog-capture.js';
import { copyMysqlTables, type MysqlCopyState } from './mysql-copier.js';
import { verifyMysqlSplit } from './mysql-verify.js';
import { carriedTables, type PlannedSource, planSources, type SplitPlan } from './plan.js';
import type { MigrationState } from './state-store.js';
import type { Throttle } from './throttle.js';
import type { SplitTarget, TableCopyState, VerifyReport } from './types.js';
import { combineReports } from './verify-report.js';

/** One source's checkpoints: the copy's cursors and first GTID position, the applied position. */
export interface MysqlLeg {
  copy: MysqlCopyState | null;
  appliedGtid: string | null;
}

/** The checkpoints of each source, in planSources order (the first is `state.mysql` itself). */
export function mysqlLegs(state: MigrationState): MysqlLeg[] {
  state.mysql ??= { copy: null, appliedGtid: null };
  const others = planSources(state.plan).length - 1;
  if (others > 0)
    state.mysql.sources ??= Array.from({ length: others }, () => ({ copy: null, appliedGtid: null }));
  return [state.mysql, ...(state.mysql.sources ?? [])];
}

/** A new start of the copy: every source's checkpoints go. */
export function resetMysqlLegs(state: MigrationState): void {
  for (const leg of mysqlLegs(state)) {
    leg.copy = null;
    leg.appliedGtid = null;
  }
}

export function mysqlTargets(plan: SplitPlan): SplitTarget[] {
  return plan.targets.map((t) => ({ shard: t.shard, server: t.server, range: parseKeyRange(t.range) }));
}

/** The keyspace a merge source accounts for on the merged target (undefined: all of it). */
function scopeOf(plan: SplitPlan, source: PlannedSource) {
  return planSources(plan).length > 1 ? { scope: [parseKeyRange(source.range)] } : {};
}

/**
 * Copies every source in turn, each from its own snapshot, resuming from its cursors; sources
 * whose copy completed are skipped. `checkpoint` persists the state after every batch.
 */
export async function copyMysqlSources(o: {
  state: MigrationState;
  throttle: Throttle;
  signal: AbortSignal;
  checkpoint: () => Promise<void>;
}): Promise<{ complete: boolean; unownedRows: number }> {
  const plan = o.state.plan;
  const legs = mysqlLegs(o.state);
  let unownedRows = 0;
  for (const [j, source] of planSources(plan).entries()) {
    const leg = legs[j]!;
    if (leg.copy?.tables.every((t) => t.done)) continue;
    const result = await copyMysqlTables({
      source: source.server,
      targets: mysqlTargets(plan),
      tables: carriedTables(plan, j),
      throttle: o.throttle,
      signal: o.signal,
      ...scopeOf(plan, source),
      ...(leg.copy ? { resume: leg.copy } : {}),
      checkpoint: async (copy) => {
        leg.copy = copy;
        await o.checkpoint();
      },
    });
    if (!result.complete) return { complete: false, unownedRows };
    leg.copy = result.state;
    unownedRows += result.unownedRows;
  }
  return { complete: true, unownedRows };
}

/** Rows copied so far over every source. */
export function copiedMysqlRows(state: MigrationState): number {
  return mysqlLegs(state).reduce((n, l) => n + (l.copy?.tables.reduce((m, t) => m + t.rows, 0) ?? 0), 0);
}

/** The copies' cursors in the shape progress views read for both protocols, one leg per source. */
export function publishMysqlCopies(state: MigrationState): void {
  const estimated = new Map(state.plan.tables.map((t) => [t.name, t.rows]));
  state.legs = mysqlLegs(state).map((leg) => ({
    slot: null,
    copy: (leg.copy?.tables ?? []).map(
      (t): TableCopyState => ({
        table: t.table,
        primaryKey: [],
        lastKey: t.lastKey?.map((k) => (k !== null && typeof k === 'object' ? k.hex : String(k))) ?? null,
        rows: t.rows,
        bytes: 0,
        done: t.done,
        segments: [],
        estimatedRows: estimated.get(t.table) ?? 0,
      }),
    ),
  }));
}

/** One binlog capture per source, into the targets, each from its own saved position. */
export class MysqlSourceCaptures {
  private constructor(private readonly captures: Array<MysqlBinlogCapture | null>) {}

  static async start(state: MigrationState, serverId: number): Promise<MysqlSourceCaptures> {
    const plan = state.plan;
    const legs = mysqlLegs(state);
    const captures: Array<MysqlBinlogCapture | null> = [];
    const started = new MysqlSourceCaptures(captures);
    try {
      for (const [j, source] of planSources(plan).entries()) {
        const tables = carriedTables(plan, j);
        if (tables.length === 0) {
          captures.push(null);
          continue;
        }
        const from = legs[j]!.appliedGtid ?? legs[j]!.copy?.gtidPosition;
        if (!from)
          throw new Error(
            `no binlog position was saved for the capture from ${source.server.name}; abort this migration and start again`,
          );
        captures.push(
          await MysqlBinlogCapture.start({
            source: source.server,
            targets: mysqlTargets(plan),
            tables,
            fromGtid: from,
            serverId,
            ...scopeOf(plan, source),
          }),
        );
      }
    } catch (err) {
      await started.stop();
      throw err;
    }
    return started;
  }

  /** Every source's changes committed when called are on the targets (throws as catchUp does). */
  async catchUp(timeoutMs: number): Promise<void> {
    await Promise.all(this.captures.map((c) => c?.catchUp(timeoutMs)));
  }

  get error(): Error | null {
    return this.captures.find((c) => c?.error)?.error ?? null;
  }

  /** Saves each source's applied position in its leg, and all of them for progress views. */
  checkpoint(state: MigrationState): void {
    const legs = mysqlLegs(state);
    const applied: string[] = [];
    for (const [j, c] of this.captures.entries()) {
      if (!c) continue;
      legs[j]!.appliedGtid = c.appliedPosition;
      applied.push(c.appliedPosition);
    }
    state.capture = { appliedLsn: applied.join(' / '), lagBytes: null, lagSeconds: null };
  }

  /** Every source's capture stopped; why any stop was forced (mysql-binlog-capture.ts), or null. */
  async stop(): Promise<string | null> {
    const reasons = await Promise.all(this.captures.map((c) => c?.stop() ?? null));
    return reasons.filter((r): r is string => r !== null).join('; ') || null;
  }
}

/**
 * Each source against its own part of the targets, summed: run while writes are held, or after
 * the switch with `settle` (the reverse captures' catch-up; see verifyMysqlSplit).
 */
export async function verifyMysqlSources(
  plan: SplitPlan,
  settle?: () => Promise<void>,
): Promise<VerifyReport> {
  const reports: VerifyReport[] = [];
  for (const [j, source] of planSources(plan).entries()) {
    reports.push(
      await verifyMysqlSplit(
        source.server,
        mysqlTargets(plan),
        carriedTables(plan, j),
        scopeOf(plan, source).scope,
        settle,
      ),
    );
  }
  return combineReports(reports, plan);
}
