// Command-line options of the pgbench scenario, parsed into PgbenchOptions.
import { relative } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { PGBENCH_MODES, type PgbenchMode } from '../lib/pgbench.js';
import {
  defaultPgbenchOptions,
  PGBENCH_TARGETS,
  type PgbenchOptions,
  type PgbenchTargetName,
  QUICK_PRESET,
} from './pgbench-options.js';

function positiveInt(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}`);
    return n;
  };
}

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

function parseJsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError('expected a JSON object');
  return parsed as Record<string, unknown>;
}

interface RawOptions {
  duration?: number;
  clients?: number[];
  modes?: PgbenchMode[];
  targets?: PgbenchTargetName[];
  repeats?: number;
  scale?: number;
  script?: 'select' | 'tpcb';
  warmup?: number;
  workers?: number;
  poolSize?: number;
  shardgateConfigExtra?: Record<string, unknown>;
  json?: string;
  resultsDir?: string;
  results: boolean;
  install: boolean;
  quick?: boolean;
}

/** Defaults, then --quick, then explicit options. */
export function resolveOptions(raw: RawOptions, command: string): PgbenchOptions {
  const o: PgbenchOptions = { ...defaultPgbenchOptions(), ...(raw.quick ? QUICK_PRESET : {}), command };
  if (raw.duration !== undefined) o.durationS = raw.duration;
  if (raw.clients) o.clients = raw.clients;
  if (raw.modes) o.modes = raw.modes;
  if (raw.targets) o.targets = raw.targets;
  if (raw.repeats !== undefined) o.repeats = raw.repeats;
  if (raw.scale !== undefined) o.scale = raw.scale;
  if (raw.script) o.script = raw.script;
  if (raw.warmup !== undefined) o.warmupS = raw.warmup;
  if (raw.workers !== undefined) o.workers = raw.workers;
  if (raw.poolSize !== undefined) o.poolSize = raw.poolSize;
  if (raw.shardgateConfigExtra) o.shardgateConfigExtra = raw.shardgateConfigExtra;
  if (raw.json) o.jsonPath = raw.json;
  if (raw.resultsDir) o.resultsDir = raw.resultsDir;
  if (raw.results === false) o.resultsDir = null;
  o.noInstall = !raw.install;
  return o;
}

export function registerPgbenchCommand(program: Command): void {
  program
    .command('pgbench')
    .description(
      'pgbench select-only (or TPC-B-like) throughput: direct vs shardgate vs PgBouncer vs pgpool-II',
    )
    .option('--duration <s>', 'seconds per pgbench run (default 10)', positiveInt('--duration', 3600))
    .option('--clients <list>', 'client counts (default 1,16,64)', parseClients)
    .option('--modes <list>', `query modes (default ${PGBENCH_MODES.join(',')})`, (v) =>
      parseList(v, PGBENCH_MODES, 'mode'),
    )
    .option('--targets <list>', `targets (default ${PGBENCH_TARGETS.join(',')})`, (v) =>
      parseList(v, PGBENCH_TARGETS, 'target'),
    )
    .option('--repeats <n>', 'repeats per mode x clients cell (default 3)', positiveInt('--repeats', 100))
    .option('--scale <n>', 'pgbench scale factor (default 10)', positiveInt('--scale', 1000))
    .option(
      '--script <name>',
      'select (pgbench -S, default) or tpcb',
      (v) => parseList(v, ['select', 'tpcb'] as const, 'script')[0],
    )
    .option('--warmup <s>', 'warm-up seconds per target (default 3)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 600)
        throw new InvalidArgumentError('--warmup must be an integer from 0 to 600');
      return n;
    })
    .option('--workers <n>', 'shardgate worker processes (default 2)', positiveInt('--workers', 64))
    .option('--pool-size <n>', 'server connections per pool (default 20)', positiveInt('--pool-size', 1000))
    .option(
      '--shardgate-config-extra <json>',
      'JSON merged over the generated shardgate config',
      parseJsonObject,
    )
    .option('--json <file>', 'also write the JSON result here')
    .option(
      '--results-dir <dir>',
      'directory for pgbench-<timestamp>.json and pgbench-latest.{json,svg,md} (default bench/results)',
    )
    .option('--no-results', 'write no result files')
    .option('--no-install', 'do not apt-get install missing pgbouncer/pgpool2 (skip those targets)')
    .option('--quick', 'tiny run for smoke tests: 2 s, 1 client, simple mode, 1 repeat, scale 1')
    .action(async (raw: RawOptions) => {
      const script = process.argv[1] ? relative(process.cwd(), process.argv[1]) : 'dist/bench/main.js';
      const command = ['node', script, ...process.argv.slice(2)].join(' ');
      // Loaded here so --help works without the local launcher's dependencies.
      const { runPgbenchScenario } = await import('./pgbench.js');
      await runPgbenchScenario(resolveOptions(raw, command));
    });
}
