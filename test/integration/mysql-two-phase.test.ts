// Cross-shard transactions through the MySQL front end on real MariaDB servers, with mysql2: a
// transfer between users on two shards commits atomically with XA two-phase commit (the shard the
// transaction began on carries the decision; with that shard only read, the decision is written
// on its own); a participant lost before COMMIT rolls back every shard; concurrent transfers keep
// the total; a proxy killed (SIGKILL, `shardgate start` child process) between prepare and commit
// is resolved by recovery on restart, and `shardgate txn` lists and resolves MySQL transactions.
import type mysql from 'mysql2/promise';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transferBalanceMysql } from '../../bench/lib/balance-transfer.js';
import { childMysqlConnection } from '../support/child-clients.js';
import { expectCommitFinishesWithoutClient } from '../support/client-gone-commit.js';
import {
  type MysqlProxyFixture,
  startMysqlProxyFixture,
  xaPreparedOn,
} from '../support/mysql-proxy-fixture.js';
import { accountPairs } from '../support/transfer-accounts.js';
import { crashingProxies } from '../support/two-phase-crash.js';
import { waitFor as pollUntil } from '../support/wait-for.js';

const TOKEN = 'xa-admin-token';
const FIRST_ID = 9_100_000;
const START_BALANCE = 1000;

interface Account {
  id: number;
  user: number;
  server: string;
}

let fx: MysqlProxyFixture;
/** accounts[0..3] on s0, [4..7] on s1, [8..11] on s2. */
let accounts: Account[] = [];
let servers: string[] = [];

const waitFor = (what: string, check: () => Promise<boolean>, ms = 30_000) => pollUntil(what, check, ms, 100);

/** Sets the balance of an account to `to`, an SQL expression (of `balance`, say). */
const setBalance = (c: mysql.Connection, a: Account, to: string) =>
  c.execute(`UPDATE balances SET balance = ${to} WHERE id = ? AND user_id = ?`, [a.id, a.user]);

async function balanceOn(account: Account): Promise<number> {
  const d = await fx.direct(account.server);
  const [rows] = await d.query<RowDataPacket[]>('SELECT balance FROM shardgate.balances WHERE id = ?', [
    account.id,
  ]);
  await d.end();
  return Number(rows[0]!.balance);
}

/** Shardgate's XA transactions prepared on every primary. */
async function preparedAnywhere(): Promise<string[]> {
  return (await xaPreparedOn(fx, servers)).filter((gid) => gid.startsWith('sg2pc_'));
}

const { balancesOf, pairOf } = accountPairs(() => accounts, balanceOn);

/** A session in a transaction (begun with `begin`) that moved `amount` from `a` to `b`, not committed. */
async function openTransfer(
  a: Account,
  b: Account,
  amount: number,
  begin = 'BEGIN',
): Promise<mysql.Connection> {
  const c = await fx.connect();
  await c.query(begin);
  await setBalance(c, a, `balance - ${amount}`);
  await setBalance(c, b, `balance + ${amount}`);
  return c;
}

const transfer = transferBalanceMysql;

beforeAll(async () => {
  // likes refuse to take part in a transaction that spans shards (crossShard: refuse).
  fx = await startMysqlProxyFixture({
    shards: 3,
    replicas: 0,
    overrides: { dataTypes: { user_likes: { crossShard: 'refuse' } } },
  });
  servers = fx.cluster.shards.map((s) => s.primary.name);
  accounts = [];
  const c = await fx.connect();
  for (const [n, shard] of fx.cluster.shards.entries()) {
    let found = 0;
    for (let user = 1; found < 4; user++) {
      if (fx.owner(user) !== shard.name) continue;
      const id = FIRST_ID + 10 * n + found++;
      accounts.push({ id, user, server: shard.primary.name });
      await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, ?)', [
        id,
        user,
        START_BALANCE,
      ]);
    }
  }
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

