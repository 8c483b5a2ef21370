// The sysbench result document (JSON), console table, README snippet and SVG chart. Pure.
import { fmt, fmtSpread } from '../lib/report.js';
import { type CellTarget, type CellTargets, okTargets } from '../lib/scenario-report.js';
import { type Summary, summarize } from '../lib/stats.js';
import type { SysbenchFigures, SysbenchPsMode, SysbenchTest } from '../lib/sysbench.js';
import type { TargetState, TimedRun } from '../lib/target-runs.js';
import { gridCells, type TpsResult, tpsCellSummary, tpsReports } from '../lib/tps-report.js';

/** One sysbench run of the measured phase; `order` is the target's position in the repeat's order. */
export type SysbenchRun = TimedRun<{ test: SysbenchTest; threads: number }, SysbenchFigures>;

export type SysbenchTargetStatus = TargetState;

export type SysbenchCellTarget = CellTarget<{
  tps: Summary;
  qps: Summary;
  latencyAvgMs: Summary;
  latencyP99Ms: Summary;
}>;

/** ratios: "shardgate/direct" only. */
export interface SysbenchCell extends CellTargets<SysbenchCellTarget> {
  test: SysbenchTest;
  threads: number;
}

export interface SysbenchParameters {
  tests: SysbenchTest[];
  threads: number[];
  durationS: number;
  targets: string[];
  repeats: number;
  warmupS: number;
  tables: number;
  tableSize: number;
  psMode: SysbenchPsMode;
  shardgateWorkers: number;
  poolSize: number;
  shardgateConfigExtra: Record<string, unknown> | null;
  sharding: string;
}

/** The JSON written to bench/results/sysbench-*.json (schema version 1). */
export type SysbenchResult = TpsResult<
  'sysbench',
  SysbenchParameters,
  SysbenchTargetStatus,
  SysbenchRun,
  SysbenchCell
>;

/** The measured cells: every test with every thread count. */
export function sysbenchCellKeys(p: Pick<SysbenchParameters, 'tests' | 'threads'>) {
  return gridCells(p.tests, p.threads, (test, threads) => ({ test, threads }));
}

export const summarizeSysbench = tpsCellSummary(sysbenchCellKeys, {
  figures: (ok: SysbenchFigures[]) => ({
    qps: summarize(ok.map((f) => f.qps)),
    latencyAvgMs: summarize(ok.map((f) => f.latencyAvgMs)),
    latencyP99Ms: summarize(ok.map((f) => f.latencyP99Ms ?? Number.NaN)),
  }),
  note: (t: SysbenchTargetStatus) => (t.status !== 'ok' ? t.note : undefined),
  ratioPairs: [['shardgate', 'direct']],
});

function tableRows(result: SysbenchResult) {
  const names = okTargets(result.targets);
  const withRatio = names.includes('shardgate') && names.includes('direct');
  const headers = [
    'test',
    'threads',
    ...names.flatMap((n) => [`${n} tps`, `${n} qps`, `${n} p99 ms`]),
    ...(withRatio ? ['shardgate/direct'] : []),
  ];
  const rows = result.cells.map((c) => [
    c.test,
    String(c.threads),
    ...names.flatMap((n) => {
      const t = c.targets[n];
      if (!t || t.tps.n === 0) return ['-', '-', '-'];
      return [
        fmtSpread(t.tps.median, t.tps.min, t.tps.max),
        fmt(t.qps.median),
        fmt(t.latencyP99Ms.median, 2),
      ];
    }),
    ...(withRatio ? [fmt(c.ratios['shardgate/direct'], 2)] : []),
  ]);
  return { headers, rows };
}

function describeRun(result: SysbenchResult): string {
  const p = result.parameters;
  return (
    `sysbench ${p.tests.join(', ')}, ${p.tables} table${p.tables === 1 ? '' : 's'} x ${p.tableSize} rows, ` +
    `--db-ps-mode=${p.psMode}, ${p.durationS} s per run, ${p.repeats} repeat${p.repeats === 1 ? '' : 's'} with targets alternated`
  );
}

export const { consoleReport, markdownReport, svgReport } = tpsReports<SysbenchResult>({
  tool: 'sysbench',
  table: tableRows,
  runError: (r) => `error: ${r.target} ${r.test} threads=${r.threads} repeat ${r.repeat + 1}: ${r.error}`,
  consoleTitle: (result) => `${describeRun(result)}; tps median [min-max], qps and p99 (sysbench's) medians`,
  markdownLead: (result) =>
    `${describeRun(result)}; TPS as median [min-max], QPS and sysbench's p99 latency as medians.`,
  chartTitle: () => 'sysbench: median transactions per second per target',
  chartSubtitle: ({ parameters: p, machine }) =>
    `${p.durationS} s x ${p.repeats} repeats, ${p.tables} x ${p.tableSize} rows, ps-mode ${p.psMode}; whiskers: min-max; ${machine.cpus} cpus`,
  groupLabel: (c) => `${c.test.replace(/^oltp_/, '')}\n${c.threads} thread${c.threads === 1 ? '' : 's'}`,
});
