// Savepoints in PostgreSQL transactions that span shards, on real servers through the pg driver.
// Each scenario runs twice, statement by statement: through shardgate on `balances` (rows on
// three shards) and straight on one server on `sp_ref`, a table of the same shape holding the
// same rows (the unsharded answer). Every statement must give the same outcome (ok, or the same
// SQLSTATE) and the rows must end the same; no prepared transaction may be left behind.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoUsersOn, type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';
import {
  nestedSavepoints,
  onBothShards,
  type SavepointSide,
  savepointCompare,
  updateStep as upd,
} from '../support/savepoint-compare.js';

let fx: ProxyFixture;

/** A statement of a scenario: `{t}` is the table; `named` runs it as a named prepared statement (extended protocol). */
type Step = string | { sql: string; named: string };

let side: SavepointSide<pg.Client, Step>;
const { expectLikeUnsharded, spanningTransaction, shardKeyMoveUndone, createReference } = savepointCompare(
  () => side,
  9_300_000,
);

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 3, replicas: 0 });
  const servers = fx.cluster.shards.map((s) => s.primary.name);
  const [u0, u1, u2] = await Promise.all(servers.map(async (s) => (await demoUsersOn(fx, s, 1))[0]!));
  side = {
    servers,
    users: [u0!, u1!, u2!],
    proxy: () => fx.client(),
    direct: (server) => fx.direct(server),
    end: (c) => c.end(),
    exec: async (c, sql, params) => {
      const r = await c.query({ text: sql, values: params, rowMode: 'array' });
      return { rows: r.rows.map((row: unknown[]) => row.map(String)), affected: r.rowCount ?? 0 };
    },
    step: async (client, step, table) => {
      const sql = (typeof step === 'string' ? step : step.sql).replaceAll('{t}', table);
      const r =
        typeof step === 'string'
          ? await client.query(sql)
          : await client.query({ name: `${step.named}_${table}`, text: sql });
      return `ok ${r.command ?? ''} ${r.rowCount ?? ''} ${JSON.stringify(r.rows ?? [])}`;
    },
    codeOf: (err) => `${(err as { code?: string }).code}`,
    sql: {
      row: (i) => `($${2 * i + 1}, $${2 * i + 2}, 100)`,
      rowsOf: (table) =>
        `SELECT id::text, user_id::text, balance::text FROM ${table} WHERE id = ANY($1::bigint[]) ORDER BY id`,
      ids: 'SELECT id::text FROM balances WHERE id = ANY($1::bigint[]) ORDER BY id',
      prepared: "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'sg2pc%'",
      createReference:
        'CREATE TABLE sp_ref (id bigint PRIMARY KEY, user_id bigint NOT NULL DEFAULT 0, balance numeric(14,2) NOT NULL DEFAULT 0)',
      userAndBalance: (id, user) =>
        `SELECT user_id::text, balance::text FROM balances WHERE id = ${id} AND user_id = ${user}`,
      countOf: (id, user) => `SELECT count(*)::int AS n FROM balances WHERE id = ${id} AND user_id = ${user}`,
    },
  };
  await createReference();
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

const sel = (id: number, user: number) =>
  `SELECT balance::text FROM {t} WHERE id = ${id} AND user_id = ${user}`;

