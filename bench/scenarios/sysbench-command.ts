// Command-line options of the sysbench scenario, parsed into SysbenchOptions.
import type { Command } from 'commander';
import {
  choiceListOption,
  choiceOption,
  commandLine,
  intListOption,
  intOption,
  jsonObjectOption,
} from '../lib/cli-args.js';
import {
  SYSBENCH_PS_MODES,
  SYSBENCH_TESTS,
  type SysbenchPsMode,
  type SysbenchTest,
} from '../lib/sysbench.js';
import {
  defaultSysbenchOptions,
  SYSBENCH_QUICK,
  SYSBENCH_TARGETS,
  type SysbenchOptions,
  type SysbenchTargetName,
} from './sysbench-options.js';

interface RawOptions {
  tests?: SysbenchTest[];
  threads?: number[];
  duration?: number;
  targets?: SysbenchTargetName[];
  repeats?: number;
  warmup?: number;
  tables?: number;
  tableSize?: number;
  psMode?: SysbenchPsMode;
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
export function resolveSysbenchOptions(raw: RawOptions, command: string): SysbenchOptions {
  const o: SysbenchOptions = { ...defaultSysbenchOptions(), ...(raw.quick ? SYSBENCH_QUICK : {}), command };
  if (raw.tests) o.tests = raw.tests;
  if (raw.threads) o.threads = raw.threads;
  if (raw.duration !== undefined) o.durationS = raw.duration;
  if (raw.targets) o.targets = raw.targets;
  if (raw.repeats !== undefined) o.repeats = raw.repeats;
  if (raw.warmup !== undefined) o.warmupS = raw.warmup;
  if (raw.tables !== undefined) o.tables = raw.tables;
  if (raw.tableSize !== undefined) o.tableSize = raw.tableSize;
  if (raw.psMode) o.psMode = raw.psMode;
  if (raw.workers !== undefined) o.workers = raw.workers;
  if (raw.poolSize !== undefined) o.poolSize = raw.poolSize;
  if (raw.shardgateConfigExtra) o.shardgateConfigExtra = raw.shardgateConfigExtra;
  if (raw.json) o.jsonPath = raw.json;
  if (raw.resultsDir) o.resultsDir = raw.resultsDir;
  if (raw.results === false) o.resultsDir = null;
  o.noInstall = !raw.install;
  return o;
}

export function registerSysbenchCommand(program: Command): void {
  program
    .command('sysbench')
    .description(
      "sysbench OLTP (point select, read-only, read/write) on MariaDB: direct vs shardgate's MySQL port",
    )
    .option(
      '--tests <list>',
      `sysbench scripts (default ${SYSBENCH_TESTS.join(',')})`,
      choiceListOption('--tests', SYSBENCH_TESTS),
    )
    .option('--threads <list>', 'sysbench thread counts (default 1,16)', intListOption('--threads', 1, 1000))
    .option('--duration <s>', 'seconds per sysbench run (default 10)', intOption('--duration', 1, 3600))
    .option(
      '--targets <list>',
      `targets (default ${SYSBENCH_TARGETS.join(',')})`,
      choiceListOption('--targets', SYSBENCH_TARGETS),
    )
    .option('--repeats <n>', 'repeats per test x threads cell (default 3)', intOption('--repeats', 1, 100))
    .option('--warmup <s>', 'warm-up seconds per target (default 3; 0: none)', intOption('--warmup', 0, 600))
    .option('--tables <n>', 'sbtest tables (default 4)', intOption('--tables', 1, 64))
    .option('--table-size <n>', 'rows per table (default 10000)', intOption('--table-size', 1, 100_000_000))
    .option(
      '--ps-mode <mode>',
      'sysbench --db-ps-mode: disable (text protocol, default) or auto (server-side prepared statements)',
      choiceOption('--ps-mode', SYSBENCH_PS_MODES),
    )
    .option('--workers <n>', 'shardgate worker processes (default 2)', intOption('--workers', 1, 64))
    .option('--pool-size <n>', 'server connections per pool (default 20)', intOption('--pool-size', 1, 1000))
    .option(
      '--shardgate-config-extra <json>',
      'JSON merged over the generated shardgate config',
      jsonObjectOption,
    )
    .option('--json <file>', 'also write the JSON result here')
    .option(
      '--results-dir <dir>',
      'directory for sysbench-<timestamp>.json and sysbench-latest.{json,svg,md}',
    )
    .option('--no-results', 'write no result files')
    .option('--no-install', 'do not apt-get install sysbench when it is missing')
    .option('--quick', 'tiny run for smoke tests: oltp_point_select, 1 thread, 2 s, 1 repeat, 1 x 1000 rows')
    .action(async (raw: RawOptions) => {
      const { runSysbenchScenario } = await import('./sysbench.js');
      await runSysbenchScenario(resolveSysbenchOptions(raw, commandLine()));
    });
}
