// Savepoints in PostgreSQL transactions that span shards, on real servers through the pg driver.
// Each scenario runs twice, statement by statement: through shardgate on `balances` (rows on
// three shards) and straight on one server on `sp_ref`, a table of the same shape holding the
// same rows (the unsharded answer). Every statement must give the same outcome (ok, or the same
// SQLSTATE) and the rows must end the same; no prepared transaction may be left behind.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

const FIRST_ID = 9_300_000;

let fx: ProxyFixture;
let s0: string;
let s1: string;
let s2: string;
/** A user on each of s0, s1, s2. */
let users: [number, number, number];
let nextId = FIRST_ID;

async function userOn(server: string): Promise<number> {
  const c = await fx.direct(server);
  const r = await c.query<{ user_id: string }>('SELECT user_id FROM users ORDER BY user_id LIMIT 1');
  await c.end();
  return Number(r.rows[0]!.user_id);
}

/** A statement of a scenario: `{t}` is the table; `named` runs it as a named prepared statement (extended protocol). */
type Step = string | { sql: string; named: string };

async function run(client: pg.Client, table: string, steps: Step[]): Promise<string[]> {
  const out: string[] = [];
  for (const step of steps) {
    const sql = (typeof step === 'string' ? step : step.sql).replaceAll('{t}', table);
    try {
      const r =
        typeof step === 'string'
          ? await client.query(sql)
          : await client.query({ name: `${step.named}_${table}`, text: sql });
      out.push(`ok ${r.command ?? ''} ${r.rowCount ?? ''} ${JSON.stringify(r.rows ?? [])}`);
    } catch (err) {
      out.push(`error ${(err as { code?: string }).code}`);
    }
  }
  return out;
}

async function rowsOf(client: pg.Client, table: string, ids: number[]): Promise<string[][]> {
  const r = await client.query<{ id: string; user_id: string; balance: string }>(
    `SELECT id::text, user_id::text, balance::text FROM ${table} WHERE id = ANY($1::bigint[]) ORDER BY id`,
    [ids],
  );
  return r.rows.map((row) => [row.id, row.user_id, row.balance]);
}

/** Rows of `ids` on one server (where shardgate put them). */
async function idsOn(server: string, ids: number[]): Promise<string[]> {
  const c = await fx.direct(server);
  const r = await c.query<{ id: string }>(
    'SELECT id::text FROM balances WHERE id = ANY($1::bigint[]) ORDER BY id',
    [ids],
  );
  await c.end();
  return r.rows.map((row) => row.id);
}

async function preparedAnywhere(): Promise<string[]> {
  const out: string[] = [];
  for (const server of [s0, s1, s2]) {
    const c = await fx.direct(server);
    const r = await c.query<{ gid: string }>("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'sg2pc%'");
    await c.end();
    out.push(...r.rows.map((row) => row.gid));
  }
  return out;
}

/**
 * Rows `ids[i]` for users[owners[i]] with balance 100 on both sides, then the scenario on both;
 * returns the outcomes and final rows of each side.
 */
async function compare(owners: number[], scenario: (ids: number[], u: typeof users) => Step[]) {
  const ids = owners.map(() => nextId++);
  const proxy = await fx.client();
  const ref = await fx.direct(s0);
  for (const [i, id] of ids.entries()) {
    const values = [id, users[owners[i]!]!];
    await proxy.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 100)', values);
    await ref.query('INSERT INTO sp_ref (id, user_id, balance) VALUES ($1, $2, 100)', values);
  }
  const steps = scenario(ids, users);
  const viaProxy = await run(proxy, 'balances', steps);
  const direct = await run(ref, 'sp_ref', steps);
  // Both sessions are out of any transaction (a scenario ends with COMMIT or ROLLBACK).
  const result = {
    outcomes: { viaProxy, direct },
    rows: { viaProxy: await rowsOf(proxy, 'balances', ids), direct: await rowsOf(ref, 'sp_ref', ids) },
    ids,
  };
  await proxy.end();
  await ref.end();
  return result;
}

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 3, replicas: 0 });
  s0 = fx.cluster.shards[0]!.primary.name;
  s1 = fx.cluster.shards[1]!.primary.name;
  s2 = fx.cluster.shards[2]!.primary.name;
  users = [await userOn(s0), await userOn(s1), await userOn(s2)];
  const c = await fx.direct(s0);
  await c.query(
    'CREATE TABLE sp_ref (id bigint PRIMARY KEY, user_id bigint NOT NULL DEFAULT 0, balance numeric(14,2) NOT NULL DEFAULT 0)',
  );
  await c.end();
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

const upd = (id: number, user: number, delta: number) =>
  `UPDATE {t} SET balance = balance + ${delta} WHERE id = ${id} AND user_id = ${user}`;
const sel = (id: number, user: number) =>
  `SELECT balance::text FROM {t} WHERE id = ${id} AND user_id = ${user}`;

