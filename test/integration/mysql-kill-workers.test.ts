// MySQL KILL reaches the process that holds the session (src/protocol/mysql/kill-router.ts):
// `shardgate start --workers 2` passes a KILL received by one worker to the other (IPC through the
// primary), and two such instances on one etcd pass it to each other (POST /api/cluster/kill).
// The holder checks the user (1095 for another user's session) and answers; an id that names no
// session anywhere gets 1094. KILL QUERY ends a running SLEEP (MariaDB: result 1 or error 1317),
// KILL CONNECTION closes the session.
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';
import { type MariadbCluster, startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { loadMysqlDemoData } from '../../src/local/mysql-demo-schema.js';
import { ConnectionIds } from '../../src/protocol/mysql/connection-ids.js';
import { mysqlLocalConfig } from '../support/mysql-proxy-fixture.js';
import { type StartedProcess, startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

let cluster: MariadbCluster;
let config: ShardgateConfig;
const opened: mysql.Connection[] = [];

beforeAll(async () => {
  cluster = await startMariadbCluster({ shards: 1, replicasPerShard: 0 });
  config = await mysqlLocalConfig(cluster, { workers: 2, admin: { token: 'test-token' } });
  await loadMysqlDemoData(config, { users: 10 });
}, 180_000);

afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => c.destroy())));
  await cluster?.stop();
});

/** Starts `shardgate start` and waits until both workers serve MySQL. */
async function startInstance(args: string[]): Promise<StartedProcess> {
  const proc = await startShardgateProcess(config, 90_000, {}, args);
  await waitFor(
    'both workers listening on MySQL',
    () => (proc.output().match(/mysql front end listening/g) ?? []).length >= 2,
    60_000,
    100,
  );
  return proc;
}

async function connect(port: number, user = 'app', password = 'app'): Promise<mysql.Connection> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user, password, database: 'shardgate' });
  c.on('error', () => undefined);
  opened.push(c);
  return c;
}

/** A connection through `port` held by worker `worker` (the cluster module spreads them). */
async function connectOn(
  port: number,
  worker: number,
  user = 'app',
  password = 'app',
): Promise<mysql.Connection> {
  for (let i = 0; i < 40; i++) {
    const c = await connect(port, user, password);
    if (ConnectionIds.workerOf(c.threadId) === worker) return c;
  }
  throw new Error(`no connection landed on worker ${worker} in 40 tries`);
}

/** Until `sql` runs on the server (a KILL QUERY before that finds nothing to stop). */
const runningOnServer = (sql: string) =>
  waitFor(
    `"${sql}" running on the server`,
    async () => {
      const d = await cluster.connect('s0-primary');
      try {
        const [rows] = await d.query<mysql.RowDataPacket[]>(
          'SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE INFO = ?',
          [sql],
        );
        return Number(rows[0]!.n) === 1;
      } finally {
        await d.end();
      }
    },
    60_000,
    100,
  );

/** A long SLEEP on `victim`, its outcome: the SLEEP's value (1 when interrupted) or the error number. */
function sleepOn(victim: mysql.Connection, sql: string): Promise<number> {
  return victim.query<mysql.RowDataPacket[]>(sql).then(
    ([rows]) => Number(Object.values(rows[0]!)[0]),
    (e: { errno: number }) => e.errno,
  );
}

/** KILL QUERY from `killer` ends the SLEEP of `victim`, whose session lives on. */
async function killQueryEndsSleep(killer: mysql.Connection, victim: mysql.Connection, seconds: number) {
  // Longer than the test may take: only the KILL can end it in time.
  const sql = `SELECT SLEEP(${seconds})`;
  const running = sleepOn(victim, sql);
  await runningOnServer(sql);
  await killer.query(`KILL QUERY ${victim.threadId}`);
  // MariaDB ends a killed SLEEP early, as a result (1: interrupted) or an error 1317.
  expect([1, 1317]).toContain(await running);
  const [rows] = await victim.query<mysql.RowDataPacket[]>('SELECT 7 AS v');
  expect(Number(rows[0]!.v)).toBe(7);
}

