// `shardgate bench <scenario>`: the benchmark scenarios of bench/ under the main CLI.
import type { Command } from 'commander';
import { registerBenchScenarios } from '../../bench/program.js';

export function registerBenchCommand(program: Command): void {
  const bench = program
    .command('bench')
    .description(
      'benchmarks on this machine: what the proxy costs against direct connections and other poolers',
    );
  registerBenchScenarios(bench);
}
