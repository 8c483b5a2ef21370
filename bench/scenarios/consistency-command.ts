// Command-line options of the consistency scenario, parsed into ConsistencyOptions.
import type { Command } from 'commander';
import { CONSISTENCY_LEVELS, type ConsistencyLevel } from '../../src/config/schema.js';
import {
  choiceListOption,
  choiceOption,
  commandLine,
  intListOption,
  intOption,
  jsonObjectOption,
  numberOption,
} from '../lib/cli-args.js';
import {
  CONSISTENCY_QUICK,
  CONTEXT_VIAS,
  type ConsistencyOptions,
  type ContextVia,
  defaultConsistencyOptions,
  LEVELS_STRONGEST_FIRST,
} from './consistency-options.js';

interface RawOptions {
  lags?: number[];
  levels?: ConsistencyLevel[];
  clients?: number;
  duration?: number;
  warmup?: number;
  repeats?: number;
  keys?: number;
  writeRatio?: number;
  ownReads?: number;
  via?: ContextVia;
  boundedMaxLag?: number;
  maxOps?: number;
  seed?: number;
  workers?: number;
  shardgateConfigExtra?: Record<string, unknown>;
  json?: string;
  resultsDir?: string;
  results: boolean;
  quick?: boolean;
}

/** Defaults, then --quick, then explicit options; levels keep the report's strongest-first order. */
export function resolveConsistencyOptions(raw: RawOptions, command: string): ConsistencyOptions {
  const o: ConsistencyOptions = {
    ...defaultConsistencyOptions(),
    ...(raw.quick ? CONSISTENCY_QUICK : {}),
    command,
  };
  if (raw.lags) o.lagsMs = raw.lags;
  if (raw.levels) o.levels = LEVELS_STRONGEST_FIRST.filter((l) => raw.levels?.includes(l));
  if (raw.clients !== undefined) o.clients = raw.clients;
  if (raw.duration !== undefined) o.durationS = raw.duration;
  if (raw.warmup !== undefined) o.warmupS = raw.warmup;
  if (raw.repeats !== undefined) o.repeats = raw.repeats;
  if (raw.keys !== undefined) o.keys = raw.keys;
  if (raw.writeRatio !== undefined) o.writeRatio = raw.writeRatio;
  if (raw.ownReads !== undefined) o.ownReadShare = raw.ownReads;
  if (raw.via) o.via = raw.via;
  if (raw.boundedMaxLag !== undefined) o.boundedMaxLagMs = raw.boundedMaxLag;
  if (raw.maxOps !== undefined) o.maxOpsPerSession = raw.maxOps;
  if (raw.seed !== undefined) o.seed = raw.seed;
  if (raw.workers !== undefined) o.workers = raw.workers;
  if (raw.shardgateConfigExtra) o.shardgateConfigExtra = raw.shardgateConfigExtra;
  if (raw.json) o.jsonPath = raw.json;
  if (raw.resultsDir) o.resultsDir = raw.resultsDir;
  if (raw.results === false) o.resultsDir = null;
  return o;
}

export function registerConsistencyCommand(program: Command): void {
  program
    .command('consistency')
    .description(
      'stale-read rate, read-your-writes violations, replica share and latency per consistency level under injected replica lag',
    )
    .option(
      '--lags <ms,...>',
      'replica replay delays to inject (default 0,100,1000)',
      intListOption('--lags', 0, 60_000),
    )
    .option(
      '--levels <list>',
      `consistency levels (default ${LEVELS_STRONGEST_FIRST.join(',')})`,
      choiceListOption('--levels', CONSISTENCY_LEVELS),
    )
    .option(
      '--clients <n>',
      'concurrent sessions, each writing and reading (default 8)',
      intOption('--clients', 1, 256),
    )
    .option(
      '--duration <s>',
      'seconds per level x lag x repeat cell (default 5)',
      numberOption('--duration', 0.1, 3600),
    )
    .option(
      '--warmup <s>',
      'unrecorded seconds after each lag change (default 1)',
      numberOption('--warmup', 0, 600),
    )
    .option(
      '--repeats <n>',
      'repeats, levels rotated between them (default 3)',
      intOption('--repeats', 1, 100),
    )
    .option('--keys <n>', 'registers (rows) per cell (default 16)', intOption('--keys', 1, 5_000))
    .option('--write-ratio <r>', 'share of writes, 0-1 (default 0.25)', numberOption('--write-ratio', 0, 1))
    .option(
      '--own-reads <r>',
      "share of reads of the session's own written keys (default 0.5)",
      numberOption('--own-reads', 0, 1),
    )
    .option(
      '--via <how>',
      'set (SET shardgate.consistency, default) or hint (comment per read)',
      choiceOption('--via', CONTEXT_VIAS),
    )
    .option(
      '--bounded-max-lag <ms>',
      'staleness bound of bounded: routing.defaultMaxLagMs (default 500)',
      intOption('--bounded-max-lag', 0, 3_600_000),
    )
    .option(
      '--max-ops <n>',
      'operations per session and cell at most (default 100000)',
      intOption('--max-ops', 1, 100_000_000),
    )
    .option('--seed <n>', 'random seed (default 1)', intOption('--seed', 0, 2 ** 31 - 1))
    .option('--workers <n>', 'shardgate worker processes (default 1)', intOption('--workers', 1, 64))
    .option(
      '--shardgate-config-extra <json>',
      'JSON merged over the generated shardgate config',
      jsonObjectOption,
    )
    .option('--json <file>', 'also write the JSON result here')
    .option(
      '--results-dir <dir>',
      'directory for consistency-<timestamp>.json and consistency-latest.{json,svg,md}',
    )
    .option('--no-results', 'write no result files')
    .option('--quick', 'tiny run for smoke tests: lags 0,1000, 4 sessions, 1 s per cell, 1 repeat')
    .action(async (raw: RawOptions) => {
      const { runConsistencyScenario } = await import('./consistency.js');
      await runConsistencyScenario(resolveConsistencyOptions(raw, commandLine()));
    });
}
