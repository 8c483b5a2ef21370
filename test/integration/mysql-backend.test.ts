// The MySQL backend side against real MariaDB servers (1 shard: a primary and a GTID replica):
// login, pipelined commands, multiple result sets, the prepared-statement protocol, session
// tracking (last_gtid, variables, state that cannot be replayed), the pool's two flavours, and the
// lag monitor's positions and lag under injected replica delay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlPool } from '../../src/backend/mysql-pool.js';
import { type MysqlServerAddress, MysqlServerConnection } from '../../src/backend/mysql-server-connection.js';
import { MysqlTopology } from '../../src/backend/mysql-topology.js';
import { parseConfig } from '../../src/config/load.js';
import { type MariadbCluster, startMariadbCluster } from '../../src/local/mariadb-cluster.js';
import { COM, TYPE } from '../../src/protocol/mysql/constants.js';
import { PacketWriter } from '../../src/protocol/mysql/packet-io.js';
import { type CollectedResponse, firstValue } from '../../src/protocol/mysql/result-collector.js';
import { encodeTextCommand } from '../../src/protocol/mysql/statements.js';

let cluster: MariadbCluster;
let address: MysqlServerAddress;
const opened: MysqlServerConnection[] = [];

async function connect(
  over: Partial<MysqlServerAddress> = {},
  foundRows = false,
): Promise<MysqlServerConnection> {
  const c = await MysqlServerConnection.connect({ ...address, ...over }, { foundRows, timeoutMs: 5_000 });
  opened.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startMariadbCluster({ shards: 1, replicasPerShard: 1 });
  const p = cluster.shards[0]!.primary;
  address = {
    name: p.name,
    shard: 's0',
    role: 'primary',
    host: p.host,
    port: p.port,
    database: 'shardgate',
    user: 'root',
    password: '',
  };
  await cluster.query(p.name, 'CREATE TABLE kv (id BIGINT PRIMARY KEY, v VARCHAR(20), n INT)');
  await cluster.query(p.name, "CREATE USER 'sg'@'127.0.0.1' IDENTIFIED BY 'pw-sg'");
  await cluster.query(p.name, "GRANT ALL ON shardgate.* TO 'sg'@'127.0.0.1'");
});

afterAll(async () => {
  for (const c of opened) c.destroy();
  await cluster?.stop();
});

const rows = (r: CollectedResponse, i = 0) =>
  r.results[i]?.rows.map((row) => row.map((c) => c?.toString() ?? null));

describe('MysqlServerConnection', () => {
  it('logs in with mysql_native_password and refuses a wrong password', async () => {
    const c = await connect({ user: 'sg', password: 'pw-sg' });
    expect(c.threadId).toBeGreaterThan(0);
    expect(firstValue(await c.exec('SELECT CURRENT_USER()'))).toBe('sg@127.0.0.1');
    // The server refusing a login is the user's configuration, not a server fault (no shun).
    await expect(connect({ user: 'sg', password: 'nope' })).rejects.toMatchObject({
      code: 'BACKEND_LOGIN_REFUSED',
    });
  });

  it('runs pipelined commands in order and multiple result sets in one', async () => {
    const c = await connect();
    const [a, b, m] = await Promise.all([
      c.query('SELECT 1'),
      c.query("SELECT 'two', NULL"),
      c.query("INSERT INTO kv VALUES (1, 'a', 1); SELECT v FROM kv WHERE id = 1; SELECT 3 AS x"),
    ]);
    expect(rows(a)).toEqual([['1']]);
    expect(rows(b)).toEqual([['two', null]]);
    expect(m.results.length).toBe(3);
    expect(m.results[0]!.ok?.affectedRows).toBe(1n);
    expect(rows(m, 1)).toEqual([['a']]);
    expect(rows(m, 2)).toEqual([['3']]);
    expect(m.results[2]!.columns?.[0]?.name).toBe('x');
    const err = await c.query('SELECT nope FROM kv');
    expect(err.error?.errno).toBe(1054);
    expect(firstValue(await c.exec('SELECT 42'))).toBe('42');
  });

  it('learns last_gtid, variables, the schema and unreplayable state from OK packets', async () => {
    const c = await connect();
    await c.exec("INSERT INTO kv VALUES (2, 'b', 2)");
    const gtid = c.lastOk?.session?.variables.find(([n]) => n === 'last_gtid')?.[1];
    expect(gtid).toMatch(/^1-100-\d+$/);
    await c.exec("SET sql_mode = 'ANSI_QUOTES'");
    expect(c.vars.get('sql_mode')).toBe('ANSI_QUOTES');
    expect(c.dirty).toBe(false);
    await c.exec('USE mysql');
    expect(c.schema).toBe('mysql');
    await c.exec('USE shardgate');
    await c.exec('SET @x = 1');
    expect(c.dirty).toBe(true);
    await c.reset();
    expect(c.dirty).toBe(false);
    expect(c.vars.has('sql_mode')).toBe(false);
    expect(firstValue(await c.exec('SELECT @x'))).toBeNull();
  });

  it('prepares and executes with binary rows', async () => {
    const c = await connect();
    const prep = await c.collect(
      encodeTextCommand(COM.STMT_PREPARE, 'SELECT id, v, n FROM kv WHERE id = ?'),
      'prepare',
      false,
    );
    expect(prep.prepare?.ok.paramCount).toBe(1);
    expect(prep.prepare?.columns.map((x) => x.name)).toEqual(['id', 'v', 'n']);
    const exec = new PacketWriter().u8(COM.STMT_EXECUTE).u32(prep.prepare!.ok.statementId).u8(0).u32(1);
    exec.u8(0).u8(1).u8(TYPE.LONGLONG).u8(0).u64(1n);
    const r = await c.collect(exec.payload(), 'result', true);
    expect(rows(r)).toEqual([['1', 'a', '1']]);
  });
});