describe('savepoints across shards (PostgreSQL)', () => {
  it('nested savepoints over two shards: rollback to the inner, then to the outer, RELEASE, COMMIT', async () => {
    await expectLikeUnsharded(
      [1, 2],
      nestedSavepoints(sel, {
        setInner: 'SAVEPOINT "Inner"',
        backToInner: 'ROLLBACK TO SAVEPOINT "Inner"',
        backToOuter: 'ROLLBACK TO outer_sp',
        // Released: neither name is known any more.
        release: ['RELEASE SAVEPOINT outer_sp'],
      }),
      { balances: ['101.00', '103.00'] },
    );
  });

  it('a shard that joins after the savepoint is rolled back to it; savepoints set on one shard follow it', async () => {
    await expectLikeUnsharded(
      [1, 2, 0],
      ([a, b, c], u) => [
        'BEGIN',
        // The transaction is on s1 alone when the savepoints are set.
        'SAVEPOINT first',
        upd(a!, u[1], 1),
        'SAVEPOINT second',
        upd(a!, u[1], 2),
        // s2 joins: it gets both savepoints right after its BEGIN.
        upd(b!, u[2], 20),
        `INSERT INTO {t} (id, user_id, balance) VALUES (${c! + 100}, ${u[0]}, 7)`,
        'ROLLBACK TO second',
        sel(b!, u[2]),
        `SELECT count(*)::int AS n FROM {t} WHERE id = ${c! + 100} AND user_id = ${u[0]}`,
        upd(c!, u[0], 30),
        'ROLLBACK TO SAVEPOINT first',
        sel(a!, u[1]),
        upd(b!, u[2], 4),
        'COMMIT',
      ],
      { balances: ['100.00', '104.00', '100.00'] },
    );
  });

  it('a statement failing in a spanning transaction is recovered with ROLLBACK TO; COMMIT commits every shard', async () => {
    const r = await expectLikeUnsharded(
      [1, 2],
      ([a, b], u) => [
        ...onBothShards(a!, b!, u),
        'SAVEPOINT before_dup',
        upd(a!, u[1], 50),
        // A duplicate key on s2: the transaction fails everywhere.
        `INSERT INTO {t} (id, user_id, balance) VALUES (${b!}, ${u[2]}, 1)`,
        sel(a!, u[1]),
        'SAVEPOINT not_now',
        'RELEASE before_dup',
        'ROLLBACK TO before_dup',
        sel(a!, u[1]),
        upd(b!, u[2], 3),
        'COMMIT',
      ],
      {
        errors: ['error 23505', 'error 25P02', 'error 25P02', 'error 25P02'],
        balances: ['101.00', '105.00'],
      },
    );
    expect(r.outcomes.viaProxy.at(-1)).toMatch(/^ok COMMIT/);
  });

  it('an unknown savepoint name gives the database error and fails the transaction; names follow the case rules', async () => {
    const r = await expectLikeUnsharded(
      [1, 2],
      ([a, b], u) => [
        ...onBothShards(a!, b!, u),
        'SAVEPOINT "Mixed"',
        'RELEASE SAVEPOINT mixed',
        sel(a!, u[1]),
        'ROLLBACK TO "Mixed"',
        upd(b!, u[2], 5),
        'ROLLBACK TO nowhere',
        'COMMIT',
      ],
      { errors: ['error 3B001', 'error 25P02', 'error 3B001'], balances: ['100.00', '100.00'] },
    );
    // COMMIT of a failed transaction rolls it back.
    expect(r.outcomes.viaProxy.at(-1)).toMatch(/^ok ROLLBACK/);
  });

  it('a name set twice: ROLLBACK TO and RELEASE take the newest', async () => {
    await expectLikeUnsharded(
      [1, 2],
      ([a, b], u) => [
        'BEGIN',
        upd(a!, u[1], 1),
        'SAVEPOINT dup',
        upd(b!, u[2], 2),
        'SAVEPOINT dup',
        upd(a!, u[1], 4),
        upd(b!, u[2], 8),
        'ROLLBACK TO dup',
        'RELEASE dup',
        upd(a!, u[1], 16),
        'ROLLBACK TO dup',
        sel(a!, u[1]),
        sel(b!, u[2]),
        'COMMIT',
      ],
      { balances: ['101.00', '100.00'] },
    );
  });

  it('savepoint statements in the extended protocol (named prepared statements)', async () => {
    await expectLikeUnsharded(
      [1, 2],
      ([a, b], u) => [
        'BEGIN',
        upd(a!, u[1], 1),
        { sql: 'SAVEPOINT ext', named: 'sp_set' },
        { sql: upd(b!, u[2], 2), named: 'sp_upd' },
        { sql: 'ROLLBACK TO SAVEPOINT ext', named: 'sp_back' },
        { sql: upd(b!, u[2], 2), named: 'sp_upd' },
        { sql: 'SAVEPOINT ext', named: 'sp_set' },
        { sql: upd(a!, u[1], 40), named: 'sp_upd2' },
        { sql: 'ROLLBACK TO SAVEPOINT ext', named: 'sp_back' },
        { sql: 'RELEASE SAVEPOINT ext', named: 'sp_release' },
        'COMMIT',
      ],
      { balances: ['101.00', '102.00'] },
    );
  });

  it('a SAVEPOINT sent with other statements in one message is refused with a coded error', async () => {
    const c = await fx.client();
    await spanningTransaction(c);
    await expect(c.query(`SAVEPOINT x; SELECT 1`)).rejects.toMatchObject({ code: '0A000' });
    await c.query('ROLLBACK');
    await c.end();
  });

  it('a shard-key move inside a savepoint is undone on both shards by ROLLBACK TO', async () => {
    await shardKeyMoveUndone();
  });
});
