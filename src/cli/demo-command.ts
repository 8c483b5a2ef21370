// `shardgate demo` (what `npm start` runs): a local topology of 2 shards, each a primary and one
// replica, the demo schema with sample rows, and the proxy on 6432. Ctrl-C stops everything.
// `--instances N` (2 or more) starts N proxies in front of the same shards that share the result
// cache's Redis tier (cache.shared), with a redis-server of the demo's own on a free loopback port:
// a write through one instance drops the others' cached reads of that table.

import type { Command } from 'commander';

export interface DemoOptions {
  shards: string;
  replicas: string;
  port: string;
  adminPort: string;
  stateFile?: string;
  users: string;
  spares: string;
  spareReplicas: string;
  mysql: boolean;
  mysqlPort: string;
  instances: string;
}

/** Most proxy instances the demo starts (each is a full proxy process's worth of work). */
const MAX_INSTANCES = 4;

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start a local sharded topology with sample data and the proxy (Ctrl-C stops everything)')
    .option('--shards <n>', 'number of shards', '2')
    .option('--replicas <n>', 'replicas per shard', '1')
    .option('--port <port>', 'PostgreSQL port of the proxy', '6432')
    .option('--admin-port <port>', 'admin HTTP port', '9930')
    .option('--users <n>', 'sample users to load', '200')
    .option('--spares <n>', 'spare servers to start as split targets', '0')
    .option(
      '--spare-replicas <n>',
      "streaming replicas of each spare (the new shard's replicas after a split)",
      '0',
    )
    .option('--no-mysql', 'do not start the MySQL side (MariaDB shards and the MySQL port)')
    .option('--mysql-port <port>', 'MySQL port of the proxy', '6033')
    .option(
      '--instances <n>',
      `proxy instances (1-${MAX_INSTANCES}); 2 or more share the result cache through a local redis-server, on consecutive ports`,
      '1',
    )
    .option('--state-file <path>', 'write the running topology as JSON here once ready')
    .action(async (opts: DemoOptions) => {
      checkDemoOptions(opts);
      // Loaded here, not at the top: `shardgate --help` should not load the proxy and the launcher.
      const { runDemo } = await import('./demo-run.js');
      await runDemo(opts);
    });
}

/** Exits with status 2 on options that cannot go together, before anything starts. */
function checkDemoOptions(opts: DemoOptions): void {
  const instances = Number(opts.instances);
  if (!Number.isInteger(instances) || instances < 1 || instances > MAX_INSTANCES) {
    process.stderr.write(`shardgate demo: --instances must be a whole number from 1 to ${MAX_INSTANCES}\n`);
    process.exit(2);
  }
  if (instances > 1 && Number(opts.spares) > 0) {
    // The demo's instances share the result cache, not the control plane: a split through one
    // would switch only that one, and the others would keep writing the moved range to its source.
    process.stderr.write(
      'shardgate demo: --spares (live splits) needs a single instance: several instances fence a cutover only through etcd (shardgate start --control etcd://...); drop --instances or --spares\n',
    );
    process.exit(2);
  }
}
