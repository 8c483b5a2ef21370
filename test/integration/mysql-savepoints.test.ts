// Savepoints in MySQL transactions that span shards (MariaDB, XA participants), through mysql2.
// Each scenario runs twice, statement by statement: through shardgate on `balances` (rows on
// three shards) and straight on one server on `sp_ref`, a table of the same shape holding the
// same rows (the unsharded answer). Every statement must give the same outcome (ok, or the same
// errno) and the rows must end the same; no XA transaction may be left prepared.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';

const FIRST_ID = 9_400_000;

let fx: MysqlProxyFixture;
let servers: string[] = [];
/** A user on each of the three shards. */
let users: [number, number, number];
let nextId = FIRST_ID;

type Step = string;

async function run(c: mysql.Connection, table: string, steps: Step[]): Promise<string[]> {
  const out: string[] = [];
  for (const step of steps) {
    try {
      const [r] = await c.query(step.replaceAll('{t}', table));
      out.push(
        Array.isArray(r) ? `ok ${JSON.stringify(r)}` : `ok ${(r as { affectedRows: number }).affectedRows}`,
      );
    } catch (err) {
      out.push(`error ${(err as { errno?: number }).errno}`);
    }
  }
  return out;
}

async function rowsOf(c: mysql.Connection, table: string, ids: number[]): Promise<string[][]> {
  const [rows] = await c.query<RowDataPacket[]>(
    `SELECT id, user_id, CAST(balance AS CHAR) AS balance FROM ${table} WHERE id IN (?) ORDER BY id`,
    [ids],
  );
  return rows.map((r) => [String(r.id), String(r.user_id), String(r.balance)]);
}

async function preparedAnywhere(): Promise<string[]> {
  const out: string[] = [];
  for (const server of servers) {
    const d = await fx.direct(server);
    const [rows] = await d.query<RowDataPacket[]>('XA RECOVER');
    await d.end();
    for (const r of rows) out.push(String(r.data));
  }
  return out;
}

async function idsOn(server: string, ids: number[]): Promise<string[]> {
  const d = await fx.direct(server);
  const [rows] = await d.query<RowDataPacket[]>(
    'SELECT id FROM shardgate.balances WHERE id IN (?) ORDER BY id',
    [ids],
  );
  await d.end();
  return rows.map((r) => String(r.id));
}

async function compare(owners: number[], scenario: (ids: number[], u: typeof users) => Step[]) {
  const ids = owners.map(() => nextId++);
  const proxy = await fx.connect();
  const ref = await fx.direct(servers[0]!);
  await ref.query('USE shardgate');
  for (const [i, id] of ids.entries()) {
    const values = [id, users[owners[i]!]!];
    await proxy.query('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 100)', values);
    await ref.query('INSERT INTO sp_ref (id, user_id, balance) VALUES (?, ?, 100)', values);
  }
  const steps = scenario(ids, users);
  const viaProxy = await run(proxy, 'balances', steps);
  const direct = await run(ref, 'sp_ref', steps);
  const result = {
    outcomes: { viaProxy, direct },
    rows: { viaProxy: await rowsOf(proxy, 'balances', ids), direct: await rowsOf(ref, 'sp_ref', ids) },
  };
  await ref.end();
  return result;
}

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 3, replicas: 0 });
  servers = fx.cluster.shards.map((s) => s.primary.name);
  const found: number[] = [];
  for (const shard of fx.cluster.shards) {
    let user = 1;
    while (fx.owner(user) !== shard.name) user++;
    found.push(user);
  }
  users = found as [number, number, number];
  const d = await fx.direct(servers[0]!);
  await d.query(
    'CREATE TABLE shardgate.sp_ref (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL DEFAULT 0, balance DECIMAL(14,2) NOT NULL DEFAULT 0) ENGINE=InnoDB',
  );
  await d.end();
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

const upd = (id: number, user: number, delta: number) =>
  `UPDATE {t} SET balance = balance + ${delta} WHERE id = ${id} AND user_id = ${user}`;
const sel = (id: number, user: number) =>
  `SELECT CAST(balance AS CHAR) AS b FROM {t} WHERE id = ${id} AND user_id = ${user}`;

