// The benchmark command tree, shared by bench/main.ts and `shardgate bench` (the CLI can attach
// the scenarios to its own command with registerBenchScenarios).
import { Command } from 'commander';
import { registerCacheCommand } from './scenarios/cache.js';
import { registerConsistencyCommand } from './scenarios/consistency-command.js';
import { registerFaultsCommand } from './scenarios/faults-command.js';
import { registerFuzzCommand } from './scenarios/fuzz-command.js';
import { registerHotkeysCommand } from './scenarios/hotkeys-command.js';
import { registerIdleCommand } from './scenarios/idle-command.js';
// from './scenarios/hotkeys-command.js';
import { registerOracleCommand } from './scenarios/oracle-command.js';
import { registerPgbenchCommand } from './scenarios/pgbench-command.js';
import { registerScatterCommand } from './scenarios/scatter-command.js';
import { registerSplitCommand } from './scenarios/split-command.js';
import { registerSysbenchCommand } from './scenarios/sysbench-command.js';
import { registerTransferCommand } from './scenarios/transfer.js';

/** Adds one subcommand per scenario to `parent`. */
export function registerBenchScenarios(parent: Command): Command {
  registerPgbenchCommand(parent);
  registerSysbenchCommand(parent);
  registerHotkeysCommand(parent);
  registerConsistencyCommand(parent);
  registerSplitCommand(parent);
  registerCacheCommand(parent);
  registerFaultsCommand(parent);
  registerOracleCommand(parent);
  registerFuzzCommand(parent);
  registerScatterCommand(parent);
  registerTransferCommand(parent);
  registerIdleCommand(parent);
  return parent;
}

export function benchProgram(): Command {
  const program = new Command()
    .name('bench')
    .description(
      'shardgate benchmarks: what the proxy costs on this machine, measured against direct connections and other poolers',
    )
    .showHelpAfterError();
  return registerBenchScenarios(program);
}
