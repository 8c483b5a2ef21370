// What the scenarios' options have in common: where results go and how progress is said, the
// shared command-line options (--duration, --repeats, --warmup, --workers, --pool-size, --clients,
// --zipf, --write-ratio, --seed, --shardgate-config-extra, --json/--results-dir/--no-results,
// --quick), the resolution "defaults, then --quick, then explicit options", and the end of every
// scenario's subcommand. No launcher imports: --help stays light.
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import {
  choiceListOption,
  commandLine,
  intFlag,
  intOption,
  jsonObjectOption,
  numberFlag,
} from './cli-args.js';
import { repoRoot } from './shardgate-process.js';

export interface ScenarioOutputOptions {
  /** Where the -<timestamp>.json and -latest.* files go; null writes nothing. */
  resultsDir: string | null;
  /** An extra copy of the JSON. */
  jsonPath: string | null;
  /** The command line, for the report. */
  command: string;
  say: (line: string) => void;
}

/** bench/results, no extra JSON copy, the default command line, progress on stdout. */
export function scenarioOutputDefaults(scenario: string): ScenarioOutputOptions {
  return {
    resultsDir: join(repoRoot(), 'bench', 'results'),
    jsonPath: null,
    command: `node dist/bench/main.js ${scenario}`,
    say: (line) => process.stdout.write(`${line}\n`),
  };
}

/** The raw values commander gives for the options every scenario has. */
export interface RawScenarioOptions {
  json?: string;
  resultsDir?: string;
  results: boolean;
  quick?: boolean;
}

/** `defaults` with the values given in `explicit` (commander leaves the options not given undefined). */
export function withDefaults<O extends object>(
  defaults: O,
  explicit: { [K in keyof O]?: O[K] | undefined },
): O {
  const o: O = { ...defaults };
  for (const key of Object.keys(explicit) as Array<keyof O>) {
    const value = explicit[key];
    if (value !== undefined) o[key] = value as O[keyof O];
  }
  return o;
}

/**
 * Defaults, then the --quick preset, then the explicit options (`explicit` maps option fields to
 * the parsed values, undefined when not given), then --json, --results-dir and --no-results.
 */
export function resolveScenarioOptions<O extends ScenarioOutputOptions>(
  defaults: O,
  quick: Partial<O>,
  raw: RawScenarioOptions,
  command: string,
  explicit: { [K in keyof O]?: O[K] | undefined },
): O {
  const o = withDefaults({ ...defaults, ...(raw.quick ? quick : {}), command }, explicit);
  if (raw.json) o.jsonPath = raw.json;
  if (raw.resultsDir) o.resultsDir = raw.resultsDir;
  if (raw.results === false) o.resultsDir = null;
  return o;
}

/** The result document's echo of the options: the fields `keys` of `o`, in that order. */
export function optionValues<O extends object, K extends keyof O>(o: O, keys: readonly K[]): Pick<O, K> {
  const out = {} as Pick<O, K>;
  for (const key of keys) out[key] = o[key];
  return out;
}

/** What the target comparisons (pgbench, sysbench) set of the shardgate they start and of tools. */
export interface ProxyTargetOptions {
  workers: number;
  poolSize: number;
  shardgateConfigExtra: Record<string, unknown> | null;
  /** Do not apt-get install missing tools (those targets are skipped). */
  noInstall: boolean;
}

export function proxyTargetDefaults(): ProxyTargetOptions {
  return { workers: 2, poolSize: 20, shardgateConfigExtra: null, noInstall: false };
}

/**
 * The raw values of the options both target comparisons have: --duration, --targets, --repeats,
 * --warmup, --workers, --pool-size, --shardgate-config-extra and --no-install.
 */
export interface RawProxyTargetOptions<T extends string = string> {
  duration?: number;
  targets?: T[];
  repeats?: number;
  warmup?: number;
  workers?: number;
  poolSize?: number;
  shardgateConfigExtra?: Record<string, unknown>;
  install: boolean;
}

/** Their explicit values (for resolveScenarioOptions). */
export function explicitProxyTargetOptions<T extends string>(raw: RawProxyTargetOptions<T>) {
  return {
    durationS: raw.duration,
    targets: raw.targets,
    repeats: raw.repeats,
    warmupS: raw.warmup,
    workers: raw.workers,
    poolSize: raw.poolSize,
    shardgateConfigExtra: raw.shardgateConfigExtra,
    noInstall: !raw.install,
  };
}

