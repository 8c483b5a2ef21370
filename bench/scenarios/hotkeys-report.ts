// The hotkeys result document (JSON), console table, README snippet and SVG chart. Pure functions.
import type { LatencyPercentiles } from '../lib/hdr.js';
import { fmt, fmtSpread, formatTable, markdownTable } from '../lib/report.js';
import type { ScenarioResultHeader } from '../lib/scenario.js';
import {
  consoleDocument,
  firstColumnLeft,
  markdownDocument,
  type TableParts,
} from '../lib/scenario-report.js';
import { median, type Summary, summarize } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';
import type { CountErrors } from './hotkeys-analysis.js';
import type { HotkeysOptions } from './hotkeys-options.js';

export interface HotkeysShardFigures {
  shard: string;
  /** Statements shardgate counted for the shard, and the generator's count of its keyed ones. */
  requests: number;
  trueRequests: number;
  reportedScore: number | null;
  trueScore: number | null;
  reportedDistinct: number | null;
  trueDistinct: number;
  /** precision@top of the shard's own top list (/api/hotkeys?shard=). */
  precisionAtTop: number;
}

export interface HotkeysRepeat {
  repeat: number;
  startedAt: string;
  loadavg1: number;
  /** Statements that succeeded (the truth counts only those). */
  ops: number;
  errors: number;
  error?: string;
  seconds: number;
  opsPerSec: number;
  latency: LatencyPercentiles;
  distinctKeys: number;
  /** k -> precision@k. */
  precision: Record<string, number>;
  spearman: number;
  countError: CountErrors;
  /** shardgate's global top list, with the truth next to it. */
  reported: Array<{ value: string; shard: string; count: number; error: number; trueCount: number }>;
  /** The true top list, with what shardgate reported for each key. */
  top: Array<{
    rank: number;
    value: string;
    shard: string;
    trueCount: number;
    reportedCount: number | null;
    reportedError: number | null;
    reportedRank: number | null;
  }>;
  shards: HotkeysShardFigures[];
}

export interface HotkeysParameters
  extends Pick<
    HotkeysOptions,
    'keys' | 'zipfS' | 'ops' | 'maxSeconds' | 'clients' | 'writeRatio' | 'top' | 'repeats' | 'seed'
  > {
  shardgateWorkers: number;
  table: string;
  keyBase: number;
  topology: string;
}

export interface HotkeysSummary {
  precision: Record<string, Summary>;
  spearman: Summary;
  meanRelativeCountError: Summary;
  boundsHeld: Summary;
  opsPerSec: Summary;
  p50Ms: Summary;
  p99Ms: Summary;
  shards: Record<
    string,
    { reportedScore: Summary; trueScore: Summary; scoreDiff: Summary; precisionAtTop: Summary }
  >;
}

/** The JSON written to bench/results/hotkeys-*.json (schema version 1). */
export interface HotkeysResult extends ScenarioResultHeader<'hotkeys'> {
  parameters: HotkeysParameters;
  repeats: HotkeysRepeat[];
  summary: HotkeysSummary;
  notes: string[];
}

/** The k values precision is reported for: 1, 5 and top (those not above top). */
export function precisionKs(top: number): number[] {
  return [...new Set([1, 5, top])].filter((k) => k >= 1 && k <= top).sort((a, b) => a - b);
}

const num = (v: number | null | undefined) => (v === null || v === undefined ? Number.NaN : v);

export function summarizeRepeats(repeats: readonly HotkeysRepeat[], top: number): HotkeysSummary {
  const precision: Record<string, Summary> = {};
  for (const k of precisionKs(top))
    precision[String(k)] = summarize(repeats.map((r) => num(r.precision[String(k)])));
  const shardNames = [...new Set(repeats.flatMap((r) => r.shards.map((s) => s.shard)))].sort();
  const shards: HotkeysSummary['shards'] = {};
  for (const name of shardNames) {
    const rows = repeats.flatMap((r) => r.shards.filter((s) => s.shard === name));
    shards[name] = {
      reportedScore: summarize(rows.map((s) => num(s.reportedScore))),
      trueScore: summarize(rows.map((s) => num(s.trueScore))),
      scoreDiff: summarize(rows.map((s) => num(s.reportedScore) - num(s.trueScore))),
      precisionAtTop: summarize(rows.map((s) => s.precisionAtTop)),
    };
  }
  return {
    precision,
    spearman: summarize(repeats.map((r) => r.spearman)),
    meanRelativeCountError: summarize(repeats.map((r) => r.countError.meanRelative)),
    boundsHeld: summarize(repeats.map((r) => r.countError.boundsHeld)),
    opsPerSec: summarize(repeats.map((r) => r.opsPerSec)),
    p50Ms: summarize(repeats.map((r) => r.latency.p50Ms)),
    p99Ms: summarize(repeats.map((r) => r.latency.p99Ms)),
    shards,
  };
}

