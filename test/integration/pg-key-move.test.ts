// An UPDATE that sets the shard key to a value another shard owns moves the row (delete on the
// old shard, insert on the new one, one cross-shard transaction), on real PostgreSQL servers
// through the pg driver: simple and extended protocol, RETURNING, inside BEGIN ... ROLLBACK and
// BEGIN ... COMMIT, and the refusals (a computed key, a table with triggers, a data type whose
// crossShard policy refuses). After each: the row is where its key maps and nowhere else, and no
// prepared transaction is left.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoUsersOn, preparedOn } from '../support/proxy-fixture.js';
import { useProxyFixture } from '../support/use-fixture.js';
import { waitFor } from '../support/wait-for.js';

const FIRST_ID = 9_100_000;

const fx = useProxyFixture(
  { shards: 2, replicas: 0, overrides: { dataTypes: { user_likes: { crossShard: 'refuse' } } } },
  180_000,
);
let c: pg.Client;
let s0: string;
let s1: string;
/** Demo users whose rows live on s0, and on s1. */
let onS0: number[];
let onS1: number[];

/** The row with this id as each server holds it (user_id, name), or null. */
async function whereIs(table: string, id: number): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const server of [s0, s1]) {
    const d = await fx.direct(server);
    const r = await d.query<{ user_id: string; name: string }>(
      `SELECT user_id::text, ${table === 'users' ? 'name' : "''"} AS name FROM ${table} WHERE id = $1`,
      [id],
    );
    await d.end();
    out[server] = r.rows[0] ? `${r.rows[0].user_id}/${r.rows[0].name}` : null;
  }
  return out;
}

const prepared = () => preparedOn(fx, [s0, s1]);

async function addUser(id: number, user: number, name: string): Promise<void> {
  await c.query('INSERT INTO users (id, user_id, name) VALUES ($1, $2, $3)', [id, user, name]);
}

beforeAll(async () => {
  s0 = fx.cluster.shards[0]!.primary.name;
  s1 = fx.cluster.shards[1]!.primary.name;
  onS0 = await demoUsersOn(fx, s0, 5);
  onS1 = await demoUsersOn(fx, s1, 5);
  c = await fx.client();
});

