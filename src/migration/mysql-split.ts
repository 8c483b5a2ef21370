// A MySQL/MariaDB split driven end to end from one function: copy from a consistent snapshot,
// binlog capture from its GTID position, a first catch-up outside the block, then the cutover
// block at the gate every session of both protocols takes write admissions at (hold, drain,
// catch up to the source's final position, verify whole tables, switch the routing to the
// halves, release), after the check of the spares' replicas a planned split gets too.
// `shardgate migrate split` runs the same steps through the migration manager, with its state
// file and resume (mysql-split-driver.ts).
import type { ShardgateConfig } from '../config/schema.js';
import type { CutoverGate, CutoverReport } from './cutover-gate.js';
import { MysqlBinlogCapture } from './mysql-binlog-capture.js';
import { copyMysqlTables } from './mysql-copier.js';
import { verifyMysqlSplit } from './mysql-verify.js';
import { spareReplicas } from './plan.js';
import { checkSpareReplicas } from './spare-replicas.js';
import { mysqlConfigAfterSplit } from './switch-config.js';
import type { Throttle } from './throttle.js';
import type { MovedTable, ServerAddress, SplitTarget, VerifyReport } from './types.js';

/** The one config both front ends' topologies are built from (the PostgreSQL topology's: proxy.ts). */
export interface SwitchableTopology {
  readonly currentConfig: ShardgateConfig;
  rebuild(config: ShardgateConfig): void;
}

export interface MysqlSplitOptions {
  migrationId: string;
  sourceShard: string;
  source: ServerAddress;
  targets: readonly SplitTarget[];
  tables: readonly MovedTable[];
  throttle: Throttle;
  topology: SwitchableTopology;
  /** Only its block is used: the cutover every session of both protocols takes admissions at. */
  gate: Pick<CutoverGate, 'block'>;
  /** Binlog client id, unique among the source's replicas. */
  serverId: number;
  graceMs: number;
  deadlineMs: number;
  /** How long the catch-up before the block may take. */
  catchUpTimeoutMs: number;
}

export interface MysqlSplitResult {
  cutover: CutoverReport;
  /** Taken inside the block before the switch; null when the block aborted before it. */
  verify: VerifyReport | null;
  copiedRows: number;
  capturedChanges: number;
}

export async function runMysqlSplit(o: MysqlSplitOptions): Promise<MysqlSplitResult> {
  // The spares' replicas become the halves' replicas at the switch: checked here as the manager
  // checks a planned split, and the checked list is the one installed (not the config's by then).
  const config = o.topology.currentConfig;
  const targets = o.targets.map((t) => ({ ...t, replicas: spareReplicas(config, t.server.name) }));
  await checkSpareReplicas(config, targets, 'mysql');
  const copy = await copyMysqlTables({
    source: o.source,
    targets: o.targets,
    tables: o.tables,
    throttle: o.throttle,
  });
  if (!copy.complete) throw new Error('the copy did not complete');
  const capture = await MysqlBinlogCapture.start({
    source: o.source,
    targets: o.targets,
    tables: o.tables,
    fromGtid: copy.state.gtidPosition,
    serverId: o.serverId,
  });
  let cutover: CutoverReport;
  let verify: VerifyReport | null = null;
  try {
    // Most of the backlog is applied while writes still flow, so the block only waits for the rest.
    await capture.catchUp(o.catchUpTimeoutMs);
    cutover = await o.gate.block(
      [o.sourceShard],
      { migrationId: o.migrationId, graceMs: o.graceMs, deadlineMs: o.deadlineMs },
      {
        // Verified inside the block, while no write can reach the source or the halves: halves that
        // differ abort the block and the source keeps its range. This makes the block grow with the
        // moved tables (the PostgreSQL side verifies outside it); the price of an exact comparison.
        catchUp: async (remainingMs) => {
          await capture.catchUp(remainingMs);
          verify = await verifyMysqlSplit(o.source, o.targets, o.tables);
          if (verify.mismatches.length > 0)
            throw new Error(`verification found ${verify.mismatches.length} differences; not switched`);
        },
        switchTopology: () =>
          o.topology.rebuild(mysqlConfigAfterSplit(o.topology.currentConfig, o.sourceShard, targets)),
      },
    );
  } finally {
    await capture.stop();
  }
  return { cutover, verify, copiedRows: copy.rows, capturedChanges: capture.appliedChanges };
}
