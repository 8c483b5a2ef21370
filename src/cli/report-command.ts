// `shardgate report daily|weekly|monthly`: the operational checklist of a running shardgate as
// Markdown (or --json). The monthly report stores the current p95s as the new baseline unless
// --no-baseline (that needs the admin token). `shardgate report dr-test --record "..."` records a
// disaster-recovery test (the monthly report shows the last one); without --record it lists them.
import type { Command } from 'commander';
import type { DrTestRecord } from '../observability/dr-tests.js';
import { reportMarkdown } from '../observability/report-markdown.js';
import { REPORT_KINDS, type Report, type ReportKind } from '../observability/reports.js';
import { type AdminClientOptions, adminOptions, adminRequest, table } from './admin-client.js';

const DR_TEST = 'dr-test';

async function drTest(admin: AdminClientOptions, opts: Record<string, unknown>): Promise<string> {
  if (typeof opts.record === 'string') {
    const body = { note: opts.record, outcome: opts.outcome ?? 'passed', at: opts.at };
    const rec = await adminRequest<DrTestRecord>(admin, 'POST', '/api/dr-tests', body);
    return opts.json
      ? `${JSON.stringify(rec, null, 2)}\n`
      : `recorded: ${new Date(rec.t).toISOString()} ${rec.outcome}: ${rec.note}\n`;
  }
  const { tests } = await adminRequest<{ tests: DrTestRecord[] }>(admin, 'GET', '/api/dr-tests');
  if (opts.json) return `${JSON.stringify(tests, null, 2)}\n`;
  if (tests.length === 0) return 'no disaster-recovery test recorded\n';
  return `${table(
    ['when', 'outcome', 'note'],
    tests.map((t) => [new Date(t.t).toISOString(), t.outcome, t.note]),
  )}\n`;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'daily, weekly or monthly report of a running shardgate (health, trends, scaling plan); dr-test records a disaster-recovery test',
    )
    .argument('<kind>', [...REPORT_KINDS, DR_TEST].join(' | '))
    .option('--admin-url <url>', 'admin API URL')
    .option('--token <token>', 'admin token (or $SHARDGATE_ADMIN_TOKEN), to store the monthly baseline')
    .option('--json', 'print JSON instead of Markdown')
    .option('--no-baseline', 'monthly: do not store the current p95s as the new baseline')
    .option('--record <note>', 'dr-test: record a test, e.g. "restored s1 from backup, 12 min"')
    .option('--outcome <outcome>', 'dr-test: passed (default) or failed')
    .option('--at <time>', 'dr-test: when the test ran (ISO time; default now)')
    .action(async (kind: string, opts: Record<string, unknown>) => {
      const admin = adminOptions(program, opts);
      if (kind === DR_TEST) {
        process.stdout.write(await drTest(admin, opts));
        return;
      }
      if (!REPORT_KINDS.includes(kind as ReportKind)) {
        throw new Error(`report kind must be one of ${[...REPORT_KINDS, DR_TEST].join(', ')}`);
      }
      const store = kind === 'monthly' && opts.baseline !== false;
      const report = await adminRequest<Report>(admin, store ? 'POST' : 'GET', `/api/reports/${kind}`);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : reportMarkdown(report));
    });
}
