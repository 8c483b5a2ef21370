// An UPDATE that sets the shard key to a value another shard owns moves the row through the MySQL
// port (the UPDATE on the old shard, DELETE ... RETURNING there, INSERT on the new one, one XA
// cross-shard transaction), on real MariaDB servers with mysql2: autocommit, a prepared
// statement, inside BEGIN ... COMMIT and ROLLBACK, rows from several shards in one UPDATE, a key
// change within one shard, exact values (DOUBLE, JSON, TIMESTAMP(6)) on the way, the affected rows
// MariaDB gives the same UPDATE on unsharded data, a failure on the new shard (the row stays
// exactly once), and the refusals. After each: the row is where its key maps and nowhere else, and
// no XA transaction is left prepared.

import type mysql from 'mysql2/promise';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import { xaPreparedOn } from '../support/mysql-proxy-fixture.js';
import { rootConnection } from '../support/mysql-root-connection.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const FIRST_ID = 9_200_000;

/** routing.maxMergeRows here: a move holding more rows of one shard is refused. */
const MAX_MOVED = 5;

const fx = useMysqlProxyFixture(
  {
    shards: 3,
    replicas: 0,
    overrides: {
      dataTypes: { user_likes: { crossShard: 'refuse' } },
      routing: { maxMergeRows: MAX_MOVED },
      tables: {
        km_text: { shardKey: 'k', keyType: 'text' },
        km_hidden: { shardKey: 'user_id' },
        // Configured but never created: the move's checks cannot see it.
        km_missing: { shardKey: 'user_id' },
      },
    },
  },
  180_000,
);
let c: mysql.Connection;
let servers: string[];
/** Demo user ids owned by shard 0, 1 and 2. */
let on: number[][];

/** The primary of the shard that owns a km_text key (a VARCHAR shard key, keyType text). */
function textOwner(key: string): string {
  const ranges = fx.config.mysqlShards.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange) }));
  const shard = shardForValue(fx.config.tables.km_text!, key, ranges);
  return fx.cluster.shards.find((s) => s.name === shard)!.primary.name;
}

/** Where the row with this id is on each server: `user_id/name`, or null. */
async function whereIs(table: string, id: number): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const server of servers) {
    const d = await fx.direct(server);
    const [rows] = await d.query<RowDataPacket[]>(
      `SELECT user_id, ${table === 'users' ? 'name' : "''"} AS name FROM shardgate.${table} WHERE id = ?`,
      [id],
    );
    await d.end();
    out[server] = rows[0] ? `${rows[0].user_id}/${rows[0].name}` : null;
  }
  return out;
}

/** The server names with nothing but `expected` entries, for whereIs. */
function only(expected: Record<string, string>): Record<string, string | null> {
  return Object.fromEntries(servers.map((s) => [s, expected[s] ?? null]));
}

/** XA transactions left prepared on any primary. */
const prepared = () => xaPreparedOn(fx, servers);

async function addUser(id: number, user: number, name: string): Promise<void> {
  await c.execute('INSERT INTO users (id, user_id, name) VALUES (?, ?, ?)', [id, user, name]);
}

beforeAll(async () => {
  servers = fx.cluster.shards.map((s) => s.primary.name);
  on = fx.cluster.shards.map(() => []);
  for (let user = 700_000; on.some((list) => list.length < 6); user++) {
    const i = fx.cluster.shards.findIndex((s) => s.name === fx.owner(user));
    if (on[i]!.length < 6) on[i]!.push(user);
  }
  c = await fx.connect();
  // The unsharded oracle: the same users table alone in one database, straight on a server.
  const d = await fx.direct(servers[0]!);
  await d.query('CREATE DATABASE IF NOT EXISTS km_oracle');
  await d.query('CREATE TABLE IF NOT EXISTS km_oracle.users LIKE shardgate.users');
  await d.end();
  for (const server of servers) {
    const s = await fx.direct(server);
    await s.query('CREATE TABLE shardgate.km_text (id INT PRIMARY KEY, k VARCHAR(20) NOT NULL)');
    await s.query(
      'CREATE TABLE shardgate.km_hidden (id INT PRIMARY KEY, user_id BIGINT NOT NULL, secret INT INVISIBLE DEFAULT 1)',
    );
    await s.end();
  }
});

