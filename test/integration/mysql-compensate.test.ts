// Compensate mode through the MySQL front end on real MariaDB servers (the coordinator and
// recovery are the PostgreSQL side's; test/integration/pg-compensate.test.ts): a data type with
// crossShard: compensate commits each shard on its own, no XA PREPARE; when shard 1 refuses its
// commit (a trigger on its commit mark) after shard 0 committed, shard 0 is undone by the
// declared compensating statement exactly once, one event goes to the webhook, the outcome is in
// /api/transactions and the metric; a proxy killed after the first commit leaves a record the
// next proxy compensates once; a further proxy on the same state runs nothing again.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlLiteral } from '../../src/transactions/compensation-template.js';
import { childMysqlConnection } from '../support/child-clients.js';
import { describeCompensateCrash } from '../support/compensate-crash.js';
import { expectInFlightCommitSpared } from '../support/compensate-in-flight.js';
import { describeCompensateRetry } from '../support/compensate-retry.js';
import { CompensateSide, errorOf, startTransfer } from '../support/compensate-setup.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { txnCli } from '../support/txn-cli.js';
import { waitFor as pollUntil } from '../support/wait-for.js';

const TOKEN = 'mysql-compensate-admin-token';
const FIRST_ID = 8_500_000;

let fx: MysqlProxyFixture;
let s0: string;
let s1: string;
let userOn0: number;
let userOn1: number;

const waitFor = (what: string, check: () => Promise<boolean>, ms = 30_000) => pollUntil(what, check, ms, 100);

async function one(server: string, sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  const d = await fx.direct(server);
  try {
    return (await d.query<RowDataPacket[]>(sql, params))[0];
  } finally {
    await d.end();
  }
}

const rowsWithId = async (server: string, id: number) =>
  (await one(server, 'SELECT id FROM shardgate.balances WHERE id = ?', [id])).length;
const runsOf = async (server: string, id: number) =>
  (await one(server, 'SELECT id FROM shardgate.sg_comp_runs WHERE id = ?', [id])).length;
const preparedOn = async (server: string) => (await one(server, 'XA RECOVER')).length;
const side = new CompensateSide(TOKEN, () => fx, rowsWithId, runsOf);
const compensationEvents = () => side.events();
const compensations = () => side.compensations();

// The INSERTs as prepared statements, BEGIN and COMMIT as text.
const run = (c: mysql.Connection) => (sql: string, params?: unknown[]) =>
  params ? c.execute(sql, params as number[]) : c.query(sql);
const INSERT_BALANCE = 'INSERT INTO balances (id, user_id, balance) VALUES (?, ?, ?)';

/**
 * BEGIN, a row `id` on shard 0 and a row `id + 1` on shard 1 with these balances (666 makes shard
 * 1's commit mark refused, 778 slow; see the triggers below), then COMMIT sent; `commit` is what
 * it ends with (wrapped: the caller may act while it runs).
 */
const transfer = (c: mysql.Connection, id: number, balances: [number, number]) =>
  startTransfer(run(c), INSERT_BALANCE, id, [userOn0, userOn1], balances);

/** A transfer whose shard 1 refuses its COMMIT after shard 0 committed: what the COMMIT ended with. */
const failingTransfer = async (c: mysql.Connection, id: number) => (await transfer(c, id, [10, 666])).commit;

beforeAll(async () => {
  fx = await startMysqlProxyFixture({
    shards: 2,
    replicas: 0,
    admin: true,
    overrides: await side.overrides(),
  });
  s0 = fx.cluster.shards[0]!.primary.name;
  s1 = fx.cluster.shards[1]!.primary.name;
  const firstUser = async (server: string) =>
    Number((await one(server, 'SELECT min(user_id) AS u FROM shardgate.users'))[0]!.u);
  userOn0 = await firstUser(s0);
  userOn1 = await firstUser(s1);
  for (const server of [s0, s1]) {
    await one(server, 'CREATE TABLE shardgate.sg_comp_runs (id bigint NOT NULL) ENGINE=InnoDB');
    // A write the router has no compensation for (CALL): the transaction must use two-phase commit.
    await one(server, 'CREATE TABLE shardgate.sg_side (id bigint NOT NULL) ENGINE=InnoDB');
    await one(
      server,
      'CREATE PROCEDURE shardgate.sg_side_add(v bigint) INSERT INTO shardgate.sg_side (id) VALUES (v)',
    );
  }
}, 180_000);

afterAll(async () => {
  await fx?.stop();
  side.close();
});

