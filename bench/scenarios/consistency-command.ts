// Command-line options of the consistency scenario, parsed into ConsistencyOptions.
import type { Command } from 'commander';
import { CONSISTENCY_LEVELS, type ConsistencyLevel } from '../../src/config/schema.js';
import {
  choiceListOption,
  choiceOption,
  intFlag,
  intListOption,
  numberFlag,
  numberOption,
} from '../lib/cli-args.js';
import {
  endScenarioCommand,
  type RawScenarioOptions,
  resolveScenarioOptions,
  sharedOption,
} from '../lib/scenario-options.js';
import {
  CONSISTENCY_QUICK,
  CONTEXT_VIAS,
  type ConsistencyOptions,
  type ContextVia,
  defaultConsistencyOptions,
  LEVELS_STRONGEST_FIRST,
} from './consistency-options.js';

interface RawOptions extends RawScenarioOptions {
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
}

/** Defaults, then --quick, then explicit options; levels keep the report's strongest-first order. */
export function resolveConsistencyOptions(raw: RawOptions, command: string): ConsistencyOptions {
  const levels = raw.levels;
  return resolveScenarioOptions(defaultConsistencyOptions(), CONSISTENCY_QUICK, raw, command, {
    lagsMs: raw.lags,
    levels: levels && LEVELS_STRONGEST_FIRST.filter((l) => levels.includes(l)),
    clients: raw.clients,
    durationS: raw.duration,
    warmupS: raw.warmup,
    repeats: raw.repeats,
    keys: raw.keys,
    writeRatio: raw.writeRatio,
    ownReadShare: raw.ownReads,
    via: raw.via,
    boundedMaxLagMs: raw.boundedMaxLag,
    maxOpsPerSession: raw.maxOps,
    seed: raw.seed,
    workers: raw.workers,
    shardgateConfigExtra: raw.shardgateConfigExtra,
  });
}

export function registerConsistencyCommand(program: Command): void {
  const command = program
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
    .addOption(sharedOption.clients('concurrent sessions, each writing and reading (default 8)'))
    .addOption(
      sharedOption.duration(
        'seconds per level x lag x repeat cell (default 5)',
        numberOption('--duration', 0.1, 3600),
      ),
    )
    .addOption(
      sharedOption.warmup(
        'unrecorded seconds after each lag change (default 1)',
        numberOption('--warmup', 0, 600),
      ),
    )
    .addOption(sharedOption.repeats('repeats, levels rotated between them (default 3)'))
    .addOption(intFlag('--keys <n>', 'registers (rows) per cell (default 16)', 1, 5_000))
    .addOption(sharedOption.writeRatio('share of writes, 0-1 (default 0.25)'))
    .addOption(
      numberFlag('--own-reads <r>', "share of reads of the session's own written keys (default 0.5)", 0, 1),
    )
    .option(
      '--via <how>',
      'set (SET shardgate.consistency, default) or hint (comment per read)',
      choiceOption('--via', CONTEXT_VIAS),
    )
    .addOption(
      intFlag(
        '--bounded-max-lag <ms>',
        'staleness bound of bounded: routing.defaultMaxLagMs (default 500)',
        0,
        3_600_000,
      ),
    )
    .addOption(
      intFlag('--max-ops <n>', 'operations per session and cell at most (default 100000)', 1, 100_000_000),
    )
    .addOption(sharedOption.seed())
    .addOption(sharedOption.workers('shardgate worker processes (default 1)'))
    .addOption(sharedOption.shardgateConfigExtra());
  endScenarioCommand(
    command,
    { quick: 'lags 0,1000, 4 sessions, 1 s per cell, 1 repeat' },
    resolveConsistencyOptions,
    async (o) => (await import('./consistency.js')).runConsistencyScenario(o),
  );
}
