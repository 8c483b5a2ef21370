// Command-line options of the pgbench scenario, parsed into PgbenchOptions.
import { type Command, InvalidArgumentError } from 'commander';
import { intOption } from '../lib/cli-args.js';
import { PGBENCH_MODES, type PgbenchMode } from '../lib/pgbench.js';
import {
  endScenarioCommand,
  explicitProxyTargetOptions,
  type RawProxyTargetOptions,
  type RawScenarioOptions,
  resolveScenarioOptions,
  sharedOption,
} from '../lib/scenario-options.js';
import {
  defaultPgbenchOptions,
  PGBENCH_TARGETS,
  type PgbenchOptions,
  type PgbenchTargetName,
  QUICK_PRESET,
} from './pgbench-options.js';

export function parseList<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError(`no ${what} given`);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new InvalidArgumentError(`unknown ${what} "${item}" (choose from ${allowed.join(', ')})`);
    }
  }
  return [...new Set(items)] as T[];
}

export function parseClients(value: string): number[] {
  const items = value.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const item of items) {
    const n = Number(item);
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw new InvalidArgumentError(`client counts are integers from 1 to 1000, got "${item}"`);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

interface RawOptions extends RawScenarioOptions, RawProxyTargetOptions {
  duration?: number;
  clients?: number[];
  modes?: PgbenchMode[];
  targets?: PgbenchTargetName[];
  repeats?: number;
  scale?: number;
  script?: 'select' | 'tpcb';
  warmup?: number;
}

/** Defaults, then --quick, then explicit options. */
export function resolveOptions(raw: RawOptions, command: string): PgbenchOptions {
  return resolveScenarioOptions(defaultPgbenchOptions(), QUICK_PRESET, raw, command, {
    durationS: raw.duration,
    clients: raw.clients,
    modes: raw.modes,
    targets: raw.targets,
    repeats: raw.repeats,
    scale: raw.scale,
    script: raw.script,
    warmupS: raw.warmup,
    ...explicitProxyTargetOptions(raw),
  });
}

export function registerPgbenchCommand(program: Command): void {
  const command = program
    .command('pgbench')
    .description(
      'pgbench select-only (or TPC-B-like) throughput: direct vs shardgate vs PgBouncer vs pgpool-II',
    )
    .addOption(sharedOption.duration('seconds per pgbench run (default 10)'))
    .option('--clients <list>', 'client counts (default 1,16,64)', parseClients)
    .option('--modes <list>', `query modes (default ${PGBENCH_MODES.join(',')})`, (v) =>
      parseList(v, PGBENCH_MODES, 'mode'),
    )
    .option('--targets <list>', `targets (default ${PGBENCH_TARGETS.join(',')})`, (v) =>
      parseList(v, PGBENCH_TARGETS, 'target'),
    )
    .addOption(sharedOption.repeats('repeats per mode x clients cell (default 3)'))
    .option('--scale <n>', 'pgbench scale factor (default 10)', intOption('--scale', 1, 1000))
    .option(
      '--script <name>',
      'select (pgbench -S, default) or tpcb',
      (v) => parseList(v, ['select', 'tpcb'] as const, 'script')[0],
    )
    .addOption(sharedOption.warmup('warm-up seconds per target (default 3)'));
  endScenarioCommand(
    command,
    {
      resultsDirNote: ' (default bench/results)',
      proxyTargets: { noInstall: 'do not apt-get install missing pgbouncer/pgpool2 (skip those targets)' },
      quick: '2 s, 1 client, simple mode, 1 repeat, scale 1',
    },
    async (raw: RawOptions, line) => {
      const { runPgbenchScenario } = await import('./pgbench.js');
      await runPgbenchScenario(resolveOptions(raw, line));
    },
  );
}
