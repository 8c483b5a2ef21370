// Options of the consistency scenario, their defaults and the --quick preset (kept apart from the
// runner so --help works without loading the launcher).
import { CONSISTENCY_LEVELS, type ConsistencyLevel } from '../../src/config/schema.js';
import { type ScenarioOutputOptions, scenarioOutputDefaults } from '../lib/scenario-options.js';

/** How a session asks for its level: `SET shardgate.consistency = ...` once, or a comment hint per read. */
export const CONTEXT_VIAS = ['set', 'hint'] as const;
export type ContextVia = (typeof CONTEXT_VIAS)[number];

/** Strongest first, the order of the report. */
export const LEVELS_STRONGEST_FIRST: readonly ConsistencyLevel[] = [...CONSISTENCY_LEVELS].reverse();

export interface ConsistencyOptions extends ScenarioOutputOptions {
  /** Replica replay delays injected (recovery_min_apply_delay), in ms. */
  lagsMs: number[];
  levels: ConsistencyLevel[];
  /** Concurrent sessions; each both writes and reads. */
  clients: number;
  /** Seconds of workload per level x lag x repeat cell. */
  durationS: number;
  /** Seconds of unrecorded workload after a lag change, so shardgate's lag monitor sees it. */
  warmupS: number;
  repeats: number;
  /** Register rows per cell (half in posts, half in likes). */
  keys: number;
  /** Share of operations that are writes. */
  writeRatio: number;
  /** Share of reads that go to a key the session itself wrote (exercises read-your-writes). */
  ownReadShare: number;
  via: ContextVia;
  /** routing.defaultMaxLagMs: the staleness bound of `bounded`. */
  boundedMaxLagMs: number;
  /** Operations per session and cell at most (a bound besides the duration). */
  maxOpsPerSession: number;
  seed: number;
  workers: number;
  shardgateConfigExtra: Record<string, unknown> | null;
}

export function defaultConsistencyOptions(): ConsistencyOptions {
  return {
    lagsMs: [0, 100, 1000],
    levels: [...LEVELS_STRONGEST_FIRST],
    clients: 8,
    durationS: 5,
    warmupS: 1,
    repeats: 3,
    keys: 16,
    writeRatio: 0.25,
    ownReadShare: 0.5,
    via: 'set',
    boundedMaxLagMs: 500,
    maxOpsPerSession: 100_000,
    seed: 1,
    workers: 1,
    shardgateConfigExtra: null,
    ...scenarioOutputDefaults('consistency'),
  };
}

/** The --quick preset: seconds per cell, for the test suite. Explicit options still win. */
export const CONSISTENCY_QUICK: Partial<ConsistencyOptions> = {
  lagsMs: [0, 1000],
  clients: 4,
  durationS: 1,
  warmupS: 0.5,
  repeats: 1,
  keys: 8,
};

/** Rough wall time in seconds, for the banner. */
export function estimateConsistencySeconds(o: ConsistencyOptions): number {
  const cells = o.levels.length * o.repeats;
  return o.lagsMs.reduce((s, lag) => s + o.warmupS + cells * (o.durationS + 0.3) + lag / 1000 + 1, 0);
}
