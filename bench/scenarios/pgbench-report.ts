// Turns pgbench runs into the result document (JSON), the console table, the Markdown snippet
// for the README and the SVG chart. Pure functions: the scenario passes everything in.
import type { LoadSnapshot, MachineInfo } from '../lib/machine.js';
import { describeLoad, describeMachine } from '../lib/machine.js';
import type { PgbenchFigures, PgbenchMode, PgbenchScript } from '../lib/pgbench.js';
import { type Align, fmt, fmtSpread, formatTable, markdownTable } from '../lib/report.js';
import { ratio, type Summary, summarize } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';

/** Every pgbench invocation of the measured phase (warm-ups are not recorded). */
export interface PgbenchRun {
  target: string;
  mode: PgbenchMode;
  clients: number;
  /** 0-based repeat number, and the position of this target in that repeat's order. */
  repeat: number;
  order: number;
  startedAt: string;
  /** 1-minute load average when the run started. */
  loadavg1: number;
  figures: PgbenchFigures | null;
  error?: string;
}

export interface TargetStatus {
  name: string;
  status: 'ok' | 'skipped' | 'failed';
  version?: string;
  note?: string;
  /** Modes not run on this target, with the reason. */
  unsupportedModes: Record<string, string>;
}

export interface CellTargetSummary {
  tps: Summary;
  latencyAvgMs: Summary;
  errors: number;
  /** Why there are no figures (mode unsupported, target skipped). */
  note?: string;
}

export interface PgbenchCell {
  mode: PgbenchMode;
  clients: number;
  targets: Record<string, CellTargetSummary>;
  /** Median-TPS ratios, e.g. "shardgate/direct": 0.62 (null when a side is missing). */
  ratios: Record<string, number | null>;
}

export interface PgbenchParameters {
  durationS: number;
  clients: number[];
  modes: PgbenchMode[];
  targets: string[];
  repeats: number;
  scale: number;
  script: PgbenchScript;
  warmupS: number;
  shardgateWorkers: number;
  shardgateConfigExtra: Record<string, unknown> | null;
  poolSize: number;
}

/** The JSON document written to bench/results/pgbench-*.json (schema version 1). */
export interface PgbenchResult {
  scenario: 'pgbench';
  schemaVersion: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: MachineInfo;
  load: { before: LoadSnapshot; after: LoadSnapshot };
  parameters: PgbenchParameters;
  targets: TargetStatus[];
  runs: PgbenchRun[];
  cells: PgbenchCell[];
  notes: string[];
}

export const RATIO_PAIRS: ReadonlyArray<[string, string]> = [
  ['shardgate', 'direct'],
  ['shardgate', 'pgbouncer'],
  ['pgbouncer', 'direct'],
  ['pgpool', 'direct'],
];

export function summarizeCells(
  runs: readonly PgbenchRun[],
  parameters: Pick<PgbenchParameters, 'modes' | 'clients'>,
  targets: readonly TargetStatus[],
): PgbenchCell[] {
  const cells: PgbenchCell[] = [];
  for (const mode of parameters.modes) {
    for (const clients of parameters.clients) {
      const cellTargets: Record<string, CellTargetSummary> = {};
      for (const t of targets) {
        const mine = runs.filter((r) => r.target === t.name && r.mode === mode && r.clients === clients);
        const ok = mine.flatMap((r) => (r.figures ? [r.figures] : []));
        const summary: CellTargetSummary = {
          tps: summarize(ok.map((f) => f.tps)),
          latencyAvgMs: summarize(ok.map((f) => f.latencyAvgMs)),
          errors: mine.filter((r) => !r.figures).length,
        };
        const note = t.status !== 'ok' ? t.note : t.unsupportedModes[mode];
        if (note) summary.note = note;
        cellTargets[t.name] = summary;
      }
      const ratios: Record<string, number | null> = {};
      for (const [a, b] of RATIO_PAIRS) {
        const ta = cellTargets[a];
        const tb = cellTargets[b];
        if (!ta || !tb) continue;
        const r = ratio(ta.tps.median, tb.tps.median);
        ratios[`${a}/${b}`] = Number.isFinite(r) ? r : null;
      }
      cells.push({ mode, clients, targets: cellTargets, ratios });
    }
  }
  return cells;
}

