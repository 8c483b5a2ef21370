// `shardgate start --config FILE`: validates the config (exit 2 before listening when invalid)
// and runs the proxy, in-process or as node:cluster workers sharing the listening port.
import type { Command } from 'commander';

export interface StartOptions {
  config: string;
  workers?: string;
  port?: string;
  control?: string;
  instanceId?: string;
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run the proxy with a config file')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--workers <n>', 'worker processes (overrides config; "auto" = one per core)')
    .option('--port <port>', 'PostgreSQL listen port (overrides config)')
    .option(
      '--control <url>',
      'share routing rules, drains and membership with other instances through etcd: etcd://host:port[,host:port...][/namespace] (default: this instance only)',
    )
    .option('--instance-id <id>', "this instance's member id in the control plane (default: hostname-pid)")
    .action(async (opts: StartOptions) => {
      // Loaded here, not at the top: `shardgate --help` should not load the proxy.
      const { startFromOptions } = await import('./start-run.js');
      await startFromOptions(opts);
    });
}
