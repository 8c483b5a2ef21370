// `shardgate bench <scenario>`: the benchmark scenarios of bench/ under the main CLI.
import type { Command } from 'commander';

/**
 * The scenarios (and all they import) load only when the command line names `bench`, so that
 * `shardgate --help` and the other commands do not pay for them.
 */
export async function registerBenchCommand(program: Command, argv: readonly string[]): Promise<void> {
  const bench = program
    .command('bench')
    .description(
      'benchmarks on this machine: what the proxy costs against direct connections and other poolers',
    );
  if (!argv.slice(2).includes('bench')) return;
  const { registerBenchScenarios } = await import('../../bench/program.js');
  registerBenchScenarios(bench);
}