describe('an UPDATE of the shard key moves the row', () => {
  it('simple protocol: the row is found by its new key on its new shard, gone from the old one', async () => {
    const id = FIRST_ID + 1;
    await addUser(id, onS0[0]!, 'mover');
    const r = await c.query(
      `UPDATE users SET user_id = ${onS1[0]}, name = 'moved' WHERE user_id = ${onS0[0]} AND id = ${id}`,
    );
    expect(r.command).toBe('UPDATE');
    expect(r.rowCount).toBe(1);
    const found = await c.query(`SELECT id::text, name FROM users WHERE user_id = ${onS1[0]} AND id = ${id}`);
    expect(found.rows).toEqual([{ id: String(id), name: 'moved' }]);
    const old = await c.query(`SELECT id FROM users WHERE user_id = ${onS0[0]} AND id = ${id}`);
    expect(old.rowCount).toBe(0);
    expect(await whereIs('users', id)).toEqual({ [s0]: null, [s1]: `${onS1[0]}/moved` });
    expect(await prepared()).toEqual([]);
  });

  it('extended protocol with RETURNING: the new values, every other column kept', async () => {
    const id = FIRST_ID + 2;
    await addUser(id, onS0[1]!, 'returning');
    const before = await c.query<{ created_at: string; email: string }>(
      'SELECT created_at::text, email FROM users WHERE user_id = $1 AND id = $2',
      [onS0[1], id],
    );
    const r = await c.query(
      'UPDATE users SET vip = NOT vip, user_id = $1 WHERE user_id = $2 AND id = $3 RETURNING id::text, user_id::text, name, vip',
      [onS1[1], onS0[1], id],
    );
    expect(r.command).toBe('UPDATE');
    expect(r.rows).toEqual([{ id: String(id), user_id: String(onS1[1]), name: 'returning', vip: true }]);
    const after = await c.query('SELECT created_at::text, email FROM users WHERE user_id = $1 AND id = $2', [
      onS1[1],
      id,
    ]);
    expect(after.rows).toEqual(before.rows);
    expect(await whereIs('users', id)).toEqual({ [s0]: null, [s1]: `${onS1[1]}/returning` });
    expect(await prepared()).toEqual([]);
  });

  it('a named prepared statement moves rows on each execution', async () => {
    const move =
      'UPDATE users SET user_id = $1 WHERE user_id = $2 AND id = $3 RETURNING id::text, user_id::text';
    for (const [i, id] of [FIRST_ID + 10, FIRST_ID + 11].entries()) {
      await addUser(id, onS0[i]!, `named ${i}`);
      const r = await c.query({ name: 'sg_key_move', text: move, values: [onS1[i], onS0[i], id] });
      expect(r.rows).toEqual([{ id: String(id), user_id: String(onS1[i]) }]);
      expect(await whereIs('users', id)).toEqual({ [s0]: null, [s1]: `${onS1[i]}/named ${i}` });
    }
    expect(await prepared()).toEqual([]);
  });

  it('several rows from several shards; rows already on the new shard just update', async () => {
    await addUser(FIRST_ID + 3, onS0[2]!, 'a');
    await addUser(FIRST_ID + 4, onS1[2]!, 'b');
    const r = await c.query(
      `UPDATE users SET user_id = ${onS1[3]} WHERE user_id IN (${onS0[2]}, ${onS1[2]}) AND id IN (${FIRST_ID + 3}, ${FIRST_ID + 4}) RETURNING id::text`,
    );
    expect(r.rowCount).toBe(2);
    expect(r.rows.map((row) => row.id).sort()).toEqual([String(FIRST_ID + 3), String(FIRST_ID + 4)]);
    expect(await whereIs('users', FIRST_ID + 3)).toEqual({ [s0]: null, [s1]: `${onS1[3]}/a` });
    expect(await whereIs('users', FIRST_ID + 4)).toEqual({ [s0]: null, [s1]: `${onS1[3]}/b` });
    expect(await prepared()).toEqual([]);
  });

  it('no row matched: UPDATE 0, nothing anywhere', async () => {
    const r = await c.query(`UPDATE users SET user_id = ${onS1[0]} WHERE user_id = ${onS0[0]} AND id = 1`);
    expect(r.command).toBe('UPDATE');
    expect(r.rowCount).toBe(0);
  });

  it('inside BEGIN ... ROLLBACK nothing moves', async () => {
    const id = FIRST_ID + 5;
    await addUser(id, onS0[3]!, 'stays');
    await c.query('BEGIN');
    const r = await c.query('UPDATE users SET user_id = $1 WHERE user_id = $2 AND id = $3 RETURNING name', [
      onS1[4],
      onS0[3],
      id,
    ]);
    expect(r.rows).toEqual([{ name: 'stays' }]);
    // The transaction reads its own move.
    const inside = await c.query('SELECT name FROM users WHERE user_id = $1 AND id = $2', [onS1[4], id]);
    expect(inside.rows).toEqual([{ name: 'stays' }]);
    await c.query('ROLLBACK');
    expect(await whereIs('users', id)).toEqual({ [s0]: `${onS0[3]}/stays`, [s1]: null });
    expect(await prepared()).toEqual([]);
  });

  it('inside BEGIN ... COMMIT it joins the transaction and commits with it', async () => {
    const id = FIRST_ID + 6;
    await addUser(id, onS0[4]!, 'joins');
    await c.query('BEGIN');
    await c.query(`UPDATE users SET name = 'first' WHERE user_id = ${onS0[4]} AND id = ${id}`);
    await c.query(`UPDATE users SET user_id = ${onS1[4]} WHERE user_id = ${onS0[4]} AND id = ${id}`);
    expect(await whereIs('users', id)).toEqual({ [s0]: `${onS0[4]}/joins`, [s1]: null });
    await c.query('COMMIT');
    expect(await whereIs('users', id)).toEqual({ [s0]: null, [s1]: `${onS1[4]}/first` });
    expect(await prepared()).toEqual([]);
  });

  it('a failure on the new shard (a duplicate id there) rolls the whole move back', async () => {
    await addUser(FIRST_ID + 7, onS0[0]!, 'dup-old');
    await addUser(FIRST_ID + 7, onS1[0]!, 'dup-new');
    await expect(
      c.query(`UPDATE users SET user_id = ${onS1[0]} WHERE user_id = ${onS0[0]} AND id = ${FIRST_ID + 7}`),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await whereIs('users', FIRST_ID + 7)).toEqual({
      [s0]: `${onS0[0]}/dup-old`,
      [s1]: `${onS1[0]}/dup-new`,
    });
    expect(await prepared()).toEqual([]);
  });
});