/** KILL CONNECTION from `killer` ends `victim`'s session. */
async function killConnectionCloses(killer: mysql.Connection, victim: mysql.Connection) {
  await killer.query(`KILL CONNECTION ${victim.threadId}`);
  await expect(victim.query('SELECT 1')).rejects.toBeTruthy();
  const [rows] = await killer.query<mysql.RowDataPacket[]>('SELECT 8 AS v');
  expect(Number(rows[0]!.v)).toBe(8);
}

describe('KILL across the workers of one instance (workers: 2)', () => {
  let proc: StartedProcess;
  let port: number;

  beforeAll(async () => {
    proc = await startInstance(['--instance-id', 'kw']);
    port = proc.mysqlPort!;
  }, 180_000);

  afterAll(async () => {
    await proc?.stop();
  });

  it('KILL QUERY ends a SLEEP held by the other worker; another user gets 1095 there', async () => {
    const victim = await connectOn(port, 1);
    const killer = await connectOn(port, 0);
    const stranger = await connectOn(port, 0, 'other', 'other-pw');
    await expect(stranger.query(`KILL QUERY ${victim.threadId}`)).rejects.toMatchObject({ errno: 1095 });
    await killQueryEndsSleep(killer, victim, 601);
  }, 120_000);

  it('KILL CONNECTION closes a session of the other worker, either way round', async () => {
    await killConnectionCloses(await connectOn(port, 0), await connectOn(port, 1));
    await killConnectionCloses(await connectOn(port, 1), await connectOn(port, 0));
  }, 120_000);

  it('an id that names no session gets 1094', async () => {
    const killer = await connectOn(port, 0);
    // A server-style number, an id of worker 1 that no session holds, one of a worker this instance lacks.
    for (const id of [4242, 2 ** 30 + 2 ** 22 + 1, 2 ** 30 + 5 * 2 ** 22 + 1]) {
      await expect(killer.query(`KILL ${id}`)).rejects.toMatchObject({ errno: 1094 });
      await expect(killer.query(`KILL QUERY ${id}`)).rejects.toMatchObject({ errno: 1094 });
    }
  }, 120_000);
});

describe('KILL across instances on one etcd (two instances, workers: 2 each)', () => {
  let etcd: EtcdCluster;
  let a: StartedProcess;
  let b: StartedProcess;

  beforeAll(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    a = await startInstance(['--control', etcd.url, '--instance-id', 'ka']);
    b = await startInstance(['--control', etcd.url, '--instance-id', 'kb']);
    // Each instance sees the other's admin address before a KILL is forwarded to it.
    await waitFor(
      'both instances in the control plane',
      async () => {
        const r = await fetch(`http://127.0.0.1:${a.adminPort}/api/cluster`);
        const members = ((await r.json()) as { members: Array<{ id: string; admin: string | null }> })
          .members;
        return members.some((m) => m.id === 'kb' && m.admin !== null);
      },
      60_000,
      200,
    );
  }, 240_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await etcd?.stop();
  });

  it('KILL QUERY sent to A ends a SLEEP on B, from either worker of A to either worker of B', async () => {
    await killQueryEndsSleep(await connectOn(a.mysqlPort!, 0), await connectOn(b.mysqlPort!, 1), 602);
    await killQueryEndsSleep(await connectOn(a.mysqlPort!, 1), await connectOn(b.mysqlPort!, 0), 603);
  }, 120_000);

  it('KILL CONNECTION sent to A closes a session on B; another user gets 1095', async () => {
    const victim = await connectOn(b.mysqlPort!, 1);
    const stranger = await connect(a.mysqlPort!, 'other', 'other-pw');
    await expect(stranger.query(`KILL ${victim.threadId}`)).rejects.toMatchObject({ errno: 1095 });
    await killConnectionCloses(await connect(a.mysqlPort!), victim);
  }, 120_000);

  it('an id no instance holds gets 1094', async () => {
    const killer = await connect(a.mysqlPort!);
    await expect(killer.query('KILL QUERY 4243')).rejects.toMatchObject({ errno: 1094 });
    await expect(killer.query(`KILL ${2 ** 30 + 2 ** 22 + 3}`)).rejects.toMatchObject({ errno: 1094 });
  }, 120_000);
});
