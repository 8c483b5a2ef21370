// The consistency result document (JSON), console table, README snippet and SVG charts. Pure.
import type { ConsistencyLevel } from '../../src/config/schema.js';
import type { LatencyPercentiles } from '../lib/hdr.js';
import { fmt, formatTable, markdownTable } from '../lib/report.js';
import type { ScenarioResultHeader } from '../lib/scenario.js';
import { consoleDocument, firstTenNotes, markdownDocument, type TableParts } from '../lib/scenario-report.js';
import { type Summary, summarize } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';
import { stackCharts } from '../lib/svg-stack.js';
import type { ConsistencyOptions } from './consistency-options.js';

/** One level x lag x repeat cell as measured. */
export interface ConsistencyRun {
  lagMs: number;
  level: ConsistencyLevel;
  repeat: number;
  /** Position of this level in the repeat's (rotated) order. */
  order: number;
  startedAt: string;
  loadavg1: number;
  seconds: number;
  reads: number;
  writes: number;
  errors: number;
  error?: string;
  /** The checker's verdicts (see bench/lib/consistency-checker.ts). */
  stale: number;
  staleRate: number;
  rywViolations: number;
  future: number;
  unknown: number;
  /** Stale reads that missed a write acknowledged more than boundedMaxLagMs before them. */
  staleBeyondBound: number;
  stalenessP50Ms: number;
  stalenessMaxMs: number;
  /** Reads answered by a replica (inet_server_port() of the answering server), and their share. */
  replicaReads: number;
  replicaShare: number;
  /** Cross-check from /metrics: shardgate_routing_decisions_total{level} replica / all, this cell. */
  metricsReplicaShare: number | null;
  /** Highest replica lag shardgate's monitor reported at the end of the cell (/api/shards). */
  monitorLagMs: number | null;
  read: LatencyPercentiles;
  write: LatencyPercentiles;
}

export interface ConsistencyCell {
  lagMs: number;
  level: ConsistencyLevel;
  reads: number;
  stale: number;
  rywViolations: number;
  future: number;
  staleBeyondBound: number;
  staleRate: Summary;
  replicaShare: Summary;
  readP50Ms: Summary;
  readP99Ms: Summary;
  stalenessMaxMs: Summary;
}

export interface ConsistencyParameters
  extends Pick<
    ConsistencyOptions,
    | 'lagsMs'
    | 'levels'
    | 'clients'
    | 'durationS'
    | 'warmupS'
    | 'repeats'
    | 'keys'
    | 'writeRatio'
    | 'ownReadShare'
    | 'via'
    | 'boundedMaxLagMs'
    | 'seed'
    | 'shardgateConfigExtra'
  > {
  readYourWritesWaitMs: number;
  lagPollIntervalMs: number;
  shardgateWorkers: number;
  topology: string;
  lagInjection: string;
  replicaShareSource: string;
}

/** The JSON written to bench/results/consistency-*.json (schema version 1). */
export interface ConsistencyResult extends ScenarioResultHeader<'consistency'> {
  parameters: ConsistencyParameters;
  runs: ConsistencyRun[];
  cells: ConsistencyCell[];
  notes: string[];
}

export function summarizeConsistency(
  runs: readonly ConsistencyRun[],
  parameters: Pick<ConsistencyParameters, 'lagsMs' | 'levels'>,
): ConsistencyCell[] {
  const cells: ConsistencyCell[] = [];
  for (const lagMs of parameters.lagsMs) {
    for (const level of parameters.levels) {
      const mine = runs.filter((r) => r.lagMs === lagMs && r.level === level);
      const total = (pick: (r: ConsistencyRun) => number) => mine.reduce((n, r) => n + pick(r), 0);
      cells.push({
        lagMs,
        level,
        reads: total((r) => r.reads),
        stale: total((r) => r.stale),
        rywViolations: total((r) => r.rywViolations),
        future: total((r) => r.future),
        staleBeyondBound: total((r) => r.staleBeyondBound),
        staleRate: summarize(mine.map((r) => r.staleRate)),
        replicaShare: summarize(mine.map((r) => r.replicaShare)),
        readP50Ms: summarize(mine.map((r) => r.read.p50Ms)),
        readP99Ms: summarize(mine.map((r) => r.read.p99Ms)),
        stalenessMaxMs: summarize(mine.map((r) => r.stalenessMaxMs)),
      });
    }
  }
  return cells;
}

const pct = (s: Summary) =>
  Number.isFinite(s.median)
    ? s.n > 1
      ? `${fmt(s.median * 100, 1)} [${fmt(s.min * 100, 1)}-${fmt(s.max * 100, 1)}]`
      : fmt(s.median * 100, 1)
    : '-';
const ms = (s: Summary, digits = 2) =>
  Number.isFinite(s.median)
    ? s.n > 1
      ? `${fmt(s.median, digits)} [${fmt(s.min, digits)}-${fmt(s.max, digits)}]`
      : fmt(s.median, digits)
    : '-';