function tableRows(result: PgbenchResult): { headers: string[]; rows: string[][]; align: Align[] } {
  const names = result.targets.filter((t) => t.status === 'ok').map((t) => t.name);
  // Ratios between targets that ran: shardgate's when it ran, else the others' against direct.
  const pairs = RATIO_PAIRS.filter(([a, b]) => names.includes(a) && names.includes(b));
  const mine = pairs.filter(([a]) => a === 'shardgate');
  const ratioKeys = (mine.length > 0 ? mine : pairs).map(([a, b]) => `${a}/${b}`);
  const headers = ['mode', 'clients', ...names.flatMap((n) => [`${n} tps`, `${n} ms`]), ...ratioKeys];
  const rows = result.cells.map((c) => [
    c.mode,
    String(c.clients),
    ...names.flatMap((n) => {
      const t = c.targets[n];
      if (!t || t.tps.n === 0) return [t?.note ? 'n/a' : '-', '-'];
      return [fmtSpread(t.tps.median, t.tps.min, t.tps.max), fmt(t.latencyAvgMs.median, 3)];
    }),
    ...ratioKeys.map((k) => {
      const v = c.ratios[k];
      return v === null || v === undefined ? '-' : v.toFixed(2);
    }),
  ]);
  return { headers, rows, align: headers.map((_, i) => (i === 0 ? 'left' : 'right')) };
}

function noteLines(result: PgbenchResult): string[] {
  const lines: string[] = [];
  for (const t of result.targets) {
    if (t.status !== 'ok') lines.push(`${t.name}: ${t.status}: ${t.note ?? ''}`);
    for (const [mode, why] of Object.entries(t.unsupportedModes))
      lines.push(`${t.name}: ${mode} mode not run: ${why}`);
  }
  const errors = result.runs.filter((r) => r.error);
  for (const r of errors.slice(0, 10))
    lines.push(`error: ${r.target} ${r.mode} c=${r.clients} repeat ${r.repeat}: ${r.error}`);
  if (errors.length > 10) lines.push(`... ${errors.length - 10} more failed runs (see runs[] in the JSON)`);
  return [...lines, ...result.notes];
}

function scriptName(s: PgbenchScript): string {
  return s === 'select' ? 'select-only (-S)' : 'TPC-B-like';
}

export function consoleReport(result: PgbenchResult): string {
  const p = result.parameters;
  const { headers, rows, align } = tableRows(result);
  const out = [
    '',
    `pgbench ${scriptName(p.script)}, scale ${p.scale}, ${p.durationS} s x ${p.repeats} repeats per cell; TPS median [min-max], ms = average latency (median)`,
    `machine: ${describeMachine(result.machine)}`,
    `${describeLoad(result.load.before)} before, ${describeLoad(result.load.after)} after`,
    '',
    formatTable(headers, rows, align),
  ];
  const notes = noteLines(result);
  if (notes.length > 0) out.push('', ...notes.map((n) => `note: ${n}`));
  return `${out.join('\n')}\n`;
}

export function markdownReport(result: PgbenchResult, svgPath = 'bench/results/pgbench-latest.svg'): string {
  const p = result.parameters;
  const { headers, rows, align } = tableRows(result);
  const versions = Object.entries(result.machine.versions)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  const out = [
    `pgbench ${scriptName(p.script)}, scale ${p.scale}, ${p.durationS} s per run, ${p.repeats} repeats with targets alternated; ` +
      `TPS as median [min-max], latency as the median of pgbench's average (ms). Measured ${result.startedAt.slice(0, 10)} on ` +
      `${describeMachine(result.machine)}; ${describeLoad(result.load.before)} before, ${describeLoad(result.load.after)} after.`,
    '',
    `Command: \`${result.command}\``,
    '',
    markdownTable(headers, rows, align),
    '',
    `![pgbench median TPS per target](${svgPath})`,
  ];
  if (versions) out.push('', `Versions: ${versions}.`);
  const notes = noteLines(result);
  if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

export function svgReport(result: PgbenchResult): string {
  const p = result.parameters;
  const names = result.targets.filter((t) => t.status === 'ok').map((t) => t.name);
  return barChart({
    title: `pgbench ${scriptName(p.script)}: median TPS per target`,
    subtitle: `${p.durationS} s x ${p.repeats} repeats, scale ${p.scale}; whiskers: min-max; ${result.machine.cpus} cpus, ${result.machine.cpuModel}`,
    yLabel: 'transactions per second',
    series: names,
    groups: result.cells.map((c) => ({
      label: `${c.mode}\n${c.clients} client${c.clients === 1 ? '' : 's'}`,
      values: names.map((n) => {
        const t = c.targets[n];
        return t && t.tps.n > 0 ? { value: t.tps.median, low: t.tps.min, high: t.tps.max } : undefined;
      }),
    })),
  });
}
