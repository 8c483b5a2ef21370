// `shardgate demo` (what `npm start` runs): a local topology of 2 shards, each a primary and one
// replica, the demo schema with sample rows, and the proxy on 6432. Ctrl-C stops everything.

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import pg from 'pg';
import { loadDemoData } from '../local/demo-data.js';
import { DEMO_OPS_ROLE, pgOpsRoleSql } from '../local/demo-roles.js';
import { configForLocalShards, evenKeyRanges } from '../local/local-config.js';
import { type MariadbCluster, startMariadbCluster } from '../local/mariadb-cluster.js';
import { loadMysqlDemoData } from '../local/mysql-demo-schema.js';
import { startPostgresCluster } from '../local/postgres-cluster.js';
import { createLogger } from '../log.js';
import { writePrivateFile } from '../private-files.js';
import { installLastResortHandlers } from '../process-guard.js';
import { startProxy } from '../proxy.js';

interface DemoOptions {
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
}

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
    .option('--state-file <path>', 'write the running topology as JSON here once ready')
    .action(async (opts: DemoOptions) => {
      await runDemo(opts);
    });
}

async function runDemo(opts: DemoOptions): Promise<void> {
  const log = createLogger(process.env.SHARDGATE_LOG_LEVEL ?? 'info');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say('shardgate demo: starting local PostgreSQL servers...');
  const cluster = await startPostgresCluster({
    shards: Number(opts.shards),
    replicasPerShard: Number(opts.replicas),
    database: 'shardgate',
    logger: log,
  });
  let stopping = false;
  const cleanups: Array<() => Promise<void>> = [() => cluster.stop()];
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nshardgate demo: stopping...');
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    // The MySQL side needs MariaDB's binaries; without them the demo says so and goes on.
    let mariadb: MariadbCluster | null = null;
    if (opts.mysql) {
      say('shardgate demo: starting local MariaDB servers...');
      try {
        mariadb = await startMariadbCluster({
          shards: Number(opts.shards),
          replicasPerShard: Number(opts.replicas),
        });
        const started = mariadb;
        cleanups.push(() => started.stop());
      } catch (err) {
        say(`shardgate demo: MySQL side skipped: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const mysqlRanges = evenKeyRanges(mariadb?.shards.length ?? 1);
    const adminToken = randomBytes(12).toString('hex');
    const spares = [];
    for (let i = 1; i <= Number(opts.spares); i++)
      spares.push(await cluster.addSpare(`spare${i}`, Number(opts.spareReplicas)));
    const spareReplicas = (name: string) =>
      (cluster.spareReplicas.get(name) ?? []).map((r) => ({ name: r.name, host: r.host, port: r.port }));
    const config = configForLocalShards(
      cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
      {
        database: 'shardgate',
        overrides: {
          listen: {
            postgres: { host: '127.0.0.1', port: Number(opts.port) },
            admin: { host: '127.0.0.1', port: Number(opts.adminPort) },
            ...(mariadb ? { mysql: { host: '127.0.0.1', port: Number(opts.mysqlPort) } } : {}),
          },
          ...(mariadb
            ? {
                mysqlShards: mariadb.shards.map((s, i) => ({
                  name: s.name,
                  keyRange: mysqlRanges[i],
                  protocol: 'mysql',
                  primary: { name: s.primary.name, host: s.primary.host, port: s.primary.port },
                  replicas: s.replicas.map((r) => ({ name: r.name, host: r.host, port: r.port })),
                })),
                backend: { mysqlUser: 'root', mysqlPassword: '', mysqlDatabase: 'shardgate' },
              }
            : {}),
          // Mutating admin endpoints (rules, migrations) need a token; the demo makes one up.
          admin: { token: adminToken },
          // The demo's servers are throwaway: so is its history (another run has other shards).
          observability: {
            history: { dir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-demo-history-')) },
          },
          migration: {
            stateDir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-demo-migrations-')),
            spares: spares.map((s) => ({
              name: s.name,
              host: s.host,
              port: s.port,
              replicas: spareReplicas(s.name),
            })),
          },
        },
      },
    );
    say('shardgate demo: loading the schema and sample rows...');
    const loaded = await loadDemoData(config, { users: Number(opts.users) });
    if (mariadb) await loadMysqlDemoData(config, { users: Number(opts.users) });
    // shardgate's own work (lag monitor, history, splits) runs as a role without superuser rights;
    // the application's `app` is a role of its own (src/local/demo-roles.ts).
    const servers = [...cluster.shards.map((s) => s.primary), ...spares];
    await Promise.all(servers.map((s) => runAsSuperuser(s, pgOpsRoleSql(config.backend.database))));
    const proxy = await startProxy(
      { ...config, backend: { ...config.backend, user: DEMO_OPS_ROLE, password: '' } },
      { log },
    );
    cleanups.push(() => proxy.close());
    installLastResortHandlers(log);
    const pgUrl = `postgres://app:app@127.0.0.1:${proxy.postgres.port}/shardgate`;
    const mysqlUrl = proxy.mysql ? `mysql://app:app@127.0.0.1:${proxy.mysql.port}/shardgate` : null;
    const state = {
      proxy: {
        postgres: { host: '127.0.0.1', port: proxy.postgres.port, url: pgUrl },
        mysql: proxy.mysql ? { host: '127.0.0.1', port: proxy.mysql.port, url: mysqlUrl } : null,
        admin: { url: proxy.admin ? `http://127.0.0.1:${proxy.admin.port}` : null, token: adminToken },
      },
      shards: cluster.shards.map((s) => ({
        name: s.name,
        keyRange: config.shards.find((c) => c.name === s.name)?.keyRange,
        primary: { host: s.primary.host, port: s.primary.port, url: s.primary.url },
        replicas: s.replicas.map((r) => ({ host: r.host, port: r.port, url: r.url })),
      })),
      spares: spares.map((s) => ({
        name: s.name,
        host: s.host,
        port: s.port,
        url: s.url,
        replicas: spareReplicas(s.name),
      })),
    };
    say('');
    say(`shardgate is running: ${cluster.shards.length} shards, ${loaded.rows} sample rows.`);
    say('');
    say(`  psql "${pgUrl}"`);
    say(`  (as role app, no superuser rights; shardgate's own work runs as ${DEMO_OPS_ROLE})`);
    if (proxy.mysql) say(`  mariadb -h 127.0.0.1 -P ${proxy.mysql.port} -u app -papp shardgate`);
    if (proxy.admin) {
      say(`  dashboard: http://127.0.0.1:${proxy.admin.port}/#token=${adminToken}`);
      say(`  admin token (rules, migrations): export SHARDGATE_ADMIN_TOKEN=${adminToken}`);
    }
    say('');
    say('Try:');
    say('  SELECT * FROM users WHERE user_id = 42;            -- one shard, by key');
    say('  SELECT count(*), max(balance) FROM balances;       -- every shard, merged');
    say('  SET shardgate.vip = on;                            -- stronger reads for this session');
    say('  SHARDGATE EXPLAIN SELECT * FROM posts WHERE user_id = 7;');
    if (spares.length >= 2) {
      say('');
      say(`Split a shard live (spares: ${spares.map((s) => s.name).join(', ')}):`);
      say(
        `  shardgate migrate split s0 --at auto --targets ${spares[0]!.name},${spares[1]!.name} --admin-url http://127.0.0.1:${proxy.admin?.port}`,
      );
    }
    say('');
    say('Press Ctrl-C to stop.');
    // Last: whoever waits for the state file may rely on everything above being printed.
    // It holds the admin token: owner-only (0600).
    if (opts.stateFile) writePrivateFile(opts.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`shardgate demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await stop(1);
  }
}

async function runAsSuperuser(server: { host: string; port: number }, sql: string): Promise<void> {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: 'postgres',
    database: 'shardgate',
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
