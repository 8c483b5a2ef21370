// Cross-shard transactions on real PostgreSQL servers through the pg driver: a money transfer
// between users on two shards commits atomically with two-phase commit; a participant failing at
// PREPARE rolls back every shard; concurrent transfers keep the total; a proxy killed (SIGKILL,
// `shardgate start` child process) after PREPARE or after the decision, and a participant server
// down at COMMIT PREPARED, are resolved by recovery from the decision log.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transferBalance } from '../../bench/lib/balance-transfer.js';
import { childPgClient } from '../support/child-clients.js';
import { expectCommitFinishesWithoutClient } from '../support/client-gone-commit.js';
import { refuse666AtCommit } from '../support/pg-refuse-at-commit.js';
import { demoUsersOn, type ProxyFixture, preparedOn, startProxyFixture } from '../support/proxy-fixture.js';
import type { StartedProcess } from '../support/start-process.js';
import { accountPairs } from '../support/transfer-accounts.js';
import { crashingProxies } from '../support/two-phase-crash.js';
import { waitFor as pollUntil } from '../support/wait-for.js';

const FIRST_ID = 9_000_000;
const START_BALANCE = 1000;
const TOKEN = 'twopc-admin-token';

interface Account {
  id: number;
  user: number;
  shard: string;
}

let fx: ProxyFixture;
let accounts: Account[] = [];
let s0: string;
let s1: string;
let s2: string;

/** Sets the balance of an account to `to`, an SQL expression (of `balance`, say). */
const setBalance = (c: pg.Client, a: Account, to: string) =>
  c.query(`UPDATE balances SET balance = ${to} WHERE id = $1 AND user_id = $2`, [a.id, a.user]);

async function total(client: pg.Client): Promise<number> {
  const r = await client.query<{ sum: string }>('SELECT sum(balance) AS sum FROM balances WHERE id >= $1', [
    FIRST_ID,
  ]);
  return Number(r.rows[0]!.sum);
}

async function balanceOn(server: string, id: number): Promise<number> {
  const c = await fx.direct(server);
  const r = await c.query<{ balance: string }>('SELECT balance::text FROM balances WHERE id = $1', [id]);
  await c.end();
  return Number(r.rows[0]!.balance);
}

/** Shardgate's prepared transactions on these servers. */
const prepared = async (...servers: string[]) =>
  (await preparedOn(fx, servers)).filter((gid) => gid.startsWith('sg2pc'));
const preparedAnywhere = () => prepared(s0, s1, s2);

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** These tests poll every 100 ms: their checks query the servers. */
const waitFor = (what: string, check: () => Promise<boolean>, ms = 30_000) => pollUntil(what, check, ms, 100);

const { balancesOf, pairOf } = accountPairs(
  () => accounts,
  (a) => balanceOn(a.shard, a.id),
);

beforeAll(async () => {
  fx = await startProxyFixture({
    // s0 is the default shard (the decision log's home): a transfer touching it commits there with
    // the decision; one between s1 and s2 prepares both and writes the decision on its own.
    shards: 3,
    replicas: 0,
    // The in-process proxy's recovery stays out of the way of the child processes' (it runs once at start).
    // likes refuse to take part in a transaction that spans shards (crossShard: refuse).
    overrides: {
      transactions: { recoveryIntervalMs: 3_600_000, lockTimeoutMs: 500 },
      dataTypes: { user_likes: { crossShard: 'refuse' } },
    },
  });
  s0 = fx.cluster.shards[0]!.primary.name;
  s1 = fx.cluster.shards[1]!.primary.name;
  s2 = fx.cluster.shards[2]!.primary.name;
  // accounts[0..3] on s0, [4..7] on s1, [8..11] on s2.
  accounts = [];
  for (const [n, server] of [s0, s1, s2].entries())
    for (const [i, user] of (await demoUsersOn(fx, server, 4)).entries())
      accounts.push({ id: FIRST_ID + 10 * n + i, user, shard: server });
  const c = await fx.client();
  for (const a of accounts)
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, $3)', [
      a.id,
      a.user,
      START_BALANCE,
    ]);
  await c.end();
  // Every shard refuses, at PREPARE or COMMIT (a deferred constraint trigger), a balance of 666.
  for (const server of [s0, s1, s2]) {
    const d = await fx.direct(server);
    await refuse666AtCommit(d, 'UPDATE');
    await d.end();
  }
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

