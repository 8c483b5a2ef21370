// Command-line options of the pgbench scenario, parsed into PgbenchOptions.
import type { Command } from 'commander';
import { choiceListOption, choiceOption, intFlag, intListOption } from '../lib/cli-args.js';
import { PGBENCH_MODES, type PgbenchMode } from '../lib/pgbench.js';
import {
  endScenarioCommand,
  explicitProxyTargetOptions,
  type RawProxyTargetOptions,
  type RawScenarioOptions,
  resolveScenarioOptions,
} from '../lib/scenario-options.js';
import {
  defaultPgbenchOptions,
  PGBENCH_TARGETS,
  type PgbenchOptions,
  type PgbenchTargetName,
  QUICK_PRESET,
} from './pgbench-options.js';

interface RawOptions extends RawScenarioOptions, RawProxyTargetOptions<PgbenchTargetName> {
  clients?: number[];
  modes?: PgbenchMode[];
  scale?: number;
  script?: 'select' | 'tpcb';
}

/** Defaults, then --quick, then explicit options. */
export function resolveOptions(raw: RawOptions, command: string): PgbenchOptions {
  return resolveScenarioOptions(defaultPgbenchOptions(), QUICK_PRESET, raw, command, {
    clients: raw.clients,
    modes: raw.modes,
    scale: raw.scale,
    script: raw.script,
    ...explicitProxyTargetOptions(raw),
  });
}

export function registerPgbenchCommand(program: Command): void {
  const command = program
    .command('pgbench')
    .description(
      'pgbench select-only (or TPC-B-like) throughput: direct vs shardgate vs PgBouncer vs pgpool-II',
    )
    .option('--clients <list>', 'client counts (default 1,16,64)', intListOption('--clients', 1, 1000))
    .option(
      '--modes <list>',
      `query modes (default ${PGBENCH_MODES.join(',')})`,
      choiceListOption('--modes', PGBENCH_MODES),
    )
    .addOption(intFlag('--scale <n>', 'pgbench scale factor (default 10)', 1, 1000))
    .option(
      '--script <name>',
      'select (pgbench -S, default) or tpcb',
      choiceOption('--script', ['select', 'tpcb'] as const),
    );
  endScenarioCommand(
    command,
    {
      resultsDirNote: ' (default bench/results)',
      proxyTargets: {
        targets: PGBENCH_TARGETS,
        duration: 'seconds per pgbench run (default 10)',
        repeats: 'repeats per mode x clients cell (default 3)',
        warmup: 'warm-up seconds per target (default 3)',
        noInstall: 'do not apt-get install missing pgbouncer/pgpool2 (skip those targets)',
      },
      quick: '2 s, 1 client, simple mode, 1 repeat, scale 1',
    },
    resolveOptions,
    async (o) => (await import('./pgbench.js')).runPgbenchScenario(o),
  );
}
