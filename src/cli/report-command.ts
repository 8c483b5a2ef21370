// `shardgate report daily|weekly|monthly`: the operational checklist of a running shardgate as
// Markdown (or --json). The monthly report stores the current p95s as the new baseline unless
// --no-baseline (that needs the admin token).
import type { Command } from 'commander';
import { reportMarkdown } from '../observability/report-markdown.js';
import { REPORT_KINDS, type Report, type ReportKind } from '../observability/reports.js';
import { adminOptions, adminRequest } from './admin-client.js';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('daily, weekly or monthly report of a running shardgate (health, trends, scaling plan)')
    .argument('<kind>', REPORT_KINDS.join(' | '))
    .option('--admin-url <url>', 'admin API URL')
    .option('--token <token>', 'admin token (or $SHARDGATE_ADMIN_TOKEN), to store the monthly baseline')
    .option('--json', 'print JSON instead of Markdown')
    .option('--no-baseline', 'monthly: do not store the current p95s as the new baseline')
    .action(async (kind: string, opts: Record<string, unknown>) => {
      if (!REPORT_KINDS.includes(kind as ReportKind)) {
        throw new Error(`report kind must be one of ${REPORT_KINDS.join(', ')}`);
      }
      const admin = adminOptions(program, opts);
      const store = kind === 'monthly' && opts.baseline !== false;
      const report = await adminRequest<Report>(admin, store ? 'POST' : 'GET', `/api/reports/${kind}`);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : reportMarkdown(report));
    });
}