describe('two-phase commit', () => {
  it.each([
    ['with the default shard (its commit carries the decision)', 0, 4],
    ['between two other shards (both prepared, the decision on its own)', 5, 9],
  ])('commits a transfer %s on both shards; reads see the participant', async (_, ai, bi) => {
    const [a, b] = [accounts[ai]!, accounts[bi]!];
    expect(a.shard).not.toBe(b.shard);
    const before = await metric(fx.proxy.admin!.port, 'shardgate_2pc_commits_total');
    const c = await fx.client();
    await c.query('BEGIN');
    await setBalance(c, a, 'balance - 5');
    await setBalance(c, b, 'balance + 5');
    // Reads inside the transaction see its own writes on both shards (each shard's participant).
    const inside = await c.query('SELECT balance::int AS v FROM balances WHERE id = $1 AND user_id = $2', [
      a.id,
      a.user,
    ]);
    expect(inside.rows[0].v).toBe(START_BALANCE - 5);
    expect(await balanceOn(a.shard, a.id)).toBe(START_BALANCE);
    await c.query('COMMIT');
    await c.end();
    expect(await balanceOn(a.shard, a.id)).toBe(START_BALANCE - 5);
    expect(await balanceOn(b.shard, b.id)).toBe(START_BALANCE + 5);
    expect(await preparedAnywhere()).toEqual([]);
    expect(await metric(fx.proxy.admin!.port, 'shardgate_2pc_commits_total')).toBe(before + 1);
  });

  it('a single-shard transaction and a cross-shard one that wrote on one shard commit without 2PC', async () => {
    const before = await metric(fx.proxy.admin!.port, 'shardgate_2pc_commits_total');
    const c = await fx.client();
    await transferBalance(c, accounts[0]!, accounts[1]!, 1);
    // Reads on s1, write on s0 only: the reader commits plainly, the writer's COMMIT is the client's.
    await c.query('BEGIN');
    await c.query('SELECT balance FROM balances WHERE id = $1 AND user_id = $2', [
      accounts[4]!.id,
      accounts[4]!.user,
    ]);
    await setBalance(c, accounts[0]!, 'balance + 0');
    expect((await c.query('COMMIT')).command).toBe('COMMIT');
    await c.end();
    expect(await metric(fx.proxy.admin!.port, 'shardgate_2pc_commits_total')).toBe(before);
  });

  it.each([
    ['a prepared participant fails at PREPARE', 10, 6],
    ['the participant carrying the decision fails at COMMIT', 6, 1],
  ])('%s: every shard rolls back (40001), nothing prepared is left', async (_, ai, bi) => {
    const { a, b, before } = await pairOf(ai, bi);
    const c = await fx.client();
    await c.query('BEGIN');
    await setBalance(c, a, 'balance - 1');
    await setBalance(c, b, '666');
    const err = await c.query('COMMIT').catch((e: { code?: string; message: string }) => e);
    expect(err).toMatchObject({ code: '40001' });
    expect((err as Error).message).toMatch(/rolled back on every shard/);
    // The session is usable and outside a transaction.
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await c.end();
    expect(await balancesOf(a, b)).toEqual(before);
    expect(await preparedAnywhere()).toEqual([]);
  });

  it('a failed statement fails the whole cross-shard transaction; ROLLBACK undoes both shards', async () => {
    const { a, b, before } = await pairOf(2, 6);
    const c = await fx.client();
    await c.query('BEGIN');
    await setBalance(c, a, 'balance - 1');
    await expect(setBalance(c, b, 'balance / 0')).rejects.toMatchObject({ code: '22012' });
    // PostgreSQL's rule: nothing runs until the transaction ends, on either shard.
    await expect(
      c.query('SELECT balance FROM balances WHERE id = $1 AND user_id = $2', [a.id, a.user]),
    ).rejects.toMatchObject({ code: '25P02' });
    expect((await c.query('COMMIT')).command).toBe('ROLLBACK');
    await c.end();
    expect(await balancesOf(a, b)).toEqual(before);
  });

  it.each([
    ['a pinned session (LISTEN) in transaction pooling', 'transaction'],
    ['session pooling', 'session'],
  ] as const)(
    'a client gone during a two-phase COMMIT (%s): the commit finishes, every server connection goes back',
    (_, mode) =>
      expectCommitFinishesWithoutClient({
        front: 'postgres',
        fixture: fx,
        mode,
        pin: 'LISTEN sg_pinned',
        // Between s1 and s2: both prepared, the decision written on s0.
        accounts: [accounts[5]!, accounts[9]!],
        connect: (port) => fx.client({ port }),
        setBalance,
        transfer: transferBalance,
        balancesOf,
        preparedAnywhere,
        decisionServer: () => fx.direct(s0),
        lockDecisions: async (d) => {
          await d.query('BEGIN');
          await d.query('LOCK TABLE shardgate.twopc_decisions IN ACCESS EXCLUSIVE MODE');
        },
        unlockDecisions: (d) => d.query('COMMIT').then(() => undefined),
        // Read outside the lock's transaction: inside one, pg_stat_activity is a snapshot.
        decisionWaiting: async (d) => {
          const r = await d.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO shardgate.twopc_decisions%'",
          );
          return r.rows[0].n === 1;
        },
        drop: (c) =>
          (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy(),
        waitFor,
      }),
  );

  it('a savepoint alone runs on every shard; one or a COMMIT sent with other statements is refused across shards', async () => {
    const c = await fx.client();
    try {
      await c.query('BEGIN');
      await setBalance(c, accounts[0]!, 'balance');
      await setBalance(c, accounts[4]!, 'balance');
      // Savepoints across shards: test/integration/pg-savepoints.test.ts.
      await c.query('SAVEPOINT x');
      await expect(c.query('SAVEPOINT y; SELECT 1')).rejects.toMatchObject({ code: '0A000' });
    } finally {
      // Rolled back whatever happened: a transaction left open holds the rows later tests write.
      await c.query('ROLLBACK').catch(() => undefined);
      await c.end();
    }
  });

  it('crossShard: refuse (a data type, a session) keeps the transaction on one shard with a coded error', async () => {
    const [a, b] = [accounts[3]!, accounts[7]!];
    const c = await fx.client();
    await c.query('BEGIN');
    await c.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [FIRST_ID + 500, a.user]);
    const refused = await setBalance(c, b, 'balance').catch((e: { code: string; message: string }) => e);
    expect(refused).toMatchObject({ code: '0A000' });
    expect((refused as { message: string }).message).toMatch(
      /data type user_likes refuses \(crossShard: refuse\)/,
    );
    await c.query('ROLLBACK');
    await c.query('SET shardgate.cross_shard = refuse');
    await expect(transferBalance(c, a, b, 1)).rejects.toMatchObject({ code: '0A000' });
    await c.query('SET shardgate.cross_shard = default');
    const before = await balancesOf(a, b);
    await transferBalance(c, a, b, 1);
    expect(await balancesOf(a, b)).toEqual([before[0]! - 1, before[1]! + 1]);
    await c.end();
  });

  it('concurrent transfers between shards keep the total, and leave nothing prepared', async () => {
    const probe = await fx.client();
    const sum = await total(probe);
    const clients = await Promise.all(Array.from({ length: 8 }, () => fx.client()));
    let committed = 0;
    let failed = 0;
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < 25; i++) {
          const from = accounts[Math.floor(random() * accounts.length)]!;
          let to = accounts[Math.floor(random() * accounts.length)]!;
          if (to.id === from.id) to = accounts[(accounts.indexOf(from) + 4) % accounts.length]!;
          try {
            await transferBalance(c, from, to, 1 + Math.floor(random() * 20));
            committed++;
          } catch (err) {
            // Deadlocks on one shard (40P01), across shards (lock_timeout, 55P03) and aborted
            // commits (40001) are the client's to retry.
            expect((err as { code?: string }).code).toMatch(/^(40|55P03)/);
            failed++;
          }
        }
      }),
    );
    await Promise.all(clients.map((c) => c.end()));
    expect(committed).toBeGreaterThan(0);
    expect(committed + failed).toBe(200);
    expect(await total(probe)).toBe(sum);
    await probe.end();
    expect(await preparedAnywhere()).toEqual([]);
  }, 120_000);
});

