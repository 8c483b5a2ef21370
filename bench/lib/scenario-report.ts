// The parts of a scenario's console and Markdown reports that do not depend on the scenario: the
// machine and load lines, "Measured <date> on ...", the command, tool versions and the notes; and
// the TPS helpers of the target comparisons (pgbench, sysbench). Pure functions.
import { describeLoad, describeMachine, type MachineInfo } from './machine.js';
import type { Align } from './report.js';
import type { ScenarioResultHeader } from './scenario.js';
import { ratio, type Summary } from './stats.js';
import type { TargetState } from './target-runs.js';

/** A table before formatting (formatTable / markdownTable). */
export interface TableParts {
  headers: string[];
  rows: string[][];
  align: Align[];
}

/** The first column left-aligned, the rest right-aligned. */
export function firstColumnLeft(headers: readonly string[]): Align[] {
  return headers.map((_, i) => (i === 0 ? 'left' : 'right'));
}

/**
 * The console report: a blank line, `title`, the machine and its load before and after, `body`,
 * then the notes.
 */
export function consoleDocument(
  result: ScenarioResultHeader,
  title: string,
  body: readonly string[],
  notes: readonly string[],
): string {
  const out = [
    '',
    title,
    `machine: ${describeMachine(result.machine)}`,
    `${describeLoad(result.load.before)} before, ${describeLoad(result.load.after)} after`,
    ...body,
  ];
  if (notes.length > 0) out.push('', ...notes.map((n) => `note: ${n}`));
  return `${out.join('\n')}\n`;
}

/**
 * The README snippet: `lead` followed by when and where it was measured, the command, `body`,
 * the tool versions (when `versions`), then the notes as a list.
 */
export function markdownDocument(
  result: ScenarioResultHeader,
  lead: string,
  body: readonly string[],
  notes: readonly string[],
  options: { versions?: boolean } = {},
): string {
  const out = [
    `${lead} Measured ${result.startedAt.slice(0, 10)} on ${describeMachine(result.machine)}; ` +
      `${describeLoad(result.load.before)} before, ${describeLoad(result.load.after)} after.`,
    '',
    `Command: \`${result.command}\``,
    '',
    ...body,
  ];
  const versions = options.versions ? versionList(result.machine) : '';
  if (versions) out.push('', `Versions: ${versions}.`);
  if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** "pgbench: pgbench (PostgreSQL) 16.4; postgresql: PostgreSQL 16.4" (tools found only). */
function versionList(machine: MachineInfo): string {
  return Object.entries(machine.versions)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
}

/** The first ten lines of `items` and, past ten, a line saying how many more `what` there are. */
export function firstTenNotes<T>(items: readonly T[], line: (item: T) => string, what: string): string[] {
  const lines = items.slice(0, 10).map(line);
  if (items.length > 10) lines.push(`... ${items.length - 10} more ${what} (see runs[] in the JSON)`);
  return lines;
}

/** "<name>: <status>: <note>", for a target that did not run. */
export function targetNote(t: TargetState): string {
  return `${t.name}: ${t.status}: ${t.note ?? ''}`;
}

/** Names of the targets that ran, in order. */
export function okTargets(targets: readonly TargetState[]): string[] {
  return targets.filter((t) => t.status === 'ok').map((t) => t.name);
}

/** Median-TPS ratio a/b, null when either side has no figures. */
function tpsRatio(a: { tps: Summary }, b: { tps: Summary }): number | null {
  const r = ratio(a.tps.median, b.tps.median);
  return Number.isFinite(r) ? r : null;
}

/** A chart bar of median TPS with min-max whiskers, none without figures. */
export function tpsBar(t: { tps: Summary } | undefined) {
  return t && t.tps.n > 0 ? { value: t.tps.median, low: t.tps.min, high: t.tps.max } : undefined;
}

/** What a cell says of one target: its figures summarised, its failed runs, why it has none. */
export type CellTarget<S> = S & { errors: number; note?: string };

/** A cell's targets and its median-TPS ratios, e.g. "shardgate/direct": 0.62 (null when a side has no figures). */
export interface CellTargets<T> {
  targets: Record<string, T>;
  ratios: Record<string, number | null>;
}

/**
 * One cell's runs summarized per target: `summarizeFigures` over the runs with figures, the count
 * of failed runs, and `note(target)` when there is one (why a target has no figures); then the
 * ratio of each pair in `ratioPairs` whose targets are both in the cell.
 */
export function cellTargets<
  R extends { target: string; figures: unknown },
  S extends { tps: Summary },
  T extends TargetState,
>(
  targets: readonly T[],
  cellRuns: readonly R[],
  summarizeFigures: (figures: Array<NonNullable<R['figures']>>) => S,
  note: (target: T) => string | undefined,
  ratioPairs: ReadonlyArray<readonly [string, string]>,
): CellTargets<CellTarget<S>> {
  const out: Record<string, CellTarget<S>> = {};
  for (const t of targets) {
    const mine = cellRuns.filter((r) => r.target === t.name);
    const summary: CellTarget<S> = {
      ...summarizeFigures(mine.flatMap((r) => (r.figures ? [r.figures as NonNullable<R['figures']>] : []))),
      errors: mine.filter((r) => !r.figures).length,
    };
    const why = note(t);
    if (why) summary.note = why;
    out[t.name] = summary;
  }
  const ratios: Record<string, number | null> = {};
  for (const [a, b] of ratioPairs) {
    const ta = out[a];
    const tb = out[b];
    if (ta && tb) ratios[`${a}/${b}`] = tpsRatio(ta, tb);
  }
  return { targets: out, ratios };
}
