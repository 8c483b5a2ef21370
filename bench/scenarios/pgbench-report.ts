// Turns pgbench runs into the result document (JSON), the console table, the Markdown snippet
// for the README and the SVG chart. Pure functions: the scenario passes everything in.
import type { PgbenchFigures, PgbenchMode, PgbenchScript } from '../lib/pgbench.js';
import { fmt, fmtSpread } from '../lib/report.js';
import { type CellTarget, type CellTargets, okTargets } from '../lib/scenario-report.js';
import { type Summary, summarize } from '../lib/stats.js';
import type { TargetState, TimedRun } from '../lib/target-runs.js';
import { gridCells, type TpsResult, tpsCellSummary, tpsReports } from '../lib/tps-report.js';

/**
 * Every pgbench invocation of the measured phase (warm-ups are not recorded); `repeat` is 0-based,
 * `order` the position of this target in that repeat's order.
 */
export type PgbenchRun = TimedRun<{ mode: PgbenchMode; clients: number }, PgbenchFigures>;

export interface TargetStatus extends TargetState {
  /** Modes not run on this target, with the reason. */
  unsupportedModes: Record<string, string>;
}

/** cpuUsPerTx: the target process's CPU per transaction in µs (n = 0 for direct). */
export type CellTargetSummary = CellTarget<{ tps: Summary; latencyAvgMs: Summary; cpuUsPerTx: Summary }>;

export interface PgbenchCell extends CellTargets<CellTargetSummary> {
  mode: PgbenchMode;
  clients: number;
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
export type PgbenchResult = TpsResult<'pgbench', PgbenchParameters, TargetStatus, PgbenchRun, PgbenchCell>;

export const RATIO_PAIRS: ReadonlyArray<[string, string]> = [
  ['shardgate', 'direct'],
  ['shardgate', 'pgbouncer'],
  ['pgbouncer', 'direct'],
  ['pgpool', 'direct'],
];

/** The measured cells: every mode with every client count. */
export function pgbenchCellKeys(p: Pick<PgbenchParameters, 'modes' | 'clients'>) {
  return gridCells(p.modes, p.clients, (mode, clients) => ({ mode, clients }));
}

export const summarizeCells = tpsCellSummary(pgbenchCellKeys, {
  figures: (ok: PgbenchFigures[]) => ({
    latencyAvgMs: summarize(ok.map((f) => f.latencyAvgMs)),
    cpuUsPerTx: summarize(ok.flatMap((f) => (typeof f.cpuUsPerTx === 'number' ? [f.cpuUsPerTx] : []))),
  }),
  note: (t: TargetStatus, { mode }) => (t.status !== 'ok' ? t.note : t.unsupportedModes[mode]),
  ratioPairs: RATIO_PAIRS,
});

function tableRows(result: PgbenchResult) {
  const names = okTargets(result.targets);
  // Ratios between targets that ran: shardgate's when it ran, else the others' against direct.
  const pairs = RATIO_PAIRS.filter(([a, b]) => names.includes(a) && names.includes(b));
  const mine = pairs.filter(([a]) => a === 'shardgate');
  const ratioKeys = (mine.length > 0 ? mine : pairs).map(([a, b]) => `${a}/${b}`);
  // CPU per transaction for the targets that are a process of their own (the proxies).
  const withCpu = names.filter((n) => result.cells.some((c) => (c.targets[n]?.cpuUsPerTx?.n ?? 0) > 0));
  const columns = (n: string) => [`${n} tps`, `${n} ms`, ...(withCpu.includes(n) ? [`${n} cpu µs/tx`] : [])];
  const headers = ['mode', 'clients', ...names.flatMap(columns), ...ratioKeys];
  const rows = result.cells.map((c) => [
    c.mode,
    String(c.clients),
    ...names.flatMap((n) => {
      const t = c.targets[n];
      const cpu = withCpu.includes(n);
      if (!t || t.tps.n === 0) return [t?.note ? 'n/a' : '-', '-', ...(cpu ? ['-'] : [])];
      const cpuCell = t.cpuUsPerTx?.n ? fmt(t.cpuUsPerTx.median, 1) : '-';
      return [
        fmtSpread(t.tps.median, t.tps.min, t.tps.max),
        fmt(t.latencyAvgMs.median, 3),
        ...(cpu ? [cpuCell] : []),
      ];
    }),
    ...ratioKeys.map((k) => {
      const v = c.ratios[k];
      return v === null || v === undefined ? '-' : v.toFixed(2);
    }),
  ]);
  return { headers, rows };
}

function scriptName(s: PgbenchScript): string {
  return s === 'select' ? 'select-only (-S)' : 'TPC-B-like';
}

export const { consoleReport, markdownReport, svgReport } = tpsReports<PgbenchResult>({
  tool: 'pgbench',
  table: tableRows,
  runError: (r) => `error: ${r.target} ${r.mode} c=${r.clients} repeat ${r.repeat}: ${r.error}`,
  targetNotes: (t) =>
    Object.entries(t.unsupportedModes).map(([mode, why]) => `${t.name}: ${mode} mode not run: ${why}`),
  consoleTitle: ({ parameters: p }) =>
    `pgbench ${scriptName(p.script)}, scale ${p.scale}, ${p.durationS} s x ${p.repeats} repeats per cell; TPS median [min-max], ms = average latency (median)`,
  markdownLead: ({ parameters: p }) =>
    `pgbench ${scriptName(p.script)}, scale ${p.scale}, ${p.durationS} s per run, ${p.repeats} repeats with targets alternated; ` +
    `TPS as median [min-max], latency as the median of pgbench's average (ms).`,
  chartTitle: ({ parameters: p }) => `pgbench ${scriptName(p.script)}: median TPS per target`,
  chartSubtitle: ({ parameters: p, machine }) =>
    `${p.durationS} s x ${p.repeats} repeats, scale ${p.scale}; whiskers: min-max; ${machine.cpus} cpus, ${machine.cpuModel}`,
  groupLabel: (c) => `${c.mode}\n${c.clients} client${c.clients === 1 ? '' : 's'}`,
});
