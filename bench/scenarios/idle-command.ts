// `shardgate bench idle`: command-line options of the idle-connections scenario (idle.ts).
import type { Command } from 'commander';
import { intFlag } from '../lib/cli-args.js';
import {
  endScenarioCommand,
  type RawScenarioOptions,
  resolveScenarioOptions,
  sharedOption,
} from '../lib/scenario-options.js';
import { defaultIdleOptions, type IdleOptions, QUICK_IDLE } from './idle-options.js';

interface RawIdleOptions extends RawScenarioOptions {
  connections?: number;
  clients?: number;
  duration?: number;
  rounds?: number;
  batch?: number;
  warmup?: number;
  workers?: number;
  poolSize?: number;
}

export function resolveIdleOptions(raw: RawIdleOptions, command: string): IdleOptions {
  return resolveScenarioOptions(defaultIdleOptions(), QUICK_IDLE, raw, command, {
    connections: raw.connections,
    clients: raw.clients,
    durationS: raw.duration,
    rounds: raw.rounds,
    batch: raw.batch,
    warmupS: raw.warmup,
    workers: raw.workers,
    poolSize: raw.poolSize,
  });
}

export function registerIdleCommand(program: Command): void {
  const command = program
    .command('idle')
    .description(
      'idle PostgreSQL connections: proxy memory (VmRSS, VmHWM) per logged-in idle client, and pgbench -S p99 and tps with and without them (alternated)',
    )
    .addOption(
      intFlag(
        '--connections <n>',
        'idle client connections, opened from a separate process (default 10000)',
        1,
        100_000,
      ),
    )
    .addOption(intFlag('--clients <n>', 'active pgbench -S clients (default 16)', 1, 1000))
    .addOption(sharedOption.duration('seconds per pgbench run (default 5)'))
    .addOption(intFlag('--rounds <n>', 'rounds of (without idle, with idle), alternated (default 2)', 1, 50))
    .addOption(
      intFlag(
        '--batch <n>',
        'logins in flight at once (default 100; shardgate allows 128 unauthenticated per address)',
        1,
        128,
      ),
    )
    .addOption(sharedOption.warmup('seconds of pgbench before measuring (default 2)'))
    .addOption(sharedOption.workers('shardgate worker processes (default 1)'))
    .addOption(sharedOption.poolSize());
  endScenarioCommand(
    command,
    { resultsDirNote: ' (default bench/results)', quick: '200 idle connections, 1 s runs, 1 round' },
    resolveIdleOptions,
    async (o) => (await import('./idle.js')).runIdleScenario(o),
  );
}
