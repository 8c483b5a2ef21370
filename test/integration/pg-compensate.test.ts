// Compensate mode on real PostgreSQL servers: a data type with crossShard: compensate commits
// each shard on its own; when the second shard fails at COMMIT (a deferred constraint trigger)
// after the first committed, the first is undone by the declared compensating statement exactly
// once, one event goes to the webhook, the outcome is in /api/transactions and the metric; a
// proxy killed after the first commit leaves a record that the next proxy compensates once; and
// a further proxy on the same state runs nothing again.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childPgClient } from '../support/child-clients.js';
import { describeCompensateCrash } from '../support/compensate-crash.js';
import { expectInFlightCommitSpared } from '../support/compensate-in-flight.js';
import { describeCompensateRetry } from '../support/compensate-retry.js';
import { CompensateSide, errorOf, startTransfer } from '../support/compensate-setup.js';
import { refuse666AtCommit } from '../support/pg-refuse-at-commit.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';
import { waitFor as pollUntil } from '../support/wait-for.js';

const TOKEN = 'compensate-admin-token';
const FIRST_ID = 8_000_000;

let fx: ProxyFixture;
let s0: string;
let s1: string;
let userOn0: number;
let userOn1: number;

const waitFor = (what: string, check: () => Promise<boolean>, ms = 30_000) => pollUntil(what, check, ms, 100);