describe('compensate mode (MySQL)', () => {
  it('commits both shards on their own when nothing fails (no XA transaction prepared)', async () => {
    const c = await fx.connect();
    expect(await (await transfer(c, FIRST_ID, [1, 1])).commit).toBeNull();
    expect(await side.outcome(FIRST_ID)).toEqual({ shard0Row: 1, shard1Row: 1, runs: 0 });
    expect(await preparedOn(s0)).toBe(0);
    expect(await preparedOn(s1)).toBe(0);
    // Both shards hold their commit mark; the record is gone once every shard committed.
    expect(
      (await one(s1, "SELECT id FROM shardgate_twopc.compensation_marks WHERE kind = 'commit'")).length,
    ).toBe(1);
    await waitFor('the record to be deleted', async () => (await compensations()).length === 0);
    // Shard 1 refuses a commit mark once its transaction wrote balance 666 (the failure to come);
    // with balance 778 its mark (so its COMMIT) takes seconds, then succeeds.
    await one(
      s1,
      `CREATE TRIGGER shardgate_twopc.sg_refuse_666 BEFORE INSERT ON shardgate_twopc.compensation_marks
       FOR EACH ROW BEGIN
         IF NEW.kind = 'commit' AND NEW.fenced = 0 AND EXISTS (SELECT 1 FROM shardgate.balances WHERE balance = 666) THEN
           SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'balance 666 refused at commit';
         END IF;
       END`,
    );
    // After the mark's insert: its key is taken (a fence waits for it) while the COMMIT waits.
    await one(
      s1,
      `CREATE TRIGGER shardgate_twopc.sg_slow_778 AFTER INSERT ON shardgate_twopc.compensation_marks
       FOR EACH ROW BEGIN
         IF NEW.kind = 'commit' AND NEW.fenced = 0 AND EXISTS (SELECT 1 FROM shardgate.balances WHERE balance = 778) THEN
           DO SLEEP(4);
         END IF;
       END`,
    );
  });

  it('a shard failing at COMMIT after the other committed: compensated once, one event, in /api/transactions', async () => {
    const id = FIRST_ID + 10;
    const c = await fx.connect();
    const err = await failingTransfer(c, id);
    expect(err?.errno).toBe(1213);
    expect(err?.message).toMatch(/undid what committed/);
    // The session is usable after the error, outside any transaction.
    const [after] = await c.query<RowDataPacket[]>('SELECT @@in_transaction AS t');
    expect(Number(after[0]!.t)).toBe(0);
    expect(await side.outcome(id)).toEqual({ shard0Row: 0, shard1Row: 0, runs: 1 });
    expect(await preparedOn(s1)).toBe(0);
    const record = await side.expectFirstCompensated(s0);
    // Recovery passes find it finished: nothing runs again.
    await fx.proxy.mysql!.compensationRecovery!.pass();
    expect(await runsOf(s0, id)).toBe(1);
    // shardgate txn list shows it; the PostgreSQL side's log (its port is closed here) is named as unreadable.
    const { out } = await txnCli(fx.proxy.admin!.port, TOKEN, 'list');
    expect(out).toContain(record.id);
    expect(out).toMatch(/the postgres compensation log could not be read/);
  });

  it('autocommit=0 (no BEGIN): the first write is compensated like the others', async () => {
    const id = FIRST_ID + 60;
    const c = await fx.connect();
    await c.query('SET autocommit = 0');
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 10)', [id, userOn0]);
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 666)', [id + 1, userOn1]);
    const err = await errorOf(c.query('COMMIT'));
    expect(err?.message).toMatch(/undid what committed/);
    expect(await side.outcome(id)).toEqual({ shard0Row: 0, shard1Row: 0, runs: 1 });
  });

  it('fills template values as MariaDB literals that read back the same with or without NO_BACKSLASH_ESCAPES', async () => {
    const values = ["it's", 'a \\ back\\slash', "end\\'", 'é\\n'];
    const d = await fx.direct(s0);
    try {
      for (const mode of ['', 'NO_BACKSLASH_ESCAPES']) {
        await d.query(`SET SESSION sql_mode = '${mode}'`);
        for (const v of values) {
          const [rows] = await d.query<RowDataPacket[]>(`SELECT ${mysqlLiteral(v)} AS v`);
          expect(String(rows[0]!.v)).toBe(v);
        }
      }
    } finally {
      await d.end();
    }
  });

  it("another proxy's recovery never compensates a shard whose COMMIT is still on its way", () =>
    expectInFlightCommitSpared({
      id: FIRST_ID + 50,
      side,
      async slowTransfer(id) {
        const c = await fx.connect();
        const { commit } = await transfer(c, id, [10, 778]);
        // No 778 row left behind: later commit marks on shard 1 do not wait.
        return {
          commit,
          finish: () => c.query('DELETE FROM balances WHERE id = ? AND user_id = ?', [id + 1, userOn1]),
        };
      },
      commitRunning: async () =>
        (await one(s1, "SELECT id FROM information_schema.processlist WHERE state = 'User sleep'")).length >
        0,
      proxyPorts: { mysqlPort: 0 },
      recoveryOf: (proxy) => proxy.mysql!.compensationRecovery!,
    }));

  it("a failed INSERT leaves no compensation: the compensation spares another transaction's row", async () => {
    const id = FIRST_ID + 70;
    const c = await fx.connect();
    // Another transaction's row: the duplicate INSERT below fails and must not be compensated.
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 5)', [id, userOn0]);
    await c.query('BEGIN');
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 10)', [id + 1, userOn0]);
    await expect(
      c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 10)', [id, userOn0]),
    ).rejects.toMatchObject({ errno: 1062 });
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 666)', [id + 2, userOn1]);
    const err = await errorOf(c.query('COMMIT'));
    await c.end();
    expect(err?.message).toMatch(/undid what committed/);
    expect(await rowsWithId(s0, id + 1)).toBe(0);
    expect(await rowsWithId(s0, id)).toBe(1);
    expect(await runsOf(s0, id)).toBe(0);
    expect(await runsOf(s0, id + 1)).toBe(1);
  });

  it('a write without a compensation (CALL) makes the transaction commit with XA two-phase commit', async () => {
    const id = FIRST_ID + 80;
    const c = await fx.connect();
    await c.query('BEGIN');
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 10)', [id, userOn0]);
    await c.query('CALL sg_side_add(?)', [id]);
    await c.execute('INSERT INTO balances (id, user_id, balance) VALUES (?, ?, 666)', [id + 1, userOn1]);
    // Balance 666 is refused only by shard 1's commit mark, which two-phase commit does not write.
    expect(await errorOf(c.query('COMMIT'))).toBeNull();
    expect(await rowsWithId(s0, id)).toBe(1);
    expect(await runsOf(s0, id)).toBe(0);
    // Leave no 666 row behind for the crash test's refusal to depend on.
    await c.query('DELETE FROM balances WHERE id = ? AND user_id = ?', [id + 1, userOn1]);
    await c.end();
  });

  it('SET shardgate.cross_shard = two_phase commits with XA two-phase commit: no commit mark, nothing compensated', async () => {
    const id = FIRST_ID + 20;
    const before = compensationEvents().length;
    const c = await fx.connect();
    await c.query('SET shardgate.cross_shard = two_phase');
    // Balance 666 is refused only by shard 1's commit mark, which two-phase commit does not write.
    expect(await failingTransfer(c, id)).toBeNull();
    expect(await side.outcome(id)).toEqual({ shard0Row: 1, shard1Row: 1, runs: 0 });
    expect(compensationEvents()).toHaveLength(before);
    // Leave no 666 row behind for the crash test's refusal to depend on.
    await c.query('DELETE FROM balances WHERE id = ? AND user_id = ?', [id + 1, userOn1]);
  });
});

