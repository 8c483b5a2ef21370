// Savepoints in MySQL transactions that span shards (MariaDB, XA participants), through mysql2.
// Each scenario runs twice, statement by statement: through shardgate on `balances` (rows on
// three shards) and straight on one server on `sp_ref`, a table of the same shape holding the
// same rows (the unsharded answer). Every statement must give the same outcome (ok, or the same
// errno) and the rows must end the same; no XA transaction may be left prepared.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { type SavepointSide, savepointCompare } from '../support/savepoint-compare.js';

let fx: MysqlProxyFixture;
/** A user on each of the three shards. */
let users: [number, number, number];

type Step = string;

async function rowsOf(c: mysql.Connection, table: string, ids: number[]): Promise<string[][]> {
  const [rows] = await c.query<RowDataPacket[]>(
    `SELECT id, user_id, CAST(balance AS CHAR) AS balance FROM ${table} WHERE id IN (?) ORDER BY id`,
    [ids],
  );
  return rows.map((r) => [String(r.id), String(r.user_id), String(r.balance)]);
}

async function onServer<T>(server: string, use: (d: mysql.Connection) => Promise<T>): Promise<T> {
  const d = await fx.direct(server);
  try {
    return await use(d);
  } finally {
    await d.end();
  }
}

let side: SavepointSide<mysql.Connection, Step>;
const {
  compare: compareWith,
  preparedAnywhere,
  shardKeyMoveUndone,
  fresh,
} = savepointCompare(() => side, 9_400_000);
const compare = (owners: number[], scenario: (ids: number[], u: typeof users) => Step[]) =>
  compareWith(users, owners, scenario);

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 3, replicas: 0 });
  const found: number[] = [];
  for (const shard of fx.cluster.shards) {
    let user = 1;
    while (fx.owner(user) !== shard.name) user++;
    found.push(user);
  }
  users = found as [number, number, number];
  side = {
    servers: fx.cluster.shards.map((s) => s.primary.name),
    proxy: () => fx.connect(),
    direct: async (server) => {
      const d = await fx.direct(server);
      await d.query('USE shardgate');
      return d;
    },
    end: (c) => c.end(),
    insert: async (c, table, rows) => {
      const values = rows.map(() => '(?, ?, 100)').join(', ');
      await c.query(`INSERT INTO ${table} (id, user_id, balance) VALUES ${values}`, rows.flat());
    },
    run: async (c, table, steps) => {
      const out: string[] = [];
      for (const step of steps) {
        try {
          const [r] = await c.query(step.replaceAll('{t}', table));
          out.push(
            Array.isArray(r)
              ? `ok ${JSON.stringify(r)}`
              : `ok ${(r as { affectedRows: number }).affectedRows}`,
          );
        } catch (err) {
          out.push(`error ${(err as { errno?: number }).errno}`);
        }
      }
      return out;
    },
    rowsOf,
    idsOn: (server, ids) =>
      onServer(server, async (d) => {
        const [rows] = await d.query<RowDataPacket[]>(
          'SELECT id FROM shardgate.balances WHERE id IN (?) ORDER BY id',
          [ids],
        );
        return rows.map((r) => String(r.id));
      }),
    prepared: (server) =>
      onServer(server, async (d) => {
        const [rows] = await d.query<RowDataPacket[]>('XA RECOVER');
        return rows.map((r) => String(r.data));
      }),
    exec: async (c, sql) => {
      const [r] = await c.query(sql);
      return Array.isArray(r)
        ? { rows: (r as RowDataPacket[]).map((row) => Object.values(row).map(String)), affected: 0 }
        : { rows: [], affected: (r as { affectedRows: number }).affectedRows };
    },
    userAndBalance: (id, user) =>
      `SELECT user_id, CAST(balance AS CHAR) AS b FROM balances WHERE id = ${id} AND user_id = ${user}`,
    countOf: (id, user) => `SELECT count(*) AS n FROM balances WHERE id = ${id} AND user_id = ${user}`,
  };
  const d = await fx.direct(side.servers[0]!);
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
    const [a, b] = [fresh(), fresh()];
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
    await shardKeyMoveUndone(users);
  });
});
