// The steps after a MySQL/MariaDB split's, merge's or table move's switch, run by the migration
// manager like the forward ones (mysql-split-driver.ts): the manager checks phases, owns the
// running reverse captures and writes the outcome; these functions do the MySQL part.
//
// Rollback: first the sources are verified against the targets at one point per table, as after
// the switch (verifyMysqlAfterSwitch), and a difference refuses the rollback (MIGRATION_STATE): a
// rollback that would lose a write never switches. Then the block holds writes to the targets,
// waits until the reverse capture of each target has applied everything the target committed
// (the capture that was just verified carries what was written since), and puts the routing back
// as it was before the switch. The whole-table comparison used to run inside the block, which
// made the block as long as the moved tables.
import { ShardgateError } from '../errors.js';
import type { CutoverReport } from './cutover-gate.js';
import { verifyMysqlSources } from './mysql-sources.js';
import { fenceMysqlReplicas, type SplitDriverContext } from './mysql-split-driver.js';
import { binlogPosition, openMysqlEach } from './mysql-table.js';
import { planSources, type SplitPlan } from './plan.js';
import type { ReverseStream } from './reverse-stream.js';
import type { MigrationState } from './state-store.js';
import { configBeforeSwitch } from './switch-config.js';
import type { VerifyReport } from './types.js';

/** How long one settle of the reverse captures may take before the verification fails. */
const SETTLE_MS = 60_000;

/** The rollback block; the manager records its report and ends the migration when it switched. */
export async function rollbackMysql(
  ctx: SplitDriverContext,
  state: MigrationState,
  reverse: readonly ReverseStream[],
): Promise<CutoverReport> {
  const plan = state.plan;
  const checked = await verifyMysqlAfterSwitch(plan, reverse);
  if (checked.mismatches.length > 0) {
    const detail = `the sources differ from the targets after the reverse catch-up (${describe(checked)}); not rolled back, traffic stays on the targets`;
    // Recorded as an aborted rollback block was: the state says why the operator's rollback did nothing.
    ctx.note(state, state.phase, `rollback refused: ${detail}`);
    throw new ShardgateError('MIGRATION_STATE', { id: state.id, phase: state.phase, detail });
  }
  const sources = planSources(plan);
  // Opened before the block: a connection set up inside it (TCP, login) lengthens every held write.
  const control = await openMysqlEach(sources.map((s) => s.server));
  try {
    return await ctx.fencedBlock(
      plan.targets.map((t) => t.shard),
      { migrationId: state.id, graceMs: plan.inflightGraceMs, deadlineMs: plan.cutoverDeadlineMs },
      (commit) => {
        let back: Record<string, string> = {};
        return {
          catchUp: async (remainingMs) => {
            await Promise.all(reverse.map((r) => r.catchUp(remainingMs)));
            // Each source's position once it holds everything the reverse capture carried back.
            const gtids = await Promise.all(control.map((c) => binlogPosition(c)));
            back = Object.fromEntries(sources.map((s, i) => [s.shard, gtids[i]!] as const));
          },
          switchTopology: async () => {
            await commit({ migrationId: state.id, kind: 'rollback', plan, positions: back });
            ctx.topology.rebuild(configBeforeSwitch(ctx.topology.currentConfig, plan));
            // The sources' replicas serve once they have replayed what came back.
            fenceMysqlReplicas(ctx, back);
          },
        };
      },
    );
  } finally {
    await Promise.allSettled(control.map((c) => c.end()));
  }
}

/**
 * Verification after the switch, outside any block: writes keep reaching the targets, so each
 * table is compared at one point (its writes held on the targets while the reverse captures catch
 * up to them, mysql-verify.ts); a difference found that way is real.
 */
export async function verifyMysqlAfterSwitch(
  plan: SplitPlan,
  reverse: readonly ReverseStream[],
): Promise<VerifyReport> {
  return verifyMysqlSources(plan, async () => {
    await Promise.all(reverse.map((r) => r.catchUp(SETTLE_MS)));
  });
}

function describe(report: VerifyReport): string {
  return report.mismatches
    .map(
      (m) =>
        `${m.table}${m.target ? ` for ${m.target}` : ''}: ${m.sourceRows} rows on the source, ${m.targetRows} on the target`,
    )
    .join('; ');
}
