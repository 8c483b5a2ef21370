// The reports of `bench faults`: one row per (pool mode, fault) with what clients saw (errors,
// closed sessions), when the server left rotation and the last client error after the fault, and
// how many reads shardgate ran again elsewhere. Pure functions of the result document.
import { describeLoad, describeMachine } from '../lib/machine.js';
import { fmt, formatTable, markdownTable } from '../lib/report.js';
import type { ScenarioResultHeader } from '../lib/scenario.js';
import type { BenchProtocol } from '../lib/sql-session.js';
import { barChart } from '../lib/svg-chart.js';

export type FaultKind = 'replica-kill' | 'replica-drop' | 'primary-kill';
export const FAULT_KINDS: readonly FaultKind[] = ['replica-kill', 'replica-drop', 'primary-kill'];

export type { BenchProtocol };
export const BENCH_PROTOCOLS: readonly BenchProtocol[] = ['postgres', 'mysql'];

interface Counts {
  ok: number;
  errors: number;
}

export interface FaultRun {
  /** Absent in results written before the MySQL side was measured: postgres. */
  protocol?: 'postgres' | 'mysql';
  fault: FaultKind;
  poolMode: 'transaction' | 'session';
  victim: string;
  readers: number;
  reads: { before: Counts; after: Counts };
  writes: { before: Counts; after: Counts };
  sessionsClosed: number;
  /** Fault to shardgate's shunnedAt of the victim; null: never shunned. */
  shunMs: number | null;
  /**
   * Fault to the close of an idle direct connection to the victim, seen by the same process (the
   * earliest it could know; kills only): shunMs minus this is shardgate's own part.
   */
  victimCloseSeenMs?: number | null;
  /** Fault to the last error any client saw (0: none). */
  lastErrorMs: number;
  readsRetried: number;
  /** How late the bench process's event loop (proxy and clients) ran after the fault. */
  eventLoopDelayMs?: { p99: number; max: number };
  errorSamples: Array<{ error: string; count: number }>;
  beforeSeconds: number;
  afterSeconds: number;
}

export interface FaultsResult extends ScenarioResultHeader<'faults'> {
  runs: FaultRun[];
}

const HEADERS = [
  'fault',
  'pooling',
  'reads/s before',
  'reads/s after',
  'read errors',
  'write errors',
  'sessions closed',
  'shunned after ms',
  'direct conn. closed after ms',
  'last error after ms',
  'reads retried',
  'event loop delay p99/max ms',
];

function rows(result: FaultsResult): string[][] {
  return result.runs.map((r) => [
    `${r.protocol ?? 'postgres'}: ${r.fault} (${r.victim})`,
    r.poolMode,
    fmt(r.reads.before.ok / r.beforeSeconds),
    fmt(r.reads.after.ok / r.afterSeconds),
    String(r.reads.after.errors),
    `${r.writes.after.errors} of ${r.writes.after.errors + r.writes.after.ok}`,
    String(r.sessionsClosed),
    fmt(r.shunMs),
    fmt(r.victimCloseSeenMs ?? null),
    r.lastErrorMs ? fmt(r.lastErrorMs) : '-',
    String(r.readsRetried),
    r.eventLoopDelayMs ? `${fmt(r.eventLoopDelayMs.p99)}/${fmt(r.eventLoopDelayMs.max)}` : '-',
  ]);
}

function errorNotes(result: FaultsResult): string[] {
  return result.runs.flatMap((r) =>
    r.errorSamples.slice(0, 3).map((e) => `${r.fault}, ${r.poolMode}: ${e.count} x ${e.error}`),
  );
}

export function faultsReport(result: FaultsResult): { console: string; markdown: string; svg: string } {
  const body = rows(result);
  const notes = errorNotes(result);
  const where = `${describeMachine(result.machine)}; ${describeLoad(result.load.before)} before`;
  const console = [
    '',
    'bench faults: what clients see when a server fails under load',
    `machine: ${where}`,
    formatTable(HEADERS, body),
    ...notes.map((n) => `client error: ${n}`),
    '',
  ].join('\n');
  const markdown = [
    `Server faults under a steady eventual-read load plus one writer. Measured ${result.startedAt.slice(0, 10)} on ${where}.`,
    '',
    `Command: \`${result.command}\``,
    '',
    markdownTable(HEADERS, body),
    ...(notes.length ? ['', ...notes.map((n) => `- client error: ${n}`)] : []),
    '',
  ].join('\n');
  const svg = barChart({
    title: 'bench faults: client errors after the fault',
    yLabel: 'errors seen by clients',
    series: ['read errors', 'write errors', 'sessions closed'],
    groups: result.runs.map((r) => ({
      label: `${r.protocol ?? 'postgres'} ${r.fault} / ${r.poolMode}`,
      values: [
        { value: r.reads.after.errors },
        { value: r.writes.after.errors },
        { value: r.sessionsClosed },
      ],
    })),
  });
  return { console, markdown, svg };
}