describe('savepoints across shards (PostgreSQL)', () => {
  it('nested savepoints over two shards: rollback to the inner, then to the outer, RELEASE, COMMIT', async () => {
    const r = await compare([1, 2], ([a, b], u) => [
      'BEGIN',
      upd(a!, u[1], 1),
      'SAVEPOINT outer_sp',
      upd(b!, u[2], 10),
      'SAVEPOINT "Inner"',
      upd(a!, u[1], 100),
      upd(b!, u[2], 1000),
      sel(b!, u[2]),
      'ROLLBACK TO SAVEPOINT "Inner"',
      sel(a!, u[1]),
      sel(b!, u[2]),
      upd(a!, u[1], 5),
      'ROLLBACK TO outer_sp',
      sel(a!, u[1]),
      sel(b!, u[2]),
      upd(b!, u[2], 3),
      'RELEASE SAVEPOINT outer_sp',
      // Released: neither name is known any more.
      'COMMIT',
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['101.00', '103.00']);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('a shard that joins after the savepoint is rolled back to it; savepoints set on one shard follow it', async () => {
    const r = await compare([1, 2, 0], ([a, b, c], u) => [
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
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['100.00', '104.00', '100.00']);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('a statement failing in a spanning transaction is recovered with ROLLBACK TO; COMMIT commits every shard', async () => {
    const r = await compare([1, 2], ([a, b], u) => [
      'BEGIN',
      upd(a!, u[1], 1),
      upd(b!, u[2], 2),
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
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    expect(r.outcomes.viaProxy.filter((o) => o.startsWith('error'))).toEqual([
      'error 23505',
      'error 25P02',
      'error 25P02',
      'error 25P02',
    ]);
    expect(r.outcomes.viaProxy.at(-1)).toMatch(/^ok COMMIT/);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['101.00', '105.00']);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('an unknown savepoint name gives the database error and fails the transaction; names follow the case rules', async () => {
    const r = await compare([1, 2], ([a, b], u) => [
      'BEGIN',
      upd(a!, u[1], 1),
      upd(b!, u[2], 2),
      'SAVEPOINT "Mixed"',
      'RELEASE SAVEPOINT mixed',
      sel(a!, u[1]),
      'ROLLBACK TO "Mixed"',
      upd(b!, u[2], 5),
      'ROLLBACK TO nowhere',
      'COMMIT',
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    expect(r.outcomes.viaProxy.filter((o) => o.startsWith('error'))).toEqual([
      'error 3B001',
      'error 25P02',
      'error 3B001',
    ]);
    // COMMIT of a failed transaction rolls it back.
    expect(r.outcomes.viaProxy.at(-1)).toMatch(/^ok ROLLBACK/);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['100.00', '100.00']);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('a name set twice: ROLLBACK TO and RELEASE take the newest', async () => {
    const r = await compare([1, 2], ([a, b], u) => [
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
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['101.00', '100.00']);
  });

  it('savepoint statements in the extended protocol (named prepared statements)', async () => {
    const r = await compare([1, 2], ([a, b], u) => [
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
    ]);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(['101.00', '102.00']);
  });

  it('a SAVEPOINT sent with other statements in one message is refused with a coded error', async () => {
    const [a, b] = [nextId++, nextId++];
    const c = await fx.client();
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 100), ($3, $4, 100)', [
      a,
      users[1],
      b,
      users[2],
    ]);
    await c.query('BEGIN');
    await c.query(upd(a, users[1], 1).replace('{t}', 'balances'));
    await c.query(upd(b, users[2], 1).replace('{t}', 'balances'));
    await expect(c.query(`SAVEPOINT x; SELECT 1`)).rejects.toMatchObject({ code: '0A000' });
    await c.query('ROLLBACK');
    await c.end();
  });

  it('a shard-key move inside a savepoint is undone on both shards by ROLLBACK TO', async () => {
    const ids = [nextId++, nextId++];
    const c = await fx.client();
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 100), ($3, $4, 100)', [
      ids[0],
      users[1],
      ids[1],
      users[0],
    ]);
    await c.query('BEGIN');
    await c.query(`UPDATE balances SET balance = balance + 1 WHERE id = ${ids[1]} AND user_id = ${users[0]}`);
    await c.query('SAVEPOINT before_move');
    // Moves the row from s1 to s2: a DELETE on s1 and an INSERT on s2, both inside the savepoint.
    const moved = await c.query(
      `UPDATE balances SET user_id = ${users[2]}, balance = 5 WHERE id = ${ids[0]} AND user_id = ${users[1]}`,
    );
    expect(moved.rowCount).toBe(1);
    await c.query('ROLLBACK TO SAVEPOINT before_move');
    const back = await c.query(
      `SELECT user_id::text, balance::text FROM balances WHERE id = ${ids[0]} AND user_id = ${users[1]}`,
    );
    expect(back.rows).toEqual([{ user_id: String(users[1]), balance: '100.00' }]);
    const gone = await c.query(
      `SELECT count(*)::int AS n FROM balances WHERE id = ${ids[0]} AND user_id = ${users[2]}`,
    );
    expect(gone.rows[0].n).toBe(0);
    // Moved again and kept this time.
    await c.query(`UPDATE balances SET user_id = ${users[2]} WHERE id = ${ids[0]} AND user_id = ${users[1]}`);
    await c.query('COMMIT');
    await c.end();
    expect(await idsOn(s1, ids)).toEqual([]);
    expect(await idsOn(s2, ids)).toEqual([String(ids[0])]);
    expect(await idsOn(s0, ids)).toEqual([String(ids[1])]);
    expect(await preparedAnywhere()).toEqual([]);
  });
});