describe('MysqlPool', () => {
  it('reuses connections and keeps the FOUND_ROWS flavours apart', async () => {
    const pool = new MysqlPool(address, parseConfig(baseConfig()).pool);
    try {
      const a = await pool.acquire(false);
      pool.release(a);
      expect(await pool.acquire(false)).toBe(a);
      const f = await pool.acquire(true);
      expect(f).not.toBe(a);
      await f.exec("INSERT INTO kv VALUES (9, 'same', 9) ON DUPLICATE KEY UPDATE v = v");
      const matched = await f.exec("UPDATE kv SET v = 'same' WHERE id = 9");
      const changed = await a.exec("UPDATE kv SET v = 'same' WHERE id = 9");
      expect(matched.results[0]!.ok?.affectedRows).toBe(1n);
      expect(changed.results[0]!.ok?.affectedRows).toBe(0n);
      pool.release(a);
      pool.release(f);
      expect(pool.stats().idle).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('never hands out a connection given back inside a transaction (a client left autocommit=0)', async () => {
    const pool = new MysqlPool(address, parseConfig(baseConfig()).pool);
    try {
      const a = await pool.acquire(false);
      await a.exec("SET autocommit = 0; INSERT INTO kv VALUES (31, 'uncommitted', 31)");
      expect(a.inTransaction).toBe(true);
      pool.release(a);
      const b = await pool.acquire(false);
      expect(b).not.toBe(a);
      // The row was never committed: the discarded connection's transaction rolled back.
      const r = await b.exec('SELECT count(*) FROM kv WHERE id = 31');
      expect(String(r.results[0]!.rows[0]![0])).toBe('0');
      pool.release(b);
    } finally {
      await pool.close();
    }
  });
});

function baseConfig(): Record<string, unknown> {
  const s = cluster.shards[0]!;
  return {
    users: [{ name: 'app', password: 'app', backend: 'service' }],
    shards: [{ name: 'pg0', primary: { host: '127.0.0.1', port: 1 } }],
    mysqlShards: [
      {
        name: 's0',
        protocol: 'mysql',
        primary: { name: s.primary.name, host: s.primary.host, port: s.primary.port },
        replicas: s.replicas.map((r) => ({ name: r.name, host: r.host, port: r.port })),
      },
    ],
    routing: { lagPollIntervalMs: 20 },
    backend: { mysqlUser: 'root', mysqlDatabase: 'shardgate' },
  };
}

describe('MysqlTopology and its lag monitor', () => {
  it('tracks GTID positions and lag; waits for a position; unknown lag stays unknown', async () => {
    const topology = new MysqlTopology(parseConfig(baseConfig()));
    topology.monitor.start();
    const replicaName = cluster.shards[0]!.replicas[0]!.name;
    const replica = topology.server(replicaName)!;
    const primary = topology.server(cluster.shards[0]!.primary.name)!;
    try {
      await until(
        () => replica.view.position !== null && primary.view.position !== null && replica.view.lagMs === 0,
      );
      expect(topology.view().defaultShard).toBe('s0');
      await cluster.setReplicaDelay(replicaName, 3);
      const c = await connect();
      await c.exec("INSERT INTO kv VALUES (20, 'late', 1)");
      const gtid = c.lastOk!.session!.variables.find(([n]) => n === 'last_gtid')![1];
      expect(await topology.waitForPosition(replicaName, gtid, 100)).toBe(false);
      await until(() => replica.view.lagMs === null || replica.view.lagMs > 0);
      await cluster.setReplicaDelay(replicaName, 0);
      expect(await topology.waitForPosition(replicaName, gtid, 8_000)).toBe(true);
      await until(() => replica.view.lagMs === 0);
    } finally {
      await topology.close();
    }
  });
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