describe('an UPDATE of the shard key moves the row', () => {
  it('autocommit: found by its new key on its new shard, gone from the old one', async () => {
    const id = FIRST_ID + 1;
    await addUser(id, on[0]![0]!, 'mover');
    const [r] = await c.query<ResultSetHeader>(
      `UPDATE users SET user_id = ${on[1]![0]!}, name = 'moved' WHERE user_id = ${on[0]![0]!} AND id = ${id}`,
    );
    expect(r.affectedRows).toBe(1);
    expect(r.changedRows).toBe(1);
    const [found] = await c.query<RowDataPacket[]>(
      `SELECT name, email, vip FROM users WHERE user_id = ${on[1]![0]!} AND id = ${id}`,
    );
    expect(found).toEqual([{ name: 'moved', email: '', vip: 0 }]);
    expect(await whereIs('users', id)).toEqual(only({ [servers[1]!]: `${on[1]![0]!}/moved` }));
    expect(await prepared()).toEqual([]);
    const [[tx]] = await c.query<RowDataPacket[]>('SELECT @@in_transaction AS t');
    expect(tx!.t).toBe(0);
  });

  it('a prepared statement (COM_STMT_EXECUTE) moves rows on each execution, other columns kept', async () => {
    for (const i of [0, 1]) {
      const id = FIRST_ID + 10 + i;
      await addUser(id, on[0]![1 + i]!, `prepared ${i}`);
      const [before] = await c.query<RowDataPacket[]>(
        'SELECT created_at, email FROM users WHERE id = ? AND user_id = ?',
        [id, on[0]![1 + i]!],
      );
      const [r] = await c.execute<ResultSetHeader>(
        'UPDATE users SET vip = NOT vip, user_id = ? WHERE user_id = ? AND id = ?',
        [on[2]![i]!, on[0]![1 + i]!, id],
      );
      expect(r.affectedRows).toBe(1);
      const [after] = await c.query<RowDataPacket[]>(
        'SELECT created_at, email FROM users WHERE id = ? AND user_id = ?',
        [id, on[2]![i]!],
      );
      expect(after).toEqual(before);
      expect(await whereIs('users', id)).toEqual(only({ [servers[2]!]: `${on[2]![i]!}/prepared ${i}` }));
    }
    expect(await prepared()).toEqual([]);
  });

  it('rows from two shards in one UPDATE; the one already on the new shard just updates', async () => {
    const ids = [FIRST_ID + 20, FIRST_ID + 21, FIRST_ID + 22];
    const users = [on[0]![3]!, on[1]![3]!, on[2]![3]!];
    for (const [i, id] of ids.entries()) await addUser(id, users[i]!, `many ${i}`);
    const [r] = await c.query<ResultSetHeader>(
      `UPDATE users SET user_id = ${on[2]![4]!} WHERE user_id IN (${users.join(', ')}) AND id IN (${ids.join(', ')})`,
    );
    expect(r.affectedRows).toBe(3);
    for (const [i, id] of ids.entries())
      expect(await whereIs('users', id)).toEqual(only({ [servers[2]!]: `${on[2]![4]!}/many ${i}` }));
    expect(await prepared()).toEqual([]);
  });

  it('a key change within one shard is a plain UPDATE there', async () => {
    const id = FIRST_ID + 23;
    await addUser(id, on[1]![1]!, 'same shard');
    const [r] = await c.query<ResultSetHeader>(
      `UPDATE users SET user_id = ${on[1]![2]!} WHERE user_id = ${on[1]![1]!} AND id = ${id}`,
    );
    expect(r.affectedRows).toBe(1);
    expect(await whereIs('users', id)).toEqual(only({ [servers[1]!]: `${on[1]![2]!}/same shard` }));
  });

  it('every column keeps its exact value on the way: DOUBLE, JSON with non-ASCII text, TIMESTAMP(6)', async () => {
    const rowOf = async (server: string, sql: string, id: number) => {
      const d = await fx.direct(server);
      const [rows] = await d.query<RowDataPacket[]>(sql, [id]);
      await d.end();
      return rows;
    };
    const cases = [
      {
        table: 'recommendations',
        id: FIRST_ID + 24,
        insert: 'INSERT INTO recommendations (id, user_id, item_id, score) VALUES (?, ?, 7, 0.1e0 + 0.2e0)',
        payload: null,
        read: 'SELECT id, item_id, score, CAST(score AS CHAR) AS exact, created_at FROM shardgate.recommendations WHERE id = ?',
      },
      {
        table: 'analytics_events',
        id: FIRST_ID + 25,
        insert: "INSERT INTO analytics_events (id, user_id, event, payload) VALUES (?, ?, 'zürich ✓', ?)",
        payload: JSON.stringify({ q: `naïve \\ "quoted" 'x' ✓`, n: 1.5 }),
        read: 'SELECT id, event, payload, HEX(payload) AS bytes, created_at FROM shardgate.analytics_events WHERE id = ?',
      },
    ];
    for (const k of cases) {
      await c.execute(k.insert, [k.id, on[0]![2]!, ...(k.payload === null ? [] : [k.payload])]);
      const before = await rowOf(servers[0]!, k.read, k.id);
      expect(before).toHaveLength(1);
      await c.query(
        `UPDATE ${k.table} SET user_id = ${on[1]![2]!} WHERE user_id = ${on[0]![2]!} AND id = ${k.id}`,
      );
      expect(await rowOf(servers[0]!, k.read, k.id)).toEqual([]);
      expect(await rowOf(servers[1]!, k.read, k.id)).toEqual(before);
    }
    expect(await prepared()).toEqual([]);
  });

  it("a text key is compared as text: '007' moves, the '7' row on the old shard stays", async () => {
    // A '7' row and the row about to become '007' on one shard, '007' owned by another.
    let n = 1;
    while (textOwner(String(n)) === textOwner(`00${n}`)) n++;
    const from = textOwner(String(n));
    let m = 0;
    while (textOwner(`old${m}`) !== from) m++;
    await c.execute('INSERT INTO km_text (id, k) VALUES (?, ?)', [1, String(n)]);
    await c.execute('INSERT INTO km_text (id, k) VALUES (?, ?)', [2, `old${m}`]);
    const [r] = await c.query<ResultSetHeader>(`UPDATE km_text SET k = '00${n}' WHERE k = 'old${m}'`);
    expect(r.affectedRows).toBe(1);
    const keys: Record<string, string[]> = {};
    for (const server of servers) {
      const d = await fx.direct(server);
      const [rows] = await d.query<RowDataPacket[]>('SELECT id, k FROM shardgate.km_text ORDER BY id');
      await d.end();
      keys[server] = rows.map((row) => `${row.id}:${row.k}`);
    }
    expect(keys).toEqual(
      Object.fromEntries(
        servers.map((s) => [
          s,
          [...(s === from ? [`1:${n}`] : []), ...(s === textOwner(`00${n}`) ? [`2:00${n}`] : [])],
        ]),
      ),
    );
    expect(await prepared()).toEqual([]);
  });

  it('no row matched: 0 rows, nothing anywhere', async () => {
    const [r] = await c.query<ResultSetHeader>(
      `UPDATE users SET user_id = ${on[1]![0]!} WHERE user_id = ${on[0]![0]!} AND id = 1`,
    );
    expect(r.affectedRows).toBe(0);
    expect(await prepared()).toEqual([]);
  });
});

