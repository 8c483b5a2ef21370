// Command-line options of the sysbench scenario, parsed into SysbenchOptions.
import type { Command } from 'commander';
import { choiceListOption, choiceOption, intFlag, intListOption } from '../lib/cli-args.js';
import {
  endScenarioCommand,
  explicitProxyTargetOptions,
  type RawProxyTargetOptions,
  type RawScenarioOptions,
  resolveScenarioOptions,
} from '../lib/scenario-options.js';
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

interface RawOptions extends RawScenarioOptions, RawProxyTargetOptions<SysbenchTargetName> {
  tests?: SysbenchTest[];
  threads?: number[];
  tables?: number;
  tableSize?: number;
  psMode?: SysbenchPsMode;
}

/** Defaults, then --quick, then explicit options. */
export function resolveSysbenchOptions(raw: RawOptions, command: string): SysbenchOptions {
  return resolveScenarioOptions(defaultSysbenchOptions(), SYSBENCH_QUICK, raw, command, {
    tests: raw.tests,
    threads: raw.threads,
    tables: raw.tables,
    tableSize: raw.tableSize,
    psMode: raw.psMode,
    ...explicitProxyTargetOptions(raw),
  });
}

export function registerSysbenchCommand(program: Command): void {
  const command = program
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
    .addOption(intFlag('--tables <n>', 'sbtest tables (default 4)', 1, 64))
    .addOption(intFlag('--table-size <n>', 'rows per table (default 10000)', 1, 100_000_000))
    .option(
      '--ps-mode <mode>',
      'sysbench --db-ps-mode: disable (text protocol, default) or auto (server-side prepared statements)',
      choiceOption('--ps-mode', SYSBENCH_PS_MODES),
    );
  endScenarioCommand(
    command,
    {
      proxyTargets: {
        targets: SYSBENCH_TARGETS,
        duration: 'seconds per sysbench run (default 10)',
        repeats: 'repeats per test x threads cell (default 3)',
        warmup: 'warm-up seconds per target (default 3; 0: none)',
        noInstall: 'do not apt-get install sysbench when it is missing',
      },
      quick: 'oltp_point_select, 1 thread, 2 s, 1 repeat, 1 x 1000 rows',
    },
    resolveSysbenchOptions,
    async (o) => (await import('./sysbench.js')).runSysbenchScenario(o),
  );
}