describe('savepoints across shards (MySQL)', () => {
  it('nested savepoints over two shards: rollback to the inner, then to the outer, RELEASE, COMMIT', async () => {
    const r = await compare([1, 2], ([a, b], u) => [
      'BEGIN',
      upd(a!, u[1], 1),
      'SAVEPOINT outer_sp',
      upd(b!, u[2], 10),
      'SAVEPOINT `In ner`',
      upd(a!, u[1], 100),
      upd(b!, u[2], 1000),
      sel(b!, u[2]),
      'ROLLBACK TO SAVEPOINT `in NER`',
      sel(a!, u[1]),
      sel(b!, u[2]),
      upd(a!, u[1], 5),
      'ROLLBACK WORK TO outer_sp',
      sel(a!, u[1]),
      sel(b!, u[2]),
      upd(b!, u[2], 3),
      'RELEASE SAVEPOINT OUTER_SP',
      'ROLLBACK TO outer_sp',
      'COMMIT',
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    expect(r.outcomes.viaProxy.filter((o) => o.startsWith('error'))).toEqual(['error 1305']);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['101.00', '103.00']);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('a shard that joins after the savepoint is rolled back to it; savepoints set on one shard follow it', async () => {
    const r = await compare([1, 2, 0], ([a, b, c], u) => [
      'START TRANSACTION',
      // The first statement: it begins the transaction (on the default shard), which both others join.
      'SAVEPOINT zero',
      upd(a!, u[1], 1),
      'SAVEPOINT first',
      upd(a!, u[1], 2),
      'SAVEPOINT second',
      'SAVEPOINT first',
      // The shard of b joins (XA START): it gets `second` and `first`, in that order.
      upd(b!, u[2], 20),
      `INSERT INTO {t} (id, user_id, balance) VALUES (${c! + 100}, ${u[0]}, 7)`,
      'ROLLBACK TO first',
      sel(b!, u[2]),
      `SELECT count(*) AS n FROM {t} WHERE id = ${c! + 100} AND user_id = ${u[0]}`,
      upd(c!, u[0], 30),
      'ROLLBACK TO SAVEPOINT second',
      sel(a!, u[1]),
      sel(c!, u[0]),
      'ROLLBACK TO first',
      upd(b!, u[2], 4),
      'SAVEPOINT last',
      upd(a!, u[1], 8),
      'ROLLBACK TO zero',
      sel(a!, u[1]),
      upd(b!, u[2], 4),
      'COMMIT',
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    // `first` was set again after `second`: rolling back to `second` dropped it.
    expect(r.outcomes.viaProxy.filter((o) => o.startsWith('error'))).toEqual(['error 1305']);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['100.00', '104.00', '100.00']);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('a failed statement, an unknown name, then ROLLBACK TO and COMMIT on every shard', async () => {
    const r = await compare([1, 2], ([a, b], u) => [
      'BEGIN',
      upd(a!, u[1], 1),
      upd(b!, u[2], 2),
      'SAVEPOINT sp',
      upd(a!, u[1], 50),
      `INSERT INTO {t} (id, user_id, balance) VALUES (${b!}, ${u[2]}, 1)`,
      'ROLLBACK TO nowhere',
      'RELEASE SAVEPOINT nowhere',
      sel(a!, u[1]),
      'ROLLBACK TO sp',
      upd(b!, u[2], 3),
      'COMMIT',
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    expect(r.outcomes.viaProxy.filter((o) => o.startsWith('error'))).toEqual([
      'error 1062',
      'error 1305',
      'error 1305',
    ]);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['101.00', '105.00']);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('a savepoint as a prepared statement or with other statements is refused with a coded error', async () => {
    const [a, b] = [nextId++, nextId++];
    const c = await fx.connect({ multipleStatements: true });
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 100), (?, ?, 100)', [
      a,
      users[1],
      b,
      users[2],
    ]);
    await c.query('BEGIN');
    await c.query(upd(a, users[1], 1).replace('{t}', 'balances'));
    await c.query(upd(b, users[2], 1).replace('{t}', 'balances'));
    await expect(c.execute('SAVEPOINT p')).rejects.toMatchObject({ errno: 1235 });
    await expect(c.query('SAVEPOINT q; SELECT 1')).rejects.toMatchObject({ errno: 1235 });
    await c.query('ROLLBACK');
    expect(await rowsOf(c, 'balances', [a, b])).toEqual([
      [String(a), String(users[1]), '100.00'],
      [String(b), String(users[2]), '100.00'],
    ]);
  });

  it('a shard-key move inside a savepoint is undone on both shards by ROLLBACK TO', async () => {
    const ids = [nextId++, nextId++];
    const c = await fx.connect();
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 100), (?, ?, 100)', [
      ids[0],
      users[1],
      ids[1],
      users[0],
    ]);
    await c.query('BEGIN');
    await c.query(`UPDATE balances SET balance = balance + 1 WHERE id = ${ids[1]} AND user_id = ${users[0]}`);
    await c.query('SAVEPOINT before_move');
    const [moved] = await c.query(
      `UPDATE balances SET user_id = ${users[2]}, balance = 5 WHERE id = ${ids[0]} AND user_id = ${users[1]}`,
    );
    expect((moved as { affectedRows: number }).affectedRows).toBe(1);
    await c.query('ROLLBACK TO SAVEPOINT before_move');
    const [back] = await c.query<RowDataPacket[]>(
      `SELECT user_id, CAST(balance AS CHAR) AS b FROM balances WHERE id = ${ids[0]} AND user_id = ${users[1]}`,
    );
    expect(back.map((r) => [String(r.user_id), r.b])).toEqual([[String(users[1]), '100.00']]);
    const [gone] = await c.query<RowDataPacket[]>(
      `SELECT count(*) AS n FROM balances WHERE id = ${ids[0]} AND user_id = ${users[2]}`,
    );
    expect(Number(gone[0]!.n)).toBe(0);
    await c.query(`UPDATE balances SET user_id = ${users[2]} WHERE id = ${ids[0]} AND user_id = ${users[1]}`);
    await c.query('COMMIT');
    expect(await idsOn(servers[1]!, ids)).toEqual([]);
    expect(await idsOn(servers[2]!, ids)).toEqual([String(ids[0])]);
    expect(await idsOn(servers[0]!, ids)).toEqual([String(ids[1])]);
    expect(await preparedAnywhere()).toEqual([]);
  });
});