describe('affected rows are what MariaDB gives on unsharded data', () => {
  // One row already has the new key (matched, not changed), two move from other shards.
  const rows = (base: number) =>
    [
      [base, 0, 'a'],
      [base + 1, 1, 'b'],
      [base + 2, 2, 'c'],
    ] as const;

  it.each([
    ['mysql2 default (CLIENT_FOUND_ROWS: matched rows)', FIRST_ID + 30, {}],
    ['without CLIENT_FOUND_ROWS (changed rows)', FIRST_ID + 40, { flags: ['-FOUND_ROWS'] }],
  ])('%s', async (_, base, options) => {
    const target = on[2]![5]!;
    const users = [on[0]![4]!, on[1]![4]!, target];
    const update = (ids: readonly number[]) =>
      `UPDATE users SET user_id = ${target}, vip = TRUE WHERE user_id IN (${users.join(', ')}) AND id IN (${ids.join(', ')})`;
    const ids = rows(base).map(([id]) => id);
    const oracle = await rootConnection(fx.cluster.shards[0]!.primary, { database: 'km_oracle', ...options });
    const sharded = await fx.connect(options);
    const plain = await fx.connect({ ...options, database: 'shardgate' });
    for (const [id, shard, name] of rows(base)) {
      await oracle.query('INSERT INTO users (id, user_id, name, vip) VALUES (?, ?, ?, ?)', [
        id,
        users[shard],
        name,
        shard === 2,
      ]);
      await plain.query('INSERT INTO users (id, user_id, name, vip) VALUES (?, ?, ?, ?)', [
        id,
        users[shard],
        name,
        shard === 2,
      ]);
    }
    await plain.end();
    const [want] = await oracle.query<ResultSetHeader>(update(ids));
    await oracle.end();
    const [got] = await sharded.query<ResultSetHeader>(update(ids));
    await sharded.end();
    expect({ affected: got.affectedRows, changed: got.changedRows }).toEqual({
      affected: want.affectedRows,
      changed: want.changedRows,
    });
    expect(got.info).toBe(want.info);
    for (const id of ids)
      expect(Object.values(await whereIs('users', id)).filter((v) => v !== null)).toHaveLength(1);
  });
});