describe('XA two-phase commit', () => {
  it.each([
    ['begun on the shard it writes first (its COMMIT carries the decision)', 0, 4],
    ['begun on a shard it only reads (both others prepared, the decision on its own)', 5, 9],
  ])('commits a transfer %s', async (_, ai, bi) => {
    const { a, b, before } = await pairOf(ai, bi);
    const c = await fx.connect();
    await c.query('BEGIN');
    if (ai === 5) {
      // The transaction begins with a read on s0: s0 is its home and only reads.
      const home = accounts[0]!;
      await c.execute('SELECT balance FROM balances WHERE id = ? AND user_id = ?', [home.id, home.user]);
    }
    await setBalance(c, a, 'balance - 5');
    await setBalance(c, b, 'balance + 5');
    // Reads inside the transaction see its own writes on both shards; others do not yet.
    const [inside] = await c.execute<RowDataPacket[]>(
      'SELECT balance FROM balances WHERE id = ? AND user_id = ?',
      [b.id, b.user],
    );
    expect(Number(inside[0]!.balance)).toBe(before[1]! + 5);
    expect(await balanceOn(b)).toBe(before[1]);
    await c.query('COMMIT');
    expect(await balancesOf(a, b)).toEqual([before[0]! - 5, before[1]! + 5]);
    expect(await preparedAnywhere()).toEqual([]);
    // The session goes on outside any transaction.
    const [after] = await c.query<RowDataPacket[]>('SELECT @@in_transaction AS t');
    expect(Number(after[0]!.t)).toBe(0);
  });

  it('ROLLBACK undoes every shard', async () => {
    const { a, b, before } = await pairOf(1, 5);
    const c = await openTransfer(a, b, 3, 'START TRANSACTION');
    await c.query('ROLLBACK');
    expect(await balancesOf(a, b)).toEqual(before);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('a participant lost before COMMIT rolls back every shard, and COMMIT says so', async () => {
    const { a, b, before } = await pairOf(2, 6);
    const c = await openTransfer(a, b, 4);
    // The XA participant's server thread, asked through the transaction itself.
    const [me] = await c.execute<RowDataPacket[]>(
      'SELECT CONNECTION_ID() AS thread FROM balances WHERE id = ? AND user_id = ?',
      [b.id, b.user],
    );
    const d = await fx.direct(b.server);
    await d.query(`KILL ${Number(me[0]!.thread)}`);
    await d.end();
    await expect(c.query('COMMIT')).rejects.toMatchObject({ errno: expect.any(Number) });
    await waitFor('the other shard rolled back', async () => (await balanceOn(a)) === before[0]);
    expect(await balanceOn(b)).toBe(before[1]);
    expect(await preparedAnywhere()).toEqual([]);
    // The session is usable again.
    await transfer(c, a, b, 1);
    expect(await balancesOf(a, b)).toEqual([before[0]! - 1, before[1]! + 1]);
  });

  it.each([
    ['a pinned session (user variable) in transaction pooling', 'transaction'],
    ['session pooling', 'session'],
  ] as const)(
    'a client gone during an XA COMMIT (%s): the commit finishes, every server connection goes back',
    (_, mode) =>
      expectCommitFinishesWithoutClient({
        front: 'mysql',
        fixture: fx,
        mode,
        pin: 'SET @pinned = 1',
        // Begun on s0 (the home: its COMMIT carries the decision), written on s1 too.
        accounts: [accounts[1]!, accounts[5]!],
        connect: (port) => fx.connect({ port }),
        setBalance,
        transfer,
        balancesOf,
        preparedAnywhere,
        decisionServer: () => fx.direct(accounts[1]!.server),
        lockDecisions: (d) => d.query('LOCK TABLES shardgate_twopc.decisions WRITE').then(() => undefined),
        unlockDecisions: (d) => d.query('UNLOCK TABLES').then(() => undefined),
        decisionWaiting: async (d) => {
          const [rows] = await d.query<RowDataPacket[]>(
            "SELECT count(*) AS n FROM information_schema.processlist WHERE state LIKE 'Waiting for table%' AND info LIKE 'INSERT INTO shardgate_twopc.decisions%'",
          );
          return Number(rows[0]!.n) === 1;
        },
        drop: (c) => c.destroy(),
        waitFor,
      }),
  );

  it('refuses DDL, batched savepoints and COMMIT sent with other statements once the transaction spans shards', async () => {
    const [a, b] = [accounts[3]!, accounts[7]!];
    const c = await fx.connect({ multipleStatements: true });
    try {
      await c.query('BEGIN');
      await setBalance(c, a, 'balance');
      await setBalance(c, b, 'balance');
      // A savepoint alone runs on every shard (test/integration/mysql-savepoints.test.ts).
      await c.query('SAVEPOINT s1');
      for (const sql of [
        'SAVEPOINT s2; SELECT 1',
        'CREATE TABLE sg_nope (id int)',
        'SET autocommit = 1',
        'XA END "x"',
      ]) {
        await expect(c.query(sql)).rejects.toMatchObject({ errno: 1235 });
      }
      await expect(
        c.query(`UPDATE balances SET balance = balance WHERE id = ${a.id} AND user_id = ${a.user}; COMMIT`),
      ).rejects.toMatchObject({ errno: 1235 });
    } finally {
      // Rolled back whatever happened: a transaction left open holds the rows later tests write.
      await c.query('ROLLBACK').catch(() => undefined);
    }
  });

  it('crossShard: refuse (a data type, a session) keeps the transaction on one shard with a coded error', async () => {
    const { a, b, before } = await pairOf(0, 4);
    const c = await fx.connect();
    // A like (user_likes: refuse) first: the transaction may not join another shard afterwards.
    await c.query('BEGIN');
    await c.execute('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [9_100_500, a.user]);
    await setBalance(c, a, 'balance - 1');
    const refused = await setBalance(c, b, 'balance + 1').catch((e: { errno: number; message: string }) => e);
    expect(refused).toMatchObject({ errno: 1235 });
    expect((refused as { message: string }).message).toMatch(
      /data type user_likes refuses \(crossShard: refuse\).*crossShard: two_phase/,
    );
    await c.query('ROLLBACK');
    // Nor may a like be written once the transaction spans shards.
    await c.query('BEGIN');
    await setBalance(c, a, 'balance');
    await setBalance(c, b, 'balance');
    await expect(
      c.execute('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [9_100_501, a.user]),
    ).rejects.toMatchObject({ errno: 1235 });
    await c.query('ROLLBACK');
    // A session may refuse for itself, and go back to what the data types say.
    await c.query('SET shardgate.cross_shard = refuse');
    await expect(transfer(c, a, b, 1)).rejects.toMatchObject({ errno: 1235 });
    await c.query('SET shardgate.cross_shard = default');
    await transfer(c, a, b, 1);
    expect(await balancesOf(a, b)).toEqual([before[0]! - 1, before[1]! + 1]);
    const d = await fx.direct(a.server);
    const [likes] = await d.query<RowDataPacket[]>('SELECT id FROM shardgate.likes WHERE id >= 9100500');
    await d.end();
    expect(likes).toEqual([]);
  });

  it('a shard-key change moves the row as an UPDATE, and as DELETE + INSERT in one transaction across shards', async () => {
    const c = await fx.connect();
    const from = accounts[2]!;
    const to = accounts.find((x) => x.server !== from.server)!;
    const id = FIRST_ID + 900;
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 42)', [id, from.user]);
    const on = async (server: string) => {
      const d = await fx.direct(server);
      const [rows] = await d.query<RowDataPacket[]>('SELECT user_id FROM shardgate.balances WHERE id = ?', [
        id,
      ]);
      await d.end();
      return rows.map((r) => Number(r.user_id));
    };
    // The UPDATE moves it (mysql-key-move.test.ts has the rest)...
    const [moved] = await c.execute<ResultSetHeader>(
      'UPDATE balances SET user_id = ? WHERE id = ? AND user_id = ?',
      [to.user, id, from.user],
    );
    expect(moved.affectedRows).toBe(1);
    expect(await on(from.server)).toEqual([]);
    expect(await on(to.server)).toEqual([to.user]);
    // ... and the application's own DELETE + INSERT moves it back.
    await c.query('BEGIN');
    await c.execute('DELETE FROM balances WHERE id = ? AND user_id = ?', [id, to.user]);
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 42)', [id, from.user]);
    await c.query('COMMIT');
    expect(await on(to.server)).toEqual([]);
    expect(await on(from.server)).toEqual([from.user]);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('concurrent transfers between shards keep the total and leave nothing prepared', async () => {
    const sum = async () => {
      let total = 0;
      for (const a of accounts) total += await balanceOn(a);
      return total;
    };
    const before = await sum();
    const clients = await Promise.all(Array.from({ length: 8 }, () => fx.connect()));
    let committed = 0;
    let refused = 0;
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; n < 15; n++) {
          const from = accounts[(i + n) % accounts.length]!;
          const to = accounts[(i * 5 + n * 7 + 4) % accounts.length]!;
          if (from === to) continue;
          try {
            await transfer(c, from, to, 1 + ((i + n) % 9));
            committed++;
          } catch (err) {
            // Lock waits across shards end in a coded error (deadlock or timeout): nothing applied.
            expect((err as { errno?: number }).errno).toBeDefined();
            refused++;
          }
        }
      }),
    );
    expect(committed).toBeGreaterThan(0);
    expect(committed + refused).toBeGreaterThan(100);
    expect(await sum()).toBe(before);
    expect(await preparedAnywhere()).toEqual([]);
  }, 120_000);
});