function tableRows(result: ConsistencyResult): TableParts {
  const bound = result.parameters.boundedMaxLagMs;
  const headers = [
    'lag ms',
    'level',
    'reads',
    'stale %',
    'RYW violations',
    'replica %',
    'read p50 ms',
    'read p99 ms',
    'max staleness ms',
    `stale > ${bound} ms`,
  ];
  const rows = result.cells.map((c) => [
    String(c.lagMs),
    c.level,
    String(c.reads),
    pct(c.staleRate),
    String(c.rywViolations),
    pct(c.replicaShare),
    ms(c.readP50Ms),
    ms(c.readP99Ms),
    c.stale > 0 ? ms(c.stalenessMaxMs, 0) : '-',
    c.level === 'bounded' ? String(c.staleBeyondBound) : '-',
  ]);
  return { headers, rows, align: headers.map((_, i) => (i <= 1 ? 'left' : 'right')) };
}

function describeRun(result: ConsistencyResult): string {
  const p = result.parameters;
  return (
    `${p.clients} sessions writing (${Math.round(p.writeRatio * 100)}%) and reading ${p.keys} registers in posts and likes, ` +
    `${p.durationS} s per cell, ${p.repeats} repeat${p.repeats === 1 ? '' : 's'} with levels rotated, level set by ` +
    `${p.via === 'set' ? 'SET shardgate.consistency' : 'comment hint'}; lag injected with ${p.lagInjection}; ` +
    `bounded = ${p.boundedMaxLagMs} ms, read_your_writes waits up to ${p.readYourWritesWaitMs} ms; ${p.topology}`
  );
}

function noteLines(result: ConsistencyResult): string[] {
  const lines = firstTenNotes(
    result.runs.filter((r) => r.errors > 0),
    (r) =>
      `lag ${r.lagMs} ms ${r.level} repeat ${r.repeat + 1}: ${r.errors} failed statements: ${r.error ?? ''}`,
    'cells with errors',
  );
  const future = result.runs.reduce((n, r) => n + r.future, 0);
  if (future > 0)
    lines.push(
      `${future} reads returned a version written after they ended: the harness or the store is broken`,
    );
  const unknown = result.runs.reduce((n, r) => n + r.unknown, 0);
  if (unknown > 0)
    lines.push(`${unknown} reads returned a version of a write whose acknowledgement was lost (not judged)`);
  return [...lines, ...result.notes];
}

const LEGEND = [
  'stale % = reads that returned an older version than the newest write acknowledged before the read was sent (any session)',
  "RYW violations = reads older than the session's own last acknowledged write",
  'replica % = reads answered by a replica (inet_server_port() of the answering server)',
];

export function consoleReport(result: ConsistencyResult): string {
  const { headers, rows, align } = tableRows(result);
  return consoleDocument(
    result,
    `consistency: ${describeRun(result)}`,
    [
      'figures: median [min-max] over repeats; counts are totals; latency from HdrHistogram per cell',
      '',
      formatTable(headers, rows, align),
      '',
      ...LEGEND,
    ],
    noteLines(result),
  );
}

export function markdownReport(
  result: ConsistencyResult,
  svgPath = 'bench/results/consistency-latest.svg',
): string {
  const { headers, rows, align } = tableRows(result);
  return markdownDocument(
    result,
    `${describeRun(result)}. Figures are medians [min-max] over repeats, counts are totals.`,
    [
      markdownTable(headers, rows, align),
      '',
      ...LEGEND.map((l) => `- ${l}`),
      '',
      `![consistency: stale reads, replica share and p99 per level and lag](${svgPath})`,
    ],
    noteLines(result),
  );
}

export function svgReport(result: ConsistencyResult): string {
  const p = result.parameters;
  const series = p.lagsMs.map((l) => `lag ${l} ms`);
  const chart = (title: string, yLabel: string, pick: (c: ConsistencyCell) => Summary, scale: number) =>
    barChart({
      title,
      subtitle: `${p.clients} sessions, ${p.durationS} s x ${p.repeats} repeats per bar; whiskers: min-max; ${result.machine.cpus} cpus`,
      yLabel,
      series,
      groups: p.levels.map((level) => ({
        // Long names on two lines, so neighbouring labels do not overlap.
        label: level.replace('_your_', '_your\n_'),
        values: p.lagsMs.map((lagMs) => {
          const c = result.cells.find((x) => x.level === level && x.lagMs === lagMs);
          if (!c) return undefined;
          const s = pick(c);
          return Number.isFinite(s.median)
            ? { value: s.median * scale, low: s.min * scale, high: s.max * scale }
            : undefined;
        }),
      })),
    });
  return stackCharts([
    chart('consistency: stale-read rate per level and replica lag', 'stale reads %', (c) => c.staleRate, 100),
    chart('consistency: share of reads served by replicas', 'replica reads %', (c) => c.replicaShare, 100),
    chart('consistency: read latency p99', 'p99 ms', (c) => c.readP99Ms, 1),
  ]);
}
