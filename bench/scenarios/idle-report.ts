// The idle-connections scenario's result document and its console, Markdown and SVG renderings.
// Pure functions.
import type { ProcessMemory } from '../lib/process-memory.js';
import { fmt, formatTable, markdownTable } from '../lib/report.js';
import type { ScenarioResultHeader } from '../lib/scenario.js';
import {
  consoleDocument,
  firstColumnLeft,
  markdownDocument,
  type TableParts,
} from '../lib/scenario-report.js';
import { median } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';
import type { IdleOptions } from './idle-options.js';

/** The goal (#16): at most this much proxy RSS with 10,000 idle clients... */
export const GOAL_RSS_MB = 300;
/** ...and the active clients' p99 at most this factor of the run without them. */
export const GOAL_P99_RATIO = 1.1;
/** The idle-client count the RSS goal is stated for. */
export const GOAL_CONNECTIONS = 10_000;

export interface IdleRunFigures {
  tps: number;
  transactions: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface IdleRun {
  round: number;
  withIdle: boolean;
  startedAt: string;
  loadavg1: number;
  figures: IdleRunFigures | null;
  error?: string;
}

/** The proxy's memory around one opening of the idle connections (KiB, process tree). */
export interface IdleMemory {
  round: number;
  opened: number;
  loginMs: number;
  openerFdLimit: number | null;
  before: ProcessMemory;
  idle: ProcessMemory;
  afterRun: ProcessMemory;
  perIdleClientKb: number;
}

export interface IdleSummary {
  /** Medians over the rounds. */
  withoutIdle: { tps: number; p99Ms: number } | null;
  withIdle: { tps: number; p99Ms: number } | null;
  /** Per round: p99 with / p99 without, tps with / tps without; and their medians. */
  p99RatioPerRound: number[];
  tpsRatioPerRound: number[];
  p99Ratio: number | null;
  tpsRatio: number | null;
  /** The largest RSS with the idle clients open, MB, and the median KiB per idle client. */
  idleRssMb: number | null;
  peakRssMb: number | null;
  perIdleClientKb: number | null;
  goals: { rss: boolean | null; p99: boolean | null };
}

export interface IdleResult extends ScenarioResultHeader<'idle'> {
  /** The options of the run (workers as shardgateWorkers), the client limit and pgbench's command. */
  parameters: Pick<
    IdleOptions,
    | 'connections'
    | 'clients'
    | 'durationS'
    | 'rounds'
    | 'batch'
    | 'warmupS'
    | 'settleS'
    | 'poolSize'
    | 'scale'
  > & { shardgateWorkers: number; maxClientConnections: number; pgbenchCommand: string };
  memoryAtStart: ProcessMemory;
  memoryAtEnd: ProcessMemory;
  memory: IdleMemory[];
  runs: IdleRun[];
  summary: IdleSummary;
  notes: string[];
}

const orNull = (v: number) => (Number.isFinite(v) ? v : null);

/** The RSS goal is judged only at GOAL_CONNECTIONS or more idle clients (fewer would flatter it). */
export function summarize(
  runs: readonly IdleRun[],
  memory: readonly IdleMemory[],
  connections: number,
): IdleSummary {
  const side = (withIdle: boolean) => {
    const mine = runs.filter((r) => r.withIdle === withIdle && r.figures);
    if (mine.length === 0) return null;
    return { tps: median(mine.map((r) => r.figures!.tps)), p99Ms: median(mine.map((r) => r.figures!.p99Ms)) };
  };
  const p99RatioPerRound: number[] = [];
  const tpsRatioPerRound: number[] = [];
  for (const round of new Set(runs.map((r) => r.round))) {
    const a = runs.find((r) => r.round === round && !r.withIdle)?.figures;
    const b = runs.find((r) => r.round === round && r.withIdle)?.figures;
    if (!a || !b) continue;
    p99RatioPerRound.push(b.p99Ms / a.p99Ms);
    tpsRatioPerRound.push(b.tps / a.tps);
  }
  const p99Ratio = p99RatioPerRound.length > 0 ? median(p99RatioPerRound) : null;
  const idleRssMb = memory.length > 0 ? Math.max(...memory.map((m) => m.idle.rssKb)) / 1024 : null;
  const peakRssMb = memory.length > 0 ? Math.max(...memory.map((m) => m.afterRun.hwmKb)) / 1024 : null;
  return {
    withoutIdle: side(false),
    withIdle: side(true),
    p99RatioPerRound,
    tpsRatioPerRound,
    p99Ratio,
    tpsRatio: tpsRatioPerRound.length > 0 ? median(tpsRatioPerRound) : null,
    idleRssMb,
    peakRssMb,
    perIdleClientKb: memory.length > 0 ? orNull(median(memory.map((m) => m.perIdleClientKb))) : null,
    goals: {
      rss: idleRssMb === null || connections < GOAL_CONNECTIONS ? null : idleRssMb <= GOAL_RSS_MB,
      p99: p99Ratio === null ? null : p99Ratio <= GOAL_P99_RATIO,
    },
  };
}

const mb = (kb: number) => fmt(kb / 1024, 1);

function runTable(r: IdleResult): TableParts {
  const headers = ['round', 'idle clients', 'tps', 'p50 ms', 'p99 ms', 'max ms', 'load 1m'];
  const rows = r.runs.map((run) => [
    String(run.round + 1),
    run.withIdle ? String(r.parameters.connections) : '0',
    run.figures ? fmt(run.figures.tps) : `error: ${run.error ?? ''}`,
    fmt(run.figures?.p50Ms, 2),
    fmt(run.figures?.p99Ms, 2),
    fmt(run.figures?.maxMs, 1),
    fmt(run.loadavg1, 1),
  ]);
  return { headers, rows, align: firstColumnLeft(headers) };
}

function memoryTable(r: IdleResult): TableParts {
  const headers = ['round', 'opened', 'login s', 'RSS before MB', 'RSS idle MB', 'KiB per idle', 'VmHWM MB'];
  const rows = r.memory.map((m) => [
    String(m.round + 1),
    String(m.opened),
    fmt(m.loginMs / 1000, 1),
    mb(m.before.rssKb),
    mb(m.idle.rssKb),
    fmt(m.perIdleClientKb, 1),
    mb(m.afterRun.hwmKb),
  ]);
  return { headers, rows, align: firstColumnLeft(headers) };
}

function verdict(r: IdleResult): string[] {
  const s = r.summary;
  const yes = (v: boolean | null) => (v === null ? 'not judged' : v ? 'met' : 'NOT met');
  return [
    `proxy RSS with ${r.parameters.connections} idle clients: ${fmt(s.idleRssMb, 1)} MB (${fmt(s.perIdleClientKb, 1)} KiB each; goal <= ${GOAL_RSS_MB} MB at 10,000: ${yes(s.goals.rss)})`,
    `p99 with / without idle: ${fmt(s.p99Ratio, 3)} (per round ${s.p99RatioPerRound.map((x) => x.toFixed(3)).join(', ')}; goal <= ${GOAL_P99_RATIO}: ${yes(s.goals.p99)})`,
    `tps with / without idle: ${fmt(s.tpsRatio, 3)} (per round ${s.tpsRatioPerRound.map((x) => x.toFixed(3)).join(', ')})`,
    `proxy RSS at start ${mb(r.memoryAtStart.rssKb)} MB, at the end (idle clients closed) ${mb(r.memoryAtEnd.rssKb)} MB; client limit raised to ${r.parameters.maxClientConnections}`,
  ];
}

export function consoleReport(r: IdleResult): string {
  const runs = runTable(r);
  const memory = memoryTable(r);
  return consoleDocument(
    r,
    `bench idle: ${r.parameters.connections} idle clients, pgbench -S -c ${r.parameters.clients}, ${r.parameters.durationS} s per run`,
    [
      '',
      formatTable(runs.headers, runs.rows, runs.align),
      '',
      formatTable(memory.headers, memory.rows, memory.align),
      '',
      ...verdict(r),
    ],
    r.notes,
  );
}

export function markdownReport(r: IdleResult): string {
  const runs = runTable(r);
  const memory = memoryTable(r);
  return markdownDocument(
    r,
    `Idle client connections: ${r.parameters.connections} logged-in idle clients held by shardgate while pgbench -S runs with ${r.parameters.clients} clients, runs without and with them alternated.`,
    [
      markdownTable(runs.headers, runs.rows, runs.align),
      '',
      markdownTable(memory.headers, memory.rows, memory.align),
      '',
      ...verdict(r).map((l) => `- ${l}`),
    ],
    r.notes,
    { versions: true },
  );
}

export function svgReport(r: IdleResult): string {
  const rounds = [...new Set(r.runs.map((x) => x.round))];
  return barChart({
    title: `pgbench -S p99 with and without ${r.parameters.connections} idle clients`,
    yLabel: 'p99 latency (ms)',
    series: ['without idle', `with ${r.parameters.connections} idle`],
    groups: rounds.map((round) => ({
      label: `round ${round + 1}`,
      values: [false, true].map((withIdle) => {
        const f = r.runs.find((x) => x.round === round && x.withIdle === withIdle)?.figures;
        return f ? { value: f.p99Ms } : undefined;
      }),
    })),
    subtitle: `proxy RSS ${fmt(r.summary.idleRssMb, 1)} MB with the idle clients, ${fmt(r.summary.perIdleClientKb, 1)} KiB each`,
  });
}