/** The options several scenarios have, as commander Options (add them with addOption). */
export const sharedOption = {
  duration(description: string, parse: (value: string) => number = intOption('--duration', 1, 3600)): Option {
    return new Option('--duration <s>', description).argParser(parse);
  },
  repeats(description: string): Option {
    return intFlag('--repeats <n>', description, 1, 100);
  },
  warmup(description: string, parse: (value: string) => number = intOption('--warmup', 0, 600)): Option {
    return new Option('--warmup <s>', description).argParser(parse);
  },
  workers(description = 'shardgate worker processes (default 2)'): Option {
    return intFlag('--workers <n>', description, 1, 64);
  },
  poolSize(): Option {
    return intFlag('--pool-size <n>', 'server connections per pool (default 20)', 1, 1000);
  },
  /** The target comparisons' --targets, of `all` (the default). */
  targets(all: readonly string[]): Option {
    return new Option('--targets <list>', `targets (default ${all.join(',')})`).argParser(
      choiceListOption('--targets', all),
    );
  },
  shardgateConfigExtra(): Option {
    return new Option(
      '--shardgate-config-extra <json>',
      'JSON merged over the generated shardgate config',
    ).argParser(jsonObjectOption);
  },
  /** Concurrent client sessions of the statement-level scenarios. */
  clients(description: string): Option {
    return intFlag('--clients <n>', description, 1, 256);
  },
  zipf(description: string): Option {
    return numberFlag('--zipf <s>', description, 0, 5);
  },
  writeRatio(description: string): Option {
    return numberFlag('--write-ratio <r>', description, 0, 1);
  },
  seed(): Option {
    return intFlag('--seed <n>', 'random seed (default 1)', 0, 2 ** 31 - 1);
  },
  quick(what: string): Option {
    return new Option('--quick', `tiny run for smoke tests: ${what}`);
  },
};

/** --json, --results-dir and --no-results; `dirNote` ends the --results-dir description. */
export function addResultOptions(command: Command, scenario: string, dirNote = ''): Command {
  return command
    .option('--json <file>', 'also write the JSON result here')
    .option(
      '--results-dir <dir>',
      `directory for ${scenario}-<timestamp>.json and ${scenario}-latest.{json,svg,md}${dirNote}`,
    )
    .option('--no-results', 'write no result files');
}

/** The target comparison's own words for the options they share. */
export interface ProxyTargetTexts {
  targets: readonly string[];
  duration: string;
  repeats: string;
  warmup: string;
  noInstall: string;
}

/** How a scenario's subcommand ends, after its own options. */
export interface ScenarioCommandEnd {
  /** Ends the --results-dir description. */
  resultsDirNote?: string;
  /**
   * For the target comparisons, the options of RawProxyTargetOptions: --duration, --targets,
   * --repeats, --warmup (described so), --workers, --pool-size and --shardgate-config-extra before
   * the result options, and --no-install (described so) after them.
   */
  proxyTargets?: ProxyTargetTexts;
  /** What --quick runs. */
  quick: string;
}

/**
 * Ends a scenario's subcommand with the options every scenario has (see ScenarioCommandEnd) and
 * the action: the options resolved with the command line (for the report), then `run`, which
 * imports the scenario (there, so --help works without the launchers) and runs it.
 */
export function endScenarioCommand<Raw, O>(
  command: Command,
  end: ScenarioCommandEnd,
  resolve: (raw: Raw, commandLine: string) => O,
  run: (options: O) => Promise<unknown>,
): void {
  if (end.proxyTargets)
    command
      .addOption(sharedOption.duration(end.proxyTargets.duration))
      .addOption(sharedOption.targets(end.proxyTargets.targets))
      .addOption(sharedOption.repeats(end.proxyTargets.repeats))
      .addOption(sharedOption.warmup(end.proxyTargets.warmup))
      .addOption(sharedOption.workers())
      .addOption(sharedOption.poolSize())
      .addOption(sharedOption.shardgateConfigExtra());
  addResultOptions(command, command.name(), end.resultsDirNote);
  if (end.proxyTargets) command.option('--no-install', end.proxyTargets.noInstall);
  command.addOption(sharedOption.quick(end.quick)).action(async (raw: Raw) => {
    await run(resolve(raw, commandLine()));
  });
}

/** Runs a scenario that says its progress on stderr and prints its JSON report on stdout. */
export async function printJsonReport(run: (say: (line: string) => void) => Promise<unknown>): Promise<void> {
  const report = await run((line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}
