// The protocol part of `bench faults`: a fresh local shard (a primary and two replicas) behind an
// in-process shardgate, clients of the protocol's usual driver, and the faults themselves. The
// load loop and the measurements (faults.ts) are the same for both protocols.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { loadDemoData } from '../../src/local/demo-data.js';
import { configForLocalShards } from '../../src/local/local-config.js';
import { startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { loadMysqlDemoData } from '../../src/local/mysql-demo-schema.js';
import { freePort, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { silentLogger } from '../../src/log.js';
import { startProxy } from '../../src/proxy.js';
import type { FaultKind } from './faults-report.js';

export interface BenchClient {
  /** An eventual read (count of a user's likes). */
  read(user: number): Promise<unknown>;
  write(id: number, user: number): Promise<unknown>;
  end(): Promise<void>;
}

/** What the load loop needs of shardgate's side of the protocol. */
interface FaultTopology {
  readonly faultCounters: { readRetries: number };
  readonly monitor: {
    onShunChange: ((server: string, shunned: boolean, reason: string | null) => void) | null;
  };
}

export interface FaultTarget {
  topology: FaultTopology;
  /** A client through shardgate; `onClose` is told when the session ends. */
  connect(onClose: () => void): Promise<BenchClient>;
  inject(fault: FaultKind, victim: string): Promise<void>;
  /**
   * An idle connection of this process straight to `victim` (no shardgate): `onClose` is told when
   * its close is seen, the earliest this process could learn of the fault.
   */
  watchVictim(victim: string, onClose: () => void): Promise<void>;
  stop(): Promise<void>;
}

const READ_SQL = 'SELECT count(*) AS n FROM likes WHERE user_id = ';

export async function postgresTarget(poolMode: 'transaction' | 'session'): Promise<FaultTarget> {
  const cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 2, database: 'shardgate' });
  try {
    const config = configForLocalShards(
      cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
      {
        database: 'shardgate',
        overrides: {
          users: [{ name: 'bench', password: '', auth: 'trust', backend: 'service' }],
          listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
          pool: { mode: poolMode },
        },
      },
    );
    await loadDemoData(config, { users: 50 });
    for (const r of cluster.shards[0]!.replicas) await cluster.waitForReplay(r.name);
    const proxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: null });
    const clients: pg.Client[] = [];
    return {
      topology: proxy.topology,
      async connect(onClose) {
        const c = new pg.Client({
          host: '127.0.0.1',
          port: proxy.postgres.port,
          user: 'bench',
          database: 'shardgate',
        });
        c.on('error', () => undefined);
        c.on('end', onClose);
        await c.connect();
        clients.push(c);
        return {
          read: (user) => c.query(`${READ_SQL}$1`, [user]),
          write: (id, user) => c.query('INSERT INTO likes (id, user_id) VALUES ($1, $2)', [id, user]),
          end: () => c.end().catch(() => undefined),
        };
      },
      async inject(fault, victim) {
        if (fault === 'replica-drop') {
          await cluster.query(
            victim,
            // Every client connection but this one: shardgate's carry its clients' application_name.
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
          );
        } else {
          await cluster.killServer(victim);
        }
      },
      async watchVictim(victim, onClose) {
        const server = cluster.server(victim);
        const c = new pg.Client({
          host: server.host,
          port: server.port,
          user: 'postgres',
          database: 'shardgate',
        });
        c.on('error', onClose);
        c.on('end', onClose);
        await c.connect();
        clients.push(c);
      },
      async stop() {
        await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
        await proxy.close();
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

export async function mysqlTarget(poolMode: 'transaction' | 'session'): Promise<FaultTarget> {
  const cluster = await startMariadbCluster({ shards: 1, replicasPerShard: 2 });
  try {
    // The PostgreSQL side is not used: it points at a closed port.
    const closedPort = await freePort();
    const s = cluster.shards[0]!;
    const config = configForLocalShards(
      [{ name: 'pg0', primary: { name: 'pg0-primary', host: '127.0.0.1', port: closedPort }, replicas: [] }],
      {
        database: 'shardgate',
        overrides: {
          users: [
            { name: 'bench', password: 'bench', mysqlAuth: 'mysql_native_password', backend: 'service' },
          ],
          listen: {
            postgres: { host: '127.0.0.1', port: 0 },
            mysql: { host: '127.0.0.1', port: 0 },
            admin: { host: '127.0.0.1', port: 0 },
          },
          mysqlShards: [
            {
              name: s.name,
              protocol: 'mysql',
              primary: { name: s.primary.name, host: s.primary.host, port: s.primary.port },
              replicas: s.replicas.map((r) => ({ name: r.name, host: r.host, port: r.port })),
            },
          ],
          backend: { mysqlUser: 'root', mysqlPassword: '', mysqlDatabase: 'shardgate' },
          pool: { mode: poolMode },
        },
      },
    );
    await loadMysqlDemoData(config, { users: 50 });
    for (const r of s.replicas) await cluster.waitForReplication(r.name);
    const proxy = await startProxy(config, {
      log: silentLogger(),
      postgresPort: 0,
      mysqlPort: 0,
      adminPort: null,
    });
    const front = proxy.mysql;
    if (!front) throw new Error('the MySQL front end did not start');
    const clients: mysql.Connection[] = [];
    return {
      topology: front.topology,
      async connect(onClose) {
        const c = await mysql.createConnection({
          host: '127.0.0.1',
          port: front.port,
          user: 'bench',
          password: 'bench',
          database: 'shardgate',
        });
        // mysql2 says 'error' (a fatal one) when the proxy closes the session.
        c.on('error', onClose);
        c.on('end', onClose);
        clients.push(c);
        return {
          read: (user) => c.query(`${READ_SQL}?`, [user]),
          write: (id, user) =>
            c.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 0)', [id, user]),
          end: () => c.end().catch(() => c.destroy()),
        };
      },
      async inject(fault, victim) {
        if (fault === 'replica-drop') {
          const c = await cluster.connect(victim);
          try {
            const [rows] = await c.query<mysql.RowDataPacket[]>(
              "SELECT id FROM information_schema.processlist WHERE user = 'root' AND id <> CONNECTION_ID() AND command <> 'Binlog Dump'",
            );
            for (const r of rows) await c.query(`KILL ${Number(r.id)}`).catch(() => undefined);
          } finally {
            await c.end();
          }
        } else {
          await cluster.killServer(victim);
        }
      },
      async watchVictim(victim, onClose) {
        const c = await cluster.connect(victim);
        c.on('error', onClose);
        c.on('end', onClose);
        clients.push(c);
      },
      async stop() {
        await Promise.all(clients.map((c) => c.end().catch(() => c.destroy())));
        await proxy.close();
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