describeCompensateCrash({
  title: 'compensate mode (MySQL) across a proxy crash and restarts',
  id: FIRST_ID + 30,
  earlierId: FIRST_ID + 10,
  ...side.crashCaseReads(),
  async connect(proc) {
    const c = await childMysqlConnection(proc);
    return {
      failingTransfer: (id) => failingTransfer(c, id),
      close: async () => c.destroy(),
    };
  },
  proxyPorts: { mysqlPort: 0 },
  recoveryOf: (proxy) => proxy.mysql!.compensationRecovery!,
});

// Last: it stops and starts shard 1's server.
let locker: mysql.Connection | null = null;
describeCompensateRetry({
  title: 'compensate mode (MySQL): a compensation whose server is down is retried',
  id: FIRST_ID + 100,
  ...side.retryCaseReads(),
  killShard1: () => fx.cluster.killServer(s1),
  restartShard1: () => fx.cluster.restartServer(s1),
  async transferFailingOnShard0(id) {
    // Shard 0 refuses a commit mark once its transaction wrote balance 665; shard 1 commits.
    await fx.proxy.mysql!.compensations.ready([s0, s1]);
    await one(
      s0,
      `CREATE TRIGGER IF NOT EXISTS shardgate_twopc.sg_refuse_665 BEFORE INSERT ON shardgate_twopc.compensation_marks
       FOR EACH ROW BEGIN
         IF NEW.kind = 'commit' AND NEW.fenced = 0 AND EXISTS (SELECT 1 FROM shardgate.balances WHERE balance = 665) THEN
           SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'balance 665 refused at commit';
         END IF;
       END`,
    );
    const c = await fx.connect();
    try {
      const err = await (await transfer(c, id, [665, 10])).commit;
      return err && { code: String(err.errno), message: err.message! };
    } finally {
      c.destroy();
    }
  },
  async lockCompensationOnShard1() {
    // The compensation's INSERT INTO sg_comp_runs waits for this lock; the connection dies with the server.
    locker = await fx.direct(s1);
    locker.on('error', () => undefined);
    await locker.query('LOCK TABLES shardgate.sg_comp_runs WRITE');
  },
  compensationWaitsOnShard1: async () =>
    (await one(s1, "SELECT id FROM information_schema.processlist WHERE state LIKE 'Waiting for table%'"))
      .length > 0,
  fixtureRecovery: () => fx.proxy.mysql!.compensationRecovery!,
  proxyPorts: { mysqlPort: 0 },
  recoveryOf: (proxy) => proxy.mysql!.compensationRecovery!,
  incompleteCode: '1180',
});