async function one<T>(server: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await fx.direct(server);
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

const rowsWithId = async (server: string, id: number) =>
  (await one(server, 'SELECT id FROM balances WHERE id = $1', [id])).length;
const runsOf = async (server: string, id: number) =>
  (await one(server, 'SELECT id FROM sg_comp_runs WHERE id = $1', [id])).length;
const side = new CompensateSide(TOKEN, () => fx, rowsWithId, runsOf);
const compensationEvents = () => side.events();
const compensations = () => side.compensations();

const INSERT_BALANCE = 'INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, $3)';

/**
 * BEGIN, a row `id` on shard 0 and a row `id + 1` on shard 1 with these balances (666 is refused
 * by its shard's deferred trigger at COMMIT, 777 and 778 sleep there), then COMMIT sent; `commit`
 * is what it ends with (wrapped: the caller may act while it runs).
 */
const transfer = (c: pg.Client, id: number, balances: [number, number]) =>
  startTransfer((sql, params) => c.query(sql, params), INSERT_BALANCE, id, [userOn0, userOn1], balances);

/** A transfer whose shard 1 refuses its COMMIT after shard 0 committed: what the COMMIT ended with. */
const failingTransfer = async (c: pg.Client, id: number) => (await transfer(c, id, [10, 666])).commit;

beforeAll(async () => {
  fx = await startProxyFixture({
    shards: 2,
    replicas: 0,
    overrides: await side.overrides(),
  });
  s0 = fx.cluster.shards[0]!.primary.name;
  s1 = fx.cluster.shards[1]!.primary.name;
  const firstUser = async (server: string) =>
    Number((await one<{ user_id: string }>(server, 'SELECT min(user_id) AS user_id FROM users'))[0]!.user_id);
  userOn0 = await firstUser(s0);
  userOn1 = await firstUser(s1);
  for (const server of [s0, s1]) {
    const d = await fx.direct(server);
    await d.query('CREATE TABLE sg_comp_runs (id bigint NOT NULL)');
    // A write the router has no compensation for (CALL): the transaction must use two-phase commit.
    await d.query('CREATE TABLE sg_side (id bigint NOT NULL)');
    await d.query(
      'CREATE PROCEDURE sg_side_add(v bigint) LANGUAGE sql AS $$ INSERT INTO sg_side (id) VALUES (v) $$',
    );
    // 777 and 778 sleep in the trigger, long enough to terminate the COMMIT there, or to let it finish late.
    await refuse666AtCommit(d, 'INSERT', { 777: 30, 778: 4 });
    await d.end();
  }
}, 180_000);

afterAll(async () => {
  await fx?.stop();
  side.close();
});

describe('compensate mode', () => {
  it('commits both shards on their own when nothing fails (no prepared transaction)', async () => {
    const c = await fx.client();
    expect(await (await transfer(c, FIRST_ID, [1, 1])).commit).toBeNull();
    await c.end();
    expect(await side.outcome(FIRST_ID)).toEqual({ shard0Row: 1, shard1Row: 1, runs: 0 });
    expect(await one(s0, 'SELECT gid FROM pg_prepared_xacts')).toEqual([]);
    expect(await one(s1, 'SELECT gid FROM pg_prepared_xacts')).toEqual([]);
    expect(await compensations()).toEqual([]);
  });

  it('a shard failing at COMMIT after the other committed: compensated once, one event, in /api/transactions', async () => {
    const id = FIRST_ID + 10;
    const c = await fx.client();
    const err = await failingTransfer(c, id);
    expect(err?.code).toBe('40001');
    expect(err?.message).toMatch(/undid what committed/);
    // The session is usable after the error.
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await c.end();
    expect(await side.outcome(id)).toEqual({ shard0Row: 0, shard1Row: 0, runs: 1 });
    await side.expectFirstCompensated(s0);
  });

  it("the second shard's backend terminated during its COMMIT: the first shard is compensated once", async () => {
    const id = FIRST_ID + 40;
    const c = await fx.client();
    // 777: shard 1's commit sleeps in its deferred trigger, long enough to be terminated there.
    const { commit } = await transfer(c, id, [10, 777]);
    await waitFor('shard 1 to be inside its COMMIT', async () => {
      const r = await one(
        s1,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%COMMIT%' AND wait_event = 'PgSleep'",
      );
      return r.length > 0;
    });
    expect((await commit)?.message).toMatch(/compensat/);
    await c.end();
    // A lost shard's outcome is decided by recovery from the commit marks; an error it answered is final at once.
    await waitFor('the compensation', async () => {
      await fx.proxy.compensationRecovery!.pass();
      // Newest first: this transaction's record, not the earlier test's.
      const [latest] = await compensations();
      const done = latest?.state === 'compensated' && latest.compensate.join() === s0 && latest.announced;
      return done && (await rowsWithId(s0, id)) === 0;
    });
    expect(await rowsWithId(s1, id + 1)).toBe(0);
    expect(await runsOf(s0, id)).toBe(1);
  });

  it("another proxy's recovery never compensates a shard whose COMMIT is still on its way", () =>
    expectInFlightCommitSpared({
      id: FIRST_ID + 50,
      side,
      async slowTransfer(id) {
        const c = await fx.client();
        // 778: shard 1's commit takes seconds (its deferred trigger sleeps), then succeeds.
        const { commit } = await transfer(c, id, [10, 778]);
        return { commit, finish: () => c.end() };
      },
      commitRunning: async () =>
        (await one(s1, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep'")).length > 0,
      proxyPorts: {},
      recoveryOf: (proxy) => proxy.compensationRecovery!,
    }));

  it("a write undone by ROLLBACK TO leaves no compensation: another transaction's row stays (two-phase commit)", async () => {
    const id = FIRST_ID + 70;
    const c = await fx.client();
    // Another transaction's row: the failed INSERT below must not be compensated by deleting it.
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 5)', [id, userOn0]);
    await c.query('BEGIN');
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 10)', [id + 1, userOn0]);
    await c.query('SAVEPOINT s');
    await expect(
      c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 10)', [id, userOn0]),
    ).rejects.toMatchObject({ code: '23505' });
    await c.query('ROLLBACK TO s');
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 666)', [id + 2, userOn1]);
    const err = await errorOf(c.query('COMMIT'));
    await c.end();
    expect(err?.message).toMatch(/rolled back on every shard/);
    expect(await rowsWithId(s0, id)).toBe(1);
    expect(await rowsWithId(s0, id + 1)).toBe(0);
    expect(await runsOf(s0, id)).toBe(0);
  });

  it('a write without a compensation (CALL) makes the transaction commit with two-phase commit', async () => {
    const id = FIRST_ID + 80;
    const c = await fx.client();
    await c.query('BEGIN');
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 10)', [id, userOn0]);
    await c.query('CALL sg_side_add($1)', [id]);
    await c.query('INSERT INTO balances (id, user_id, balance) VALUES ($1, $2, 666)', [id + 1, userOn1]);
    const err = await errorOf(c.query('COMMIT'));
    await c.end();
    // Not "undid what committed" while the CALL's row stays: nothing committed anywhere.
    expect(err?.message).toMatch(/rolled back on every shard/);
    expect(await rowsWithId(s0, id)).toBe(0);
    const side = async (server: string) =>
      (await one(server, 'SELECT id FROM sg_side WHERE id = $1', [id])).length;
    expect((await side(s0)) + (await side(s1))).toBe(0);
  });

  it('SET shardgate.cross_shard = two_phase commits with two-phase commit: nothing commits anywhere', async () => {
    const id = FIRST_ID + 20;
    const before = compensationEvents().length;
    const c = await fx.client();
    await c.query('SET shardgate.cross_shard = two_phase');
    const err = await failingTransfer(c, id);
    expect(err?.message).toMatch(/rolled back on every shard/);
    await c.end();
    expect(await side.outcome(id)).toEqual({ shard0Row: 0, shard1Row: 0, runs: 0 });
    expect(compensationEvents()).toHaveLength(before);
  });
});