/** The repeat whose precision@top is the median (the one the key table and chart show). */
export function medianRepeat(result: HotkeysResult): HotkeysRepeat | undefined {
  const key = String(result.parameters.top);
  const m = median(result.repeats.map((r) => num(r.precision[key])));
  return (
    result.repeats.find((r) => num(r.precision[key]) === m) ??
    [...result.repeats].sort((a, b) => num(a.precision[key]) - num(b.precision[key]))[
      Math.floor(result.repeats.length / 2)
    ]
  );
}

const spread = (s: Summary, digits: number) => fmtSpread(s.median, s.min, s.max, digits);

function summaryTable(result: HotkeysResult): TableParts {
  const s = result.summary;
  const rows: string[][] = [];
  for (const [k, v] of Object.entries(s.precision)) rows.push([`precision@${k}`, spread(v, 2)]);
  rows.push(['rank correlation (Spearman, reported top)', spread(s.spearman, 2)]);
  rows.push(['count error |reported - true| / true (mean)', spread(s.meanRelativeCountError, 3)]);
  rows.push(['true count within [count - error, count]', spread(s.boundsHeld, 2)]);
  for (const [shard, v] of Object.entries(s.shards)) {
    rows.push([
      `${shard} hotspot score: reported / true`,
      `${spread(v.reportedScore, 1)} / ${spread(v.trueScore, 1)}`,
    ]);
    rows.push([
      `${shard} precision@${result.parameters.top} of its own top list`,
      spread(v.precisionAtTop, 2),
    ]);
  }
  rows.push(['statements per second', spread(s.opsPerSec, 0)]);
  rows.push(['latency p50 / p99 ms (HdrHistogram)', `${spread(s.p50Ms, 3)} / ${spread(s.p99Ms, 3)}`]);
  return { headers: ['figure', 'median [min-max]'], rows, align: ['left', 'right'] };
}

function keyTable(result: HotkeysResult): TableParts | null {
  const r = medianRepeat(result);
  if (!r) return null;
  const headers = [
    'true rank',
    'user_id',
    'shard',
    'true count',
    'reported count',
    'error bound',
    'reported rank',
  ];
  const rows = r.top.map((t) => [
    String(t.rank),
    t.value,
    t.shard,
    String(t.trueCount),
    t.reportedCount === null ? 'missed' : String(t.reportedCount),
    t.reportedError === null ? '-' : String(t.reportedError),
    t.reportedRank === null ? '-' : String(t.reportedRank),
  ]);
  return { headers, rows, align: firstColumnLeft(headers) };
}

function describeRun(result: HotkeysResult): string {
  const p = result.parameters;
  return (
    `Zipf s=${p.zipfS} over ${p.keys} keys, ${p.ops} statements per repeat (${Math.round(p.writeRatio * 100)}% UPDATE, rest SELECT) ` +
    `on ${p.table} by user_id from ${p.clients} clients, ${p.repeats} repeat${p.repeats === 1 ? '' : 's'} (fresh shardgate each), ${p.topology}`
  );
}

function noteLines(result: HotkeysResult): string[] {
  const lines = result.repeats
    .filter((r) => r.errors > 0)
    .map((r) => `repeat ${r.repeat + 1}: ${r.errors} statements failed: ${r.error ?? ''}`);
  return [...lines, ...result.notes];
}

export function consoleReport(result: HotkeysResult): string {
  const sum = summaryTable(result);
  const keys = keyTable(result);
  const body = ['', formatTable(sum.headers, sum.rows, sum.align)];
  if (keys)
    body.push(
      '',
      'true top keys (median repeat) and what shardgate reported:',
      formatTable(keys.headers, keys.rows, keys.align),
    );
  return consoleDocument(result, `hotkeys: ${describeRun(result)}`, body, noteLines(result));
}

export function markdownReport(result: HotkeysResult, svgPath = 'bench/results/hotkeys-latest.svg'): string {
  const sum = summaryTable(result);
  const keys = keyTable(result);
  const body = [markdownTable(sum.headers, sum.rows, sum.align)];
  if (keys) body.push('', markdownTable(keys.headers, keys.rows, keys.align));
  body.push('', `![hotkeys: true vs reported counts of the top keys](${svgPath})`);
  return markdownDocument(result, `${describeRun(result)}.`, body, noteLines(result));
}

export function svgReport(result: HotkeysResult): string {
  const r = medianRepeat(result);
  const p = result.parameters;
  const precision = r ? num(r.precision[String(p.top)]) : Number.NaN;
  return barChart({
    title: `hotkeys: true vs reported request counts of the top ${p.top} keys`,
    subtitle: `Zipf s=${p.zipfS}, ${p.keys} keys, ${p.ops} statements; precision@${p.top} ${fmt(precision, 2)}; whiskers: Space-Saving bound [count - error, count]`,
    yLabel: 'requests',
    series: ['true count', 'reported by shardgate'],
    groups: (r?.top ?? []).map((t) => ({
      label: `#${t.rank}\n${t.value}`,
      values: [
        { value: t.trueCount },
        t.reportedCount === null
          ? undefined
          : { value: t.reportedCount, low: t.reportedCount - (t.reportedError ?? 0), high: t.reportedCount },
      ],
    })),
  });
}
