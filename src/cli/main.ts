#!/usr/bin/env node
// shardgate command line: start | demo | status | rules | bench | migrate | report. Every command has --help.
// Each command loads what it runs inside its action, so help and the light commands start fast.
import { Command } from 'commander';
import { SHARDGATE_VERSION } from '../version.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerBenchCommand } from './bench-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerMigrateCommand } from './migrate-command.js';
import { registerReportCommand } from './report-command.js';
import { registerStartCommand } from './start-command.js';
import { registerTxnCommand } from './txn-command.js';

const program = new Command();
program
  .name('shardgate')
  .description(
    'SQL-aware PostgreSQL/MySQL proxy: sharding, consistency-policy reads, hot keys, live shard splits',
  )
  .version(SHARDGATE_VERSION);

registerStartCommand(program);
registerDemoCommand(program);
registerAdminCommands(program);
await registerBenchCommand(program, process.argv);
registerMigrateCommand(program);
registerReportCommand(program);
registerTxnCommand(program);

program.parseAsync(process.argv).catch(async (err: unknown) => {
  // Loaded only on failure: the config loader (zod, yaml) is not needed to print help.
  const { ConfigError } = await import('../config/load.js');
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`shardgate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
