// One verification report of a migration with several sources (a merge): each source is verified
// against its own part of the target, by either protocol's verifier; this sums them. Also the
// status line of a running verification, which says what it compares.
import type { SplitPlan } from './plan.js';
import { tableKind } from './row-owner.js';
import type { VerifyReport } from './types.js';

/** One report from each source's verification: sums, a sharded table's rows summed over the sources. */
export function combineReports(reports: readonly VerifyReport[], plan: SplitPlan): VerifyReport {
  if (reports.length === 1) return reports[0]!;
  const sharded = new Set(plan.tables.filter((t) => tableKind(t) === 'sharded').map((t) => t.name));
  const perTable = new Map<string, VerifyReport['perTable'][number]>();
  for (const r of reports)
    for (const t of r.perTable) {
      const seen = perTable.get(t.table);
      if (!seen) perTable.set(t.table, { ...t });
      else if (sharded.has(t.table)) {
        seen.sourceRows += t.sourceRows;
        seen.targetRows += t.targetRows;
      }
    }
  return {
    mode: reports[0]!.mode,
    chunksChecked: reports.reduce((n, r) => n + r.chunksChecked, 0),
    rowsChecked: reports.reduce((n, r) => n + r.rowsChecked, 0),
    mismatches: reports.flatMap((r) => r.mismatches),
    perTable: [...perTable.values()],
  };
}

/**
 * What a verification compares, for its status line: whole-table row counts in every mode (a
 * sample of chunks must not hide a missing row), and on MySQL always whole tables (no sampling
 * there, whatever the plan asked for).
 */
export function verifyingStatus(plan: Pick<SplitPlan, 'protocol' | 'verify'>): string {
  if (plan.protocol === 'mysql') return 'verifying (whole tables: row counts and checksums)';
  if (plan.verify === 'full') return 'verifying (full)';
  return `verifying (sample of ${plan.verify.sample} chunks, row counts of whole tables)`;
}