describe('inside a transaction', () => {
  it('BEGIN ... ROLLBACK: the transaction reads its own move, then nothing moved', async () => {
    const id = FIRST_ID + 50;
    await addUser(id, on[0]![5]!, 'stays');
    await c.query('BEGIN');
    await c.query(`UPDATE users SET user_id = ${on[1]![5]!} WHERE user_id = ${on[0]![5]!} AND id = ${id}`);
    const [inside] = await c.query<RowDataPacket[]>(
      `SELECT name FROM users WHERE user_id = ${on[1]![5]!} AND id = ${id}`,
    );
    expect(inside).toEqual([{ name: 'stays' }]);
    await c.query('ROLLBACK');
    expect(await whereIs('users', id)).toEqual(only({ [servers[0]!]: `${on[0]![5]!}/stays` }));
    expect(await prepared()).toEqual([]);
  });

  it('BEGIN ... COMMIT: the move joins the transaction and commits with it', async () => {
    const id = FIRST_ID + 51;
    await addUser(id, on[1]![5]!, 'joins');
    await c.query('BEGIN');
    await c.query(`UPDATE users SET name = 'first' WHERE user_id = ${on[1]![5]!} AND id = ${id}`);
    await c.execute('UPDATE users SET user_id = ? WHERE user_id = ? AND id = ?', [
      on[0]![5]!,
      on[1]![5]!,
      id,
    ]);
    expect(await whereIs('users', id)).toEqual(only({ [servers[1]!]: `${on[1]![5]!}/joins` }));
    await c.query('COMMIT');
    expect(await whereIs('users', id)).toEqual(only({ [servers[0]!]: `${on[0]![5]!}/first` }));
    expect(await prepared()).toEqual([]);
  });
});

describe('a failure on one side leaves the row exactly once', () => {
  it('autocommit: a duplicate id on the new shard rolls the whole move back', async () => {
    const id = FIRST_ID + 60;
    await addUser(id, on[0]![0]!, 'dup-old');
    await addUser(id, on[1]![0]!, 'dup-new');
    await expect(
      c.query(`UPDATE users SET user_id = ${on[1]![0]!} WHERE user_id = ${on[0]![0]!} AND id = ${id}`),
    ).rejects.toMatchObject({ errno: 1062 });
    expect(await whereIs('users', id)).toEqual(
      only({ [servers[0]!]: `${on[0]![0]!}/dup-old`, [servers[1]!]: `${on[1]![0]!}/dup-new` }),
    );
    expect(await prepared()).toEqual([]);
  });

  it('in a transaction: the error, then 40001 until ROLLBACK, and nothing of the transaction kept', async () => {
    const id = FIRST_ID + 61;
    await addUser(id, on[0]![1]!, 'tx-old');
    await addUser(id, on[2]![1]!, 'tx-new');
    await c.query('BEGIN');
    await c.query(`UPDATE users SET name = 'tx-changed' WHERE user_id = ${on[0]![1]!} AND id = ${id}`);
    await expect(
      c.query(`UPDATE users SET user_id = ${on[2]![1]!} WHERE user_id = ${on[0]![1]!} AND id = ${id}`),
    ).rejects.toMatchObject({ errno: 1062 });
    await expect(c.query(`SELECT 1 FROM users WHERE user_id = ${on[0]![1]!}`)).rejects.toMatchObject({
      errno: 1213,
      sqlState: '40001',
    });
    await c.query('ROLLBACK');
    expect(await whereIs('users', id)).toEqual(
      only({ [servers[0]!]: `${on[0]![1]!}/tx-old`, [servers[2]!]: `${on[2]![1]!}/tx-new` }),
    );
    expect(await prepared()).toEqual([]);
    const [[tx]] = await c.query<RowDataPacket[]>('SELECT @@in_transaction AS t');
    expect(tx!.t).toBe(0);
  });
});

