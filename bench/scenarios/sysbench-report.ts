// The sysbench result document (JSON), console table, README snippet and SVG chart. Pure.
import type { LoadSnapshot, MachineInfo } from '../lib/machine.js';
import { describeLoad, describeMachine } from '../lib/machine.js';
import { type Align, fmt, fmtSpread, formatTable, markdownTable } from '../lib/report.js';
import { ratio, type Summary, summarize } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';
import type { SysbenchFigures, SysbenchPsMode, SysbenchTest } from '../lib/sysbench.js';

export interface SysbenchRun {
  target: string;
  test: SysbenchTest;
  threads: number;
  repeat: number;
  /** Position of this target in the repeat's order. */
  order: number;
  startedAt: string;
  loadavg1: number;
  figures: SysbenchFigures | null;
  error?: string;
}

export interface SysbenchTargetStatus {
  name: string;
  status: 'ok' | 'skipped' | 'failed';
  version?: string;
  note?: string;
}

export interface SysbenchCellTarget {
  tps: Summary;
  qps: Summary;
  latencyAvgMs: Summary;
  latencyP99Ms: Summary;
  errors: number;
  note?: string;
}

export interface SysbenchCell {
  test: SysbenchTest;
  threads: number;
  targets: Record<string, SysbenchCellTarget>;
  /** Median-TPS ratio "shardgate/direct" (null when a side is missing). */
  ratios: Record<string, number | null>;
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
export interface SysbenchResult {
  scenario: 'sysbench';
  schemaVersion: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: MachineInfo;
  load: { before: LoadSnapshot; after: LoadSnapshot };
  parameters: SysbenchParameters;
  targets: SysbenchTargetStatus[];
  runs: SysbenchRun[];
  cells: SysbenchCell[];
  notes: string[];
}

export function summarizeSysbench(
  runs: readonly SysbenchRun[],
  parameters: Pick<SysbenchParameters, 'tests' | 'threads'>,
  targets: readonly SysbenchTargetStatus[],
): SysbenchCell[] {
  const cells: SysbenchCell[] = [];
  for (const test of parameters.tests) {
    for (const threads of parameters.threads) {
      const cellTargets: Record<string, SysbenchCellTarget> = {};
      for (const t of targets) {
        const mine = runs.filter((r) => r.target === t.name && r.test === test && r.threads === threads);
        const ok = mine.flatMap((r) => (r.figures ? [r.figures] : []));
        const summary: SysbenchCellTarget = {
          tps: summarize(ok.map((f) => f.tps)),
          qps: summarize(ok.map((f) => f.qps)),
          latencyAvgMs: summarize(ok.map((f) => f.latencyAvgMs)),
          latencyP99Ms: summarize(ok.map((f) => f.latencyP99Ms ?? Number.NaN)),
          errors: mine.filter((r) => !r.figures).length,
        };
        if (t.status !== 'ok' && t.note) summary.note = t.note;
        cellTargets[t.name] = summary;
      }
      const ratios: Record<string, number | null> = {};
      const sg = cellTargets.shardgate;
      const direct = cellTargets.direct;
      if (sg && direct) {
        const r = ratio(sg.tps.median, direct.tps.median);
        ratios['shardgate/direct'] = Number.isFinite(r) ? r : null;
      }
      cells.push({ test, threads, targets: cellTargets, ratios });
    }
  }
  return cells;
}

function tableRows(result: SysbenchResult): { headers: string[]; rows: string[][]; align: Align[] } {
  const names = result.targets.filter((t) => t.status === 'ok').map((t) => t.name);
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
  return { headers, rows, align: headers.map((_, i) => (i === 0 ? 'left' : 'right')) };
}

function noteLines(result: SysbenchResult): string[] {
  const lines: string[] = [];
  for (const t of result.targets)
    if (t.status !== 'ok') lines.push(`${t.name}: ${t.status}: ${t.note ?? ''}`);
  const errors = result.runs.filter((r) => r.error);
  for (const r of errors.slice(0, 10))
    lines.push(`error: ${r.target} ${r.test} threads=${r.threads} repeat ${r.repeat + 1}: ${r.error}`);
  if (errors.length > 10) lines.push(`... ${errors.length - 10} more failed runs (see runs[] in the JSON)`);
  return [...lines, ...result.notes];
}

function describeRun(result: SysbenchResult): string {
  const p = result.parameters;
  return (
    `sysbench ${p.tests.join(', ')}, ${p.tables} table${p.tables === 1 ? '' : 's'} x ${p.tableSize} rows, ` +
    `--db-ps-mode=${p.psMode}, ${p.durationS} s per run, ${p.repeats} repeat${p.repeats === 1 ? '' : 's'} with targets alternated`
  );
}

export function consoleReport(result: SysbenchResult): string {
  const { headers, rows, align } = tableRows(result);
  const out = [
    '',
    `${describeRun(result)}; tps median [min-max], qps and p99 (sysbench's) medians`,
    `machine: ${describeMachine(result.machine)}`,
    `${describeLoad(result.load.before)} before, ${describeLoad(result.load.after)} after`,
    '',
    formatTable(headers, rows, align),
  ];
  const notes = noteLines(result);
  if (notes.length > 0) out.push('', ...notes.map((n) => `note: ${n}`));
  return `${out.join('\n')}\n`;
}

export function markdownReport(
  result: SysbenchResult,
  svgPath = 'bench/results/sysbench-latest.svg',
): string {
  const { headers, rows, align } = tableRows(result);
  const versions = Object.entries(result.machine.versions)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  const out = [
    `${describeRun(result)}; TPS as median [min-max], QPS and sysbench's p99 latency as medians. Measured ` +
      `${result.startedAt.slice(0, 10)} on ${describeMachine(result.machine)}; ${describeLoad(result.load.before)} before, ` +
      `${describeLoad(result.load.after)} after.`,
    '',
    `Command: \`${result.command}\``,
    '',
    markdownTable(headers, rows, align),
    '',
    `![sysbench median TPS per target](${svgPath})`,
  ];
  if (versions) out.push('', `Versions: ${versions}.`);
  const notes = noteLines(result);
  if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

export function svgReport(result: SysbenchResult): string {
  const p = result.parameters;
  const names = result.targets.filter((t) => t.status === 'ok').map((t) => t.name);
  return barChart({
    title: 'sysbench: median transactions per second per target',
    subtitle: `${p.durationS} s x ${p.repeats} repeats, ${p.tables} x ${p.tableSize} rows, ps-mode ${p.psMode}; whiskers: min-max; ${result.machine.cpus} cpus`,
    yLabel: 'transactions per second',
    series: names,
    groups: result.cells.map((c) => ({
      label: `${c.test.replace(/^oltp_/, '')}\n${c.threads} thread${c.threads === 1 ? '' : 's'}`,
      values: names.map((n) => {
        const t = c.targets[n];
        return t && t.tps.n > 0 ? { value: t.tps.median, low: t.tps.min, high: t.tps.max } : undefined;
      }),
    })),
  });
}