describe('compensate mode recovery with many finished records', () => {
  it('finds a stuck record however many finished ones are newer', async () => {
    const stuck = 'sgcomp_stuck_1';
    const participants = JSON.stringify([{ server: s0, shard: fx.cluster.shards[0]!.name, statements: [] }]);
    const d = await fx.direct(s0);
    try {
      await d.query(
        `INSERT INTO shardgate.compensations (id, state, participants, created_at)
         VALUES ($1, 'committing', $2::jsonb, now() - interval '1 hour')`,
        [stuck, participants],
      );
      await d.query(
        `INSERT INTO shardgate.compensations (id, state, participants, announced_at)
         SELECT 'sgcomp_done_' || n, 'compensated', '[]'::jsonb, now() FROM generate_series(1, 1001) n`,
      );
      await fx.proxy.compensationRecovery!.pass();
      // No commit mark on its one shard: nothing had committed.
      const state = await d.query('SELECT state FROM shardgate.compensations WHERE id = $1', [stuck]);
      expect(state.rows[0]?.state).toBe('aborted');
    } finally {
      await d.query("DELETE FROM shardgate.compensations WHERE id LIKE 'sgcomp_done_%' OR id = $1", [stuck]);
      await d.end();
    }
  });
});

describeCompensateCrash({
  title: 'compensate mode across a proxy crash and restarts',
  id: FIRST_ID + 30,
  earlierId: FIRST_ID + 10,
  ...side.crashCaseReads(),
  async connect(proc) {
    const c = await childPgClient(proc);
    return { failingTransfer: (id) => failingTransfer(c, id), close: () => c.end().catch(() => undefined) };
  },
  proxyPorts: {},
  recoveryOf: (proxy) => proxy.compensationRecovery!,
});

// Last: it stops and starts shard 1's server.
let locker: pg.Client | null = null;
describeCompensateRetry({
  title: 'compensate mode: a compensation whose server is down is retried',
  id: FIRST_ID + 100,
  ...side.retryCaseReads(),
  killShard1: () => fx.cluster.killServer(s1),
  restartShard1: () => fx.cluster.restartServer(s1),
  async transferFailingOnShard0(id) {
    const c = await fx.client();
    try {
      // 666: refused by shard 0's deferred trigger at its COMMIT; shard 1 commits.
      const err = await (await transfer(c, id, [666, 10])).commit;
      return err && { code: err.code!, message: err.message! };
    } finally {
      await c.end();
    }
  },
  async lockCompensationOnShard1() {
    // The compensation's INSERT INTO sg_comp_runs waits for this lock; the connection dies with the server.
    locker = await fx.direct(s1);
    locker.on('error', () => undefined);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE sg_comp_runs IN ACCESS EXCLUSIVE MODE');
  },
  compensationWaitsOnShard1: async () =>
    (await one(s1, 'SELECT 1 FROM pg_locks WHERE NOT granted')).length > 0,
  fixtureRecovery: () => fx.proxy.compensationRecovery!,
  proxyPorts: {},
  recoveryOf: (proxy) => proxy.compensationRecovery!,
  incompleteCode: '40001',
});