describe('recovery after a crash', () => {
  const { recoverAfterCrash, crashLeftToOperator, expectResolved, txn } = crashingProxies({
    token: TOKEN,
    base: () => fx.config,
    connect: childMysqlConnection,
    transfer,
    drop: (c) => c.destroy(),
    balancesOf,
    preparedAnywhere,
  });

  it('killed between XA PREPARE and the decision: recovery on restart rolls back both shards', async () => {
    const p = await recoverAfterCrash(await pairOf(8, 1), 'twopc-after-prepare', 'rolled back', async () => {
      // The shard the transaction began on (a's) was never prepared: its server rolled it back.
      expect(await preparedAnywhere()).toHaveLength(1);
    });
    await p.stop();
  }, 120_000);

  it('killed after the decision, before XA COMMIT: recovery on restart commits the prepared shard', async () => {
    const pair = await pairOf(9, 2);
    const p = await recoverAfterCrash(pair, 'twopc-after-decision', 'committed', async () => {
      // a's shard committed with the decision; b's is prepared.
      expect(await balanceOn(pair.a)).toBe(pair.before[0]! - 7);
      expect(await preparedAnywhere()).toHaveLength(1);
    });
    await p.stop();
  }, 120_000);

  it('shardgate txn list shows MySQL transactions in doubt; resolve follows the decision log', async () => {
    const pair = await pairOf(10, 3);
    // Recovery waits a minute before touching it: the operator sees it first.
    const p = await crashLeftToOperator(pair, 'twopc-after-decision', 60_000);
    const [gid] = await preparedAnywhere();
    expect(gid).toMatch(/^sg2pc_[0-9a-f]+_\d+\.s2$/);
    await waitFor('txn list to show it', async () => (await txn(p, 'list')).out.includes(gid!));
    const listed = JSON.parse((await txn(p, 'list', '--json')).out) as {
      inDoubt: Array<{ gid: string; protocol: string; server: string; decision: string | null }>;
    };
    expect(listed.inDoubt).toContainEqual(
      expect.objectContaining({ gid, protocol: 'mysql', server: pair.b.server, decision: 'commit' }),
    );
    await expectResolved(p, gid!, pair, 'committed');
    await p.stop();
    // Six or more node processes (two proxies, four or more CLI runs): one CLI run took 15.8 s at load 29 on 2 cores.
  }, 300_000);
});
