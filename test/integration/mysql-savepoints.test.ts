// Savepoints in MySQL transactions that span shards (MariaDB, XA participants), through mysql2.
// Each scenario runs twice, statement by statement: through shardgate on `balances` (rows on
// three shards) and straight on one server on `sp_ref`, a table of the same shape holding the
// same rows (the unsharded answer). Every statement must give the same outcome (ok, or the same
// errno) and the rows must end the same; no XA transaction may be left prepared.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import {
  nestedSavepoints,
  onBothShards,
  type SavepointSide,
  savepointCompare,
  updateStep as upd,
} from '../support/savepoint-compare.js';

let fx: MysqlProxyFixture;

type Step = string;

let side: SavepointSide<mysql.Connection, Step>;
const { expectLikeUnsharded, spanningTransaction, shardKeyMoveUndone, rowsOf, createReference } =
  savepointCompare(() => side, 9_400_000);

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 3, replicas: 0 });
  const found: number[] = [];
  for (const shard of fx.cluster.shards) {
    let user = 1;
    while (fx.owner(user) !== shard.name) user++;
    found.push(user);
  }
  side = {
    users: found as [number, number, number],
    servers: fx.cluster.shards.map((s) => s.primary.name),
    proxy: () => fx.connect(),
    direct: async (server) => {
      const d = await fx.direct(server);
      await d.query('USE shardgate');
      return d;
    },
    end: (c) => c.end(),
    exec: async (c, sql, params) => {
      const [r] = await c.query(sql, params);
      return Array.isArray(r)
        ? { rows: (r as RowDataPacket[]).map((row) => Object.values(row).map(String)), affected: 0 }
        : { rows: [], affected: (r as { affectedRows: number }).affectedRows };
    },
    step: async (c, step, table) => {
      const [r] = await c.query(step.replaceAll('{t}', table));
      return Array.isArray(r)
        ? `ok ${JSON.stringify(r)}`
        : `ok ${(r as { affectedRows: number }).affectedRows}`;
    },
    codeOf: (err) => `${(err as { errno?: number }).errno}`,
    sql: {
      row: () => '(?, ?, 100)',
      rowsOf: (table) =>
        `SELECT id, user_id, CAST(balance AS CHAR) AS balance FROM ${table} WHERE id IN (?) ORDER BY id`,
      ids: 'SELECT id FROM shardgate.balances WHERE id IN (?) ORDER BY id',
      // Its last column, `data`, is the transaction's name.
      prepared: 'XA RECOVER',
      createReference:
        'CREATE TABLE shardgate.sp_ref (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL DEFAULT 0, balance DECIMAL(14,2) NOT NULL DEFAULT 0) ENGINE=InnoDB',
      userAndBalance: (id, user) =>
        `SELECT user_id, CAST(balance AS CHAR) AS b FROM balances WHERE id = ${id} AND user_id = ${user}`,
      countOf: (id, user) => `SELECT count(*) AS n FROM balances WHERE id = ${id} AND user_id = ${user}`,
    },
  };
  await createReference();
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

const sel = (id: number, user: number) =>
  `SELECT CAST(balance AS CHAR) AS b FROM {t} WHERE id = ${id} AND user_id = ${user}`;

describe('savepoints across shards (MySQL)', () => {
  it('nested savepoints over two shards: rollback to the inner, then to the outer, RELEASE, COMMIT', async () => {
    await expectLikeUnsharded(
      [1, 2],
      nestedSavepoints(sel, {
        setInner: 'SAVEPOINT `In ner`',
        backToInner: 'ROLLBACK TO SAVEPOINT `in NER`',
        backToOuter: 'ROLLBACK WORK TO outer_sp',
        // Released: the name (in any case) is not known any more.
        release: ['RELEASE SAVEPOINT OUTER_SP', 'ROLLBACK TO outer_sp'],
      }),
      { errors: ['error 1305'], balances: ['101.00', '103.00'] },
    );
  });

  it('a shard that joins after the savepoint is rolled back to it; savepoints set on one shard follow it', async () => {
    await expectLikeUnsharded(
      [1, 2, 0],
      ([a, b, c], u) => [
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
      ],
      // `first` was set again after `second`: rolling back to `second` dropped it.
      { errors: ['error 1305'], balances: ['100.00', '104.00', '100.00'] },
    );
  });

  it('a failed statement, an unknown name, then ROLLBACK TO and COMMIT on every shard', async () => {
    await expectLikeUnsharded(
      [1, 2],
      ([a, b], u) => [
        ...onBothShards(a!, b!, u),
        'SAVEPOINT sp',
        upd(a!, u[1], 50),
        `INSERT INTO {t} (id, user_id, balance) VALUES (${b!}, ${u[2]}, 1)`,
        'ROLLBACK TO nowhere',
        'RELEASE SAVEPOINT nowhere',
        sel(a!, u[1]),
        'ROLLBACK TO sp',
        upd(b!, u[2], 3),
        'COMMIT',
      ],
      { errors: ['error 1062', 'error 1305', 'error 1305'], balances: ['101.00', '105.00'] },
    );
  });

  it('a savepoint as a prepared statement or with other statements is refused with a coded error', async () => {
    const c = await fx.connect({ multipleStatements: true });
    const [a, b] = await spanningTransaction(c);
    const users = side.users;
    await expect(c.execute('SAVEPOINT p')).rejects.toMatchObject({ errno: 1235 });
    await expect(c.query('SAVEPOINT q; SELECT 1')).rejects.toMatchObject({ errno: 1235 });
    await c.query('ROLLBACK');
    expect(await rowsOf(c, 'balances', [a, b])).toEqual([
      [String(a), String(users[1]), '100.00'],
      [String(b), String(users[2]), '100.00'],
    ]);
  });

  it('a shard-key move inside a savepoint is undone on both shards by ROLLBACK TO', async () => {
    await shardKeyMoveUndone();
  });
});
