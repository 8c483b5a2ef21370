// `shardgate demo`'s work (options in demo-command.ts): start the local servers, load the demo
// data, start the proxies and print how to reach them.

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ShardgateConfig } from '../config/schema.js';
import { loadDemoData } from '../local/demo-data.js';
import { DEMO_OPS_ROLE, pgOpsRoleSql } from '../local/demo-roles.js';
import { configForLocalShards, mysqlShardsFor } from '../local/local-config.js';
import { type MariadbCluster, startMariadbCluster } from '../local/mariadb-cluster.js';
import { loadMysqlDemoData } from '../local/mysql-demo-schema.js';
import { withSuperuser } from '../local/pg-superuser.js';
import { startPostgresCluster } from '../local/postgres-cluster.js';
import { startRedisServer } from '../local/redis-server.js';
import { createLogger } from '../log.js';
import { writePrivateFile } from '../private-files.js';
import { installLastResortHandlers } from '../process-guard.js';
import { type ProxyHandle, startProxy } from '../proxy.js';
import type { DemoOptions } from './demo-command.js';

export async function runDemo(opts: DemoOptions): Promise<void> {
  const log = createLogger(process.env.SHARDGATE_LOG_LEVEL ?? 'info');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  // Checked by demo-command.ts before this module loads.
  const instances = Number(opts.instances);
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
    // Several instances share the result cache through Redis (README "Result cache").
    let redisUrl: string | null = null;
    if (instances > 1) {
      say('shardgate demo: starting a local redis-server for the shared cache tier...');
      const redis = await startRedisServer();
      cleanups.push(() => redis.stop());
      redisUrl = redis.url;
    }
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
                mysqlShards: mysqlShardsFor(mariadb.shards),
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
          ...(redisUrl ? { cache: { shared: { redis: redisUrl } } } : {}),
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
    const proxies: ProxyHandle[] = [];
    for (let i = 0; i < instances; i++) {
      const started = await startProxy(
        { ...instanceConfig(config, i), backend: { ...config.backend, user: DEMO_OPS_ROLE, password: '' } },
        { log },
      );
      cleanups.push(() => started.close());
      proxies.push(started);
    }
    const proxy = proxies[0]!;
    installLastResortHandlers(log);
    const pgUrl = `postgres://app:app@127.0.0.1:${proxy.postgres.port}/shardgate`;
    const endpoints = (p: ProxyHandle) => ({
      postgres: {
        host: '127.0.0.1',
        port: p.postgres.port,
        url: `postgres://app:app@127.0.0.1:${p.postgres.port}/shardgate`,
      },
      mysql: p.mysql
        ? {
            host: '127.0.0.1',
            port: p.mysql.port,
            url: `mysql://app:app@127.0.0.1:${p.mysql.port}/shardgate`,
          }
        : null,
      admin: { url: p.admin ? `http://127.0.0.1:${p.admin.port}` : null, token: adminToken },
    });
    const state = {
      proxy: endpoints(proxy),
      // Every instance, the first one included (the same as `proxy`).
      proxies: proxies.map(endpoints),
      sharedCache: redisUrl ? { redis: redisUrl } : null,
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
    for (const [i, other] of proxies.entries()) {
      if (i === 0) continue;
      say('');
      say(`  instance ${i + 1}: psql "postgres://app:app@127.0.0.1:${other.postgres.port}/shardgate"`);
      if (other.admin)
        say(`  instance ${i + 1} dashboard: http://127.0.0.1:${other.admin.port}/#token=${adminToken}`);
    }
    if (redisUrl) {
      say('');
      say(`  shared result cache: ${redisUrl} (trending_topics is cached; a write through one instance`);
      say('  drops the other instances\' cached reads of it: GET /api/cache shows "shared")');
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

/**
 * Instance `i` of the demo's proxies: the next ports after the first instance's (0 stays 0, any
 * free port), and history and migration state directories of its own (two processes must not
 * write one store).
 */
function instanceConfig(config: ShardgateConfig, i: number): ShardgateConfig {
  if (i === 0) return config;
  const next = <T extends { port: number }>(l: T): T => ({ ...l, port: l.port === 0 ? 0 : l.port + i });
  const listen = config.listen;
  return {
    ...config,
    listen: {
      ...listen,
      postgres: next(listen.postgres),
      ...(listen.admin ? { admin: next(listen.admin) } : {}),
      ...(listen.mysql ? { mysql: next(listen.mysql) } : {}),
    },
    observability: {
      ...config.observability,
      history: {
        ...config.observability.history,
        dir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-demo-history-')),
      },
    },
    migration: {
      ...config.migration,
      stateDir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-demo-migrations-')),
    },
  };
}

async function runAsSuperuser(server: { host: string; port: number }, sql: string): Promise<void> {
  await withSuperuser(server, async (client) => {
    await client.query(sql);
  });
}