describe('recovery after a crash', () => {
  const { start, crashDuringTransfer, recoverAfterCrash, crashLeftToOperator, expectResolved, txn } =
    crashingProxies({
      token: TOKEN,
      // Its transactions (lockTimeoutMs: 500, two_phase) with the children's recovery.
      base: () => fx.config,
      connect: childPgClient,
      transfer: transferBalance,
      drop: (c) => c.end().catch(() => undefined),
      balancesOf,
      preparedAnywhere,
    });

  async function transactions(
    p: StartedProcess,
  ): Promise<{ inDoubt: Array<{ gid: string; decision: string | null; unreachable: boolean }> }> {
    const res = await fetch(`http://127.0.0.1:${p.adminPort}/api/transactions`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      inDoubt: Array<{ gid: string; decision: string | null; unreachable: boolean }>;
    };
  }

  it('killed after PREPARE (no decision): recovery on restart rolls back both shards', async () => {
    const p = await recoverAfterCrash(await pairOf(7, 11), 'twopc-after-prepare', 'rolled back', async () => {
      expect(await preparedAnywhere()).toHaveLength(2);
    });
    expect((await transactions(p)).inDoubt).toEqual([]);
    expect(await metric(p.adminPort, 'shardgate_2pc_recovered_total')).toBe(2);
    await p.stop();
  }, 120_000);

  it('killed after the first COMMIT PREPARED: after restart both shards are committed', async () => {
    const p = await recoverAfterCrash(
      await pairOf(6, 10),
      'twopc-after-first-commit',
      'committed',
      async () => {
        // One shard committed; the other's COMMIT PREPARED was sent in parallel, so it may have run
        // before the kill took effect: at most one shard is still prepared.
        expect((await preparedAnywhere()).length).toBeLessThanOrEqual(1);
      },
    );
    await p.stop();
  }, 120_000);

  it('shardgate txn list shows what recovery has not resolved yet; resolve follows the decision log', async () => {
    const pair = await pairOf(5, 9);
    // Recovery of this process leaves young transactions alone for an hour: the operator acts.
    const p = await crashLeftToOperator(pair, 'twopc-after-prepare', 3_600_000);
    expect((await fetch(`http://127.0.0.1:${p.adminPort}/api/transactions`)).status).toBe(401);
    const listed = await txn(p, 'list', '--json');
    expect(listed.code).toBe(0);
    const inDoubt = (JSON.parse(listed.out) as { inDoubt: Array<{ gid: string; decision: string | null }> })
      .inDoubt;
    expect(inDoubt).toHaveLength(2);
    expect(inDoubt.every((d) => d.decision === null && d.gid === inDoubt[0]!.gid)).toBe(true);
    expect((await txn(p, 'list')).out).toContain(inDoubt[0]!.gid);
    // No commit decision: committing one shard of it would be silently wrong.
    const refused = await txn(p, 'resolve', inDoubt[0]!.gid, '--commit');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/no commit decision/);
    await expectResolved(p, inDoubt[0]!.gid, pair, 'rolled back');
    await p.stop();
    // Seven node processes (two proxies, five CLI runs): one CLI run took 15.8 s at load 29 on 2 cores.
  }, 300_000);

  it('killed after the decision, a participant down: commit on restart, the rest on its return', async () => {
    const { a, b, before } = await pairOf(3, 7);
    await crashDuringTransfer('twopc-after-decision', a, b);
    // s0 committed with the decision (it carries it), s1 prepared; now s1 goes down.
    await fx.cluster.stopServer(s1);
    const p = await start();
    await waitFor('s0 committed', async () => (await prepared(s0)).length === 0);
    expect(await balanceOn(a.shard, a.id)).toBe(before[0]! - 7);
    const listed = await transactions(p);
    expect(listed.inDoubt).toEqual([expect.objectContaining({ decision: 'commit', unreachable: true })]);
    await waitFor(
      'the in-doubt gauge',
      async () => (await metric(p.adminPort, 'shardgate_2pc_in_doubt')) === 1,
    );
    await fx.cluster.restartServer(s1);
    await waitFor(
      's1 committed on its return',
      async () => {
        try {
          return (await prepared(s1)).length === 0;
        } catch {
          return false;
        }
      },
      60_000,
    );
    expect(await balanceOn(b.shard, b.id)).toBe(before[1]! + 7);
    await waitFor('nothing in doubt', async () => (await transactions(p)).inDoubt.length === 0);
    await p.stop();
  }, 180_000);
});
