// What the target-comparison scenarios (pgbench, sysbench) share in their reports: the result
// document's shape, the grid of cells (one per pair of parameter values, each target summarised
// over the runs in it), and the console, Markdown and SVG reports (with the notes every comparison
// has: targets that did not run, failed runs) built from a table, note lines and chart labels that
// each scenario gives. Pure functions.
import { formatTable, markdownTable } from './report.js';
import type { ScenarioResultHeader } from './scenario.js';
import {
  type CellTarget,
  type CellTargets,
  cellTargets,
  consoleDocument,
  firstColumnLeft,
  firstTenNotes,
  markdownDocument,
  okTargets,
  targetNote,
  tpsBar,
} from './scenario-report.js';
import { type Summary, summarize } from './stats.js';
import { barChart } from './svg-chart.js';
import type { TargetState } from './target-runs.js';

/** The JSON document of a target comparison (schema version 1). */
export interface TpsResult<Scenario extends string, P, T extends TargetState, R, C>
  extends ScenarioResultHeader<Scenario> {
  parameters: P;
  targets: T[];
  runs: R[];
  cells: C[];
  notes: string[];
}

/** One cell per pair (a, b), in the order of `as` then `bs`. */
export function gridCells<A, B, C>(as: readonly A[], bs: readonly B[], cell: (a: A, b: B) => C): C[] {
  return as.flatMap((a) => bs.map((b) => cell(a, b)));
}

/** How a comparison summarises a cell's runs (see cellTargets). */
export interface CellSummarySpec<F, S, T, K> {
  /** The figures besides TPS (which every comparison summarises first), over the runs that gave any. */
  figures: (figures: F[]) => S;
  /** Why the target has no figures in this cell, if it says so. */
  note: (target: T, key: K) => string | undefined;
  ratioPairs: ReadonlyArray<readonly [string, string]>;
}

/**
 * A comparison's cell summary, (runs, parameters, targets) -> cells: for each cell key of the
 * parameters' grid, its fields, then every target summarised over the runs whose fields equal the
 * key's (a run carries its cell's fields), and the TPS ratios.
 */
export function tpsCellSummary<P, K extends object, F extends { tps: number }, S, T extends TargetState>(
  cellKeys: (parameters: P) => K[],
  spec: CellSummarySpec<F, S, T, K>,
) {
  return (
    runs: ReadonlyArray<K & { target: string; figures: F | null }>,
    parameters: P,
    targets: readonly T[],
  ): Array<K & CellTargets<CellTarget<{ tps: Summary } & S>>> =>
    cellKeys(parameters).map((key) => {
      const fields = Object.keys(key) as Array<keyof K>;
      const inCell = runs.filter((r: K) => fields.every((f) => r[f] === key[f]));
      const figures = (ok: F[]) => ({ tps: summarize(ok.map((f) => f.tps)), ...spec.figures(ok) });
      return { ...key, ...cellTargets(targets, inCell, figures, (t) => spec.note(t, key), spec.ratioPairs) };
    });
}

/** The result document: the header, then parameters, targets, runs, the cells summarised from them, notes. */
export function tpsResult<S extends string, P, T extends TargetState, R, C>(
  header: ScenarioResultHeader<S>,
  parts: { parameters: P; targets: T[]; runs: R[]; notes: string[] },
  summarizeCells: (runs: R[], parameters: P, targets: T[]) => C[],
): TpsResult<S, P, T, R, C> {
  const { parameters, targets, runs, notes } = parts;
  return { ...header, parameters, targets, runs, cells: summarizeCells(runs, parameters, targets), notes };
}

interface TpsCell {
  targets: Record<string, { tps: Summary } | undefined>;
}

interface TpsReportResult {
  targets: TargetState[];
  runs: Array<{ error?: string }>;
  cells: TpsCell[];
  notes: string[];
}

export interface TpsReportSpec<Res extends TpsReportResult> {
  /** The tool's name: the chart's file name and alt text. */
  tool: string;
  /** The table's headers and rows: a cell's parameters, then its figures (aligned right). */
  table(result: Res): { headers: string[]; rows: string[][] };
  /** A failed run's note (the first ten failed runs are noted). */
  runError(run: Res['runs'][number]): string;
  /** Notes on a target besides "did not run" (noted for every comparison), right after that one. */
  targetNotes?(target: Res['targets'][number]): string[];
  /** The console report's title line. */
  consoleTitle(result: Res): string;
  /** The Markdown report's lead sentence (before "Measured ..."). */
  markdownLead(result: Res): string;
  chartTitle(result: Res): string;
  chartSubtitle(result: Res): string;
  /** A cell's label under its bars. */
  groupLabel(cell: Res['cells'][number]): string;
}

export function tpsReports<Res extends ScenarioResultHeader & TpsReportResult>(spec: TpsReportSpec<Res>) {
  const table = (result: Res) => {
    const { headers, rows } = spec.table(result);
    return { headers, rows, align: firstColumnLeft(headers) };
  };
  /** Per target: did not run, then its own notes; the failed runs; the scenario's notes. */
  const notes = (result: Res): string[] => [
    ...result.targets.flatMap((t) => [
      ...(t.status !== 'ok' ? [targetNote(t)] : []),
      ...(spec.targetNotes?.(t) ?? []),
    ]),
    ...firstTenNotes(
      result.runs.filter((r) => r.error),
      spec.runError,
      'failed runs',
    ),
    ...result.notes,
  ];
  return {
    consoleReport(result: Res): string {
      const { headers, rows, align } = table(result);
      return consoleDocument(
        result,
        spec.consoleTitle(result),
        ['', formatTable(headers, rows, align)],
        notes(result),
      );
    },
    markdownReport(result: Res, svgPath = `bench/results/${spec.tool}-latest.svg`): string {
      const { headers, rows, align } = table(result);
      return markdownDocument(
        result,
        spec.markdownLead(result),
        [markdownTable(headers, rows, align), '', `![${spec.tool} median TPS per target](${svgPath})`],
        notes(result),
        { versions: true },
      );
    },
    svgReport(result: Res): string {
      const names = okTargets(result.targets);
      return barChart({
        title: spec.chartTitle(result),
        subtitle: spec.chartSubtitle(result),
        yLabel: 'transactions per second',
        series: names,
        groups: result.cells.map((c) => ({
          label: spec.groupLabel(c),
          values: names.map((n) => tpsBar(c.targets[n])),
        })),
      });
    },
  };
}