describe('what is refused (errno 1235), nothing moved', () => {
  /**
   * A row `id` of `table` for a user of shard 0; the UPDATE moving it to a user of shard 1 is
   * refused with 1235 saying `why`, and the row is on shard 0 alone.
   */
  async function expectMoveRefused(table: string, id: number, why: string): Promise<void> {
    await c.execute(`INSERT INTO ${table} (id, user_id) VALUES (?, ?)`, [id, on[0]![0]!]);
    await expect(
      c.query(`UPDATE ${table} SET user_id = ${on[1]![0]!} WHERE user_id = ${on[0]![0]!} AND id = ${id}`),
    ).rejects.toMatchObject({ errno: 1235, message: expect.stringContaining(why) });
    expect(await whereIs(table, id)).toEqual(only({ [servers[0]!]: `${on[0]![0]!}/` }));
  }

  it('a new key computed from the row', async () => {
    await expect(
      c.query(`UPDATE users SET user_id = user_id + 1 WHERE user_id = ${on[0]![0]!}`),
    ).rejects.toMatchObject({ errno: 1235, message: expect.stringContaining('constant or a parameter') });
  });

  it('a table without a primary key', async () => {
    const id = FIRST_ID + 70;
    for (const server of servers) {
      const d = await fx.direct(server);
      await d.query('ALTER TABLE shardgate.temp_data DROP PRIMARY KEY');
      await d.end();
    }
    await expectMoveRefused('temp_data', id, 'without a primary key');
  });

  it('a table with triggers, refused inside a transaction too (which goes on)', async () => {
    const id = FIRST_ID + 71;
    for (const server of servers) {
      const d = await fx.direct(server);
      await d.query(
        'CREATE TRIGGER shardgate.km_touch BEFORE UPDATE ON shardgate.posts FOR EACH ROW SET NEW.title = NEW.title',
      );
      await d.end();
    }
    await c.execute('INSERT INTO posts (id, user_id, title) VALUES (?, ?, ?)', [id, on[0]![0]!, 't']);
    await c.query('BEGIN');
    await expect(
      c.query(`UPDATE posts SET user_id = ${on[1]![0]!} WHERE user_id = ${on[0]![0]!} AND id = ${id}`),
    ).rejects.toMatchObject({ errno: 1235, message: expect.stringContaining('triggers') });
    await c.query(`UPDATE posts SET title = 'kept' WHERE user_id = ${on[0]![0]!} AND id = ${id}`);
    await c.query('COMMIT');
    const d = await fx.direct(servers[0]!);
    const [rows] = await d.query<RowDataPacket[]>('SELECT title FROM shardgate.posts WHERE id = ?', [id]);
    await d.end();
    expect(rows).toEqual([{ title: 'kept' }]);
  });

  it(`more than routing.maxMergeRows (${MAX_MOVED}) rows off one shard: 1104, nothing moved`, async () => {
    const ids = Array.from({ length: MAX_MOVED + 1 }, (_, i) => FIRST_ID + 80 + i);
    for (const id of ids) await addUser(id, on[2]![2]!, 'bulk');
    await expect(
      c.query(`UPDATE users SET user_id = ${on[0]![3]!} WHERE user_id = ${on[2]![2]!} AND id >= ${ids[0]}`),
    ).rejects.toMatchObject({ errno: 1104, message: expect.stringContaining('routing.maxMergeRows') });
    for (const id of ids)
      expect(await whereIs('users', id)).toEqual(only({ [servers[2]!]: `${on[2]![2]!}/bulk` }));
    expect(await prepared()).toEqual([]);
  });

  it('a schema-qualified table name', async () => {
    const id = FIRST_ID + 90;
    await addUser(id, on[0]![0]!, 'qualified');
    await expect(
      c.query(
        `UPDATE shardgate.users SET user_id = ${on[1]![0]!} WHERE user_id = ${on[0]![0]!} AND id = ${id}`,
      ),
    ).rejects.toMatchObject({ errno: 1235, message: expect.stringContaining('schema-qualified') });
    expect(await whereIs('users', id)).toEqual(only({ [servers[0]!]: `${on[0]![0]!}/qualified` }));
  });

  it('a table the checks cannot find in the current database (fails closed)', async () => {
    await expect(
      c.query(`UPDATE km_missing SET user_id = ${on[1]![0]!} WHERE user_id = ${on[0]![0]!}`),
    ).rejects.toMatchObject({
      errno: 1235,
      message: expect.stringContaining('not found in the current database'),
    });
    expect(await prepared()).toEqual([]);
  });

  it('a table with INVISIBLE columns (RETURNING * leaves them out)', async () => {
    const id = FIRST_ID + 91;
    await expectMoveRefused('km_hidden', id, 'INVISIBLE columns');
  });

  it('a data type whose crossShard policy refuses', async () => {
    const id = FIRST_ID + 72;
    await expectMoveRefused('likes', id, 'data type user_likes refuses');
    expect(await prepared()).toEqual([]);
  });
});