describe('inside a transaction, failures and refusals', () => {
  it('a move failing on the new shard fails the transaction everywhere; ROLLBACK leaves everything as it was', async () => {
    const id = FIRST_ID + 13;
    await addUser(id, onS0[1]!, 'tx-old');
    await addUser(id, onS1[1]!, 'tx-new');
    await c.query('BEGIN');
    await c.query(`UPDATE users SET name = 'tx-changed' WHERE user_id = ${onS0[1]} AND id = ${id}`);
    await expect(
      c.query(`UPDATE users SET user_id = ${onS1[1]} WHERE user_id = ${onS0[1]} AND id = ${id}`),
    ).rejects.toMatchObject({ code: '23505' });
    await expect(c.query(`SELECT 1 FROM users WHERE user_id = ${onS0[1]}`)).rejects.toMatchObject({
      code: '25P02',
    });
    await c.query('ROLLBACK');
    expect(await whereIs('users', id)).toEqual({ [s0]: `${onS0[1]}/tx-old`, [s1]: `${onS1[1]}/tx-new` });
    expect(await prepared()).toEqual([]);
  });
});

describe('what is refused (0A000), nothing moved', () => {
  it('a new key computed from the row', async () => {
    await expect(
      c.query(`UPDATE users SET user_id = user_id + 1 WHERE user_id = ${onS0[0]}`),
    ).rejects.toMatchObject({
      code: '0A000',
      message: expect.stringContaining('constant or a parameter'),
    });
  });

  it('a table with triggers', async () => {
    const id = FIRST_ID + 8;
    for (const server of [s0, s1]) {
      const d = await fx.direct(server);
      await d.query(
        `CREATE FUNCTION sg_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
      );
      await d.query(
        'CREATE TRIGGER sg_touch BEFORE UPDATE ON temp_data FOR EACH ROW EXECUTE FUNCTION sg_touch()',
      );
      await d.end();
    }
    await c.query('INSERT INTO temp_data (id, user_id) VALUES ($1, $2)', [id, onS0[0]]);
    await expect(
      c.query(`UPDATE temp_data SET user_id = ${onS1[0]} WHERE user_id = ${onS0[0]} AND id = ${id}`),
    ).rejects.toMatchObject({ code: '0A000', message: expect.stringContaining('triggers') });
    expect(await whereIs('temp_data', id)).toEqual({ [s0]: `${onS0[0]}/`, [s1]: null });
  });

  it('refused inside a transaction: the transaction fails as on any error, ROLLBACK ends it', async () => {
    await c.query('BEGIN');
    await c.query(`SELECT 1 FROM temp_data WHERE user_id = ${onS0[0]}`);
    await expect(
      c.query(
        `UPDATE temp_data SET user_id = ${onS1[0]} WHERE user_id = ${onS0[0]} AND id = ${FIRST_ID + 8}`,
      ),
    ).rejects.toMatchObject({ code: '0A000' });
    await expect(c.query(`SELECT 1 FROM temp_data WHERE user_id = ${onS0[0]}`)).rejects.toMatchObject({
      code: '25P02',
    });
    await c.query('ROLLBACK');
    expect(await whereIs('temp_data', FIRST_ID + 8)).toEqual({ [s0]: `${onS0[0]}/`, [s1]: null });
    expect(await prepared()).toEqual([]);
  });

  it('a session whose extra_float_digits would round floats on the way', async () => {
    const id = FIRST_ID + 12;
    await addUser(id, onS0[0]!, 'float');
    await c.query('SET extra_float_digits = 0');
    await expect(
      c.query(`UPDATE users SET user_id = ${onS1[0]} WHERE user_id = ${onS0[0]} AND id = ${id}`),
    ).rejects.toMatchObject({ code: '0A000', message: expect.stringContaining('extra_float_digits') });
    await c.query('RESET extra_float_digits');
    expect(await whereIs('users', id)).toEqual({ [s0]: `${onS0[0]}/float`, [s1]: null });
  });

  it('a data type whose crossShard policy refuses', async () => {
    const id = FIRST_ID + 9;
    await c.query('INSERT INTO likes (id, user_id) VALUES ($1, $2)', [id, onS0[0]]);
    await expect(
      c.query(`UPDATE likes SET user_id = ${onS1[0]} WHERE user_id = ${onS0[0]} AND id = ${id}`),
    ).rejects.toMatchObject({
      code: '0A000',
      message: expect.stringContaining('data type user_likes refuses'),
    });
    expect(await whereIs('likes', id)).toEqual({ [s0]: `${onS0[0]}/`, [s1]: null });
  });

  it('a cutover aborting the transaction waits for a move in flight, then fails the transaction with 40001', async () => {
    const id = FIRST_ID + 40;
    await addUser(id, onS0[2]!, 'cutover');
    // A lock on the row holds the move's UPDATE on s0 while the cutover aborts the transaction.
    const locker = await fx.direct(s0);
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [id]);
    const mover = await fx.client();
    await mover.query('BEGIN');
    const move = mover.query(
      `UPDATE users SET user_id = ${onS1[2]} WHERE user_id = ${onS0[2]} AND id = ${id}`,
    );
    await waitFor('the move waiting on the row lock', async () => {
      const r = await locker.query('SELECT 1 FROM pg_locks WHERE NOT granted');
      return (r.rowCount ?? 0) > 0;
    });
    const block = fx.proxy.cutover.block(
      [fx.cluster.shards[0]!.name],
      { migrationId: 'key-move', graceMs: 20, deadlineMs: 20_000 },
      { catchUp: async () => {}, switchTopology: () => {} },
    );
    // Past the grace period the gate aborts the mover; the move only then gets its row.
    await new Promise((r) => setTimeout(r, 300));
    await locker.query('COMMIT');
    await locker.end();
    const moved = await move;
    expect(moved.rowCount).toBe(1);
    const report = await block;
    expect(report.outcome).toBe('switched');
    expect(report.abortedTransactions).toBe(1);
    await expect(mover.query('COMMIT')).rejects.toMatchObject({ code: '40001' });
    await mover.query('ROLLBACK');
    // The session goes on, the move never happened, no connection is left in a transaction.
    const r = await mover.query(`SELECT name FROM users WHERE user_id = ${onS0[2]} AND id = ${id}`);
    expect(r.rows).toEqual([{ name: 'cutover' }]);
    await mover.end();
    expect(await whereIs('users', id)).toEqual({ [s0]: `${onS0[2]}/cutover`, [s1]: null });
    expect(await prepared()).toEqual([]);
    const active = () =>
      fx.proxy.topology
        .allServers()
        .flatMap((s) => s.pools.all())
        .reduce((n, p) => n + p.stats().active, 0);
    // The suite's own client holds none between statements either.
    await waitFor('connections back in their pools', () => active() === 0, 10_000);
  });
});
