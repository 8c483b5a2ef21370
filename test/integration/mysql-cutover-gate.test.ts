// The cutover block on port 6033, through the real proxy against real MariaDB: MySQL sessions
// take write admissions at the same gate as PostgreSQL sessions. Held writes wait and then run,
// writes on another shard and reads are not held, and a transaction that outlives the grace
// period is rolled back and reported with errno 1213 / SQLSTATE 40001 (never a silent commit).
import type mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { blockS0, holdS0, latch, settle, writingOnS0 } from '../support/cutover-block.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 4 }, 180_000);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function userOn(shard: string): number {
  for (let id = 1; id < 10_000; id++) if (fx.owner(id) === shard) return id;
  throw new Error(`no user on ${shard}`);
}

async function count(c: mysql.Connection, id: number): Promise<number> {
  const [rows] = await c.query('SELECT count(*) AS n FROM likes WHERE id = ?', [id]);
  return Number((rows as Array<{ n: number }>)[0]!.n);
}

const INSERT_LIKE = 'INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)';

describe('cutover block on the MySQL front end', () => {
  it('holds writes of the held shard until the block ends; other shards and reads pass', async () => {
    const held = userOn('s0');
    const free = userOn('s1');
    const [writer, prepared, other, reader] = await Promise.all([
      fx.connect(),
      fx.connect(),
      fx.connect(),
      fx.connect(),
    ]);
    // The block lasts until a read of the held shard and a write on the other one ran: were
    // either held, it would never end (and the deadline would abort it).
    const gate = holdS0(fx.proxy, { migrationId: 'm1', graceMs: 50, deadlineMs: 20_000 });
    const write = gate.logWhenDone(writer.query(INSERT_LIKE, [7_100_001, held]), 'write');
    const execute = gate.logWhenDone(prepared.execute(INSERT_LIKE, [7_100_002, held]), 'execute');
    await other.query(INSERT_LIKE, [7_100_003, free]);
    gate.events.push('other shard');
    const [rows] = await reader.query('SELECT count(*) AS n FROM likes WHERE user_id = ?', [held]);
    gate.events.push('read');
    expect(Number((rows as Array<{ n: number }>)[0]!.n)).toBeGreaterThanOrEqual(0);
    gate.release();
    await Promise.all([write, execute]);
    const report = await gate.report;
    expect(report.outcome).toBe('switched');
    expect(report.heldStatements).toBe(2);
    expect(gate.events.slice(0, 3)).toEqual(['other shard', 'read', 'switch']);
    expect(gate.events.slice(3).sort()).toEqual(['execute', 'write']);
    for (const id of [7_100_001, 7_100_002, 7_100_003]) expect(await count(reader, id)).toBe(1);
  });

  it('a write spanning the held shard and another waits too', async () => {
    const [a, b] = [userOn('s0'), userOn('s1')];
    const c = await fx.connect();
    let done = false;
    const released = latch();
    const block = blockS0(
      fx.proxy,
      { migrationId: 'm2', graceMs: 50, deadlineMs: 20_000 },
      () => released.opened,
    );
    const write = c
      .query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1), (?, ?, 1)', [
        7_200_001,
        a,
        7_200_002,
        b,
      ])
      .then(() => {
        done = true;
      });
    await sleep(300);
    const waitedDuringBlock = !done;
    released.open();
    await write;
    expect(waitedDuringBlock).toBe(true);
    expect((await block).heldStatements).toBe(1);
    expect(await count(c, 7_200_001)).toBe(1);
    expect(await count(c, 7_200_002)).toBe(1);
  });

  it('rolls back an idle write transaction past the grace period; COMMIT gets 1213 / 40001', async () => {
    const c = await writingOnS0(await fx.connect(), INSERT_LIKE, 7_300_001, userOn('s0'));
    const report = await blockS0(fx.proxy, { migrationId: 'm3', graceMs: 50, deadlineMs: 5_000 });
    expect(report.outcome).toBe('switched');
    expect(report.abortedTransactions).toBe(1);
    const commit = await settle(c.query('COMMIT'));
    expect(commit.ok).toBe(false);
    expect(!commit.ok && [commit.error.errno, commit.error.sqlState]).toEqual([1213, '40001']);
    // The session goes on, and the aborted insert never committed.
    expect(await count(c, 7_300_001)).toBe(0);
    await c.query(INSERT_LIKE, [7_300_002, userOn('s0')]);
    expect(await count(c, 7_300_002)).toBe(1);
  });

  it('stops a statement still running in a write transaction past the grace period', async () => {
    const c = await writingOnS0(await fx.connect(), INSERT_LIKE, 7_400_001, userOn('s0'));
    const slow = settle(c.query('SELECT SLEEP(10) FROM likes WHERE user_id = ? LIMIT 1', [userOn('s0')]));
    await sleep(200);
    const report = await blockS0(fx.proxy, { migrationId: 'm4', graceMs: 50, deadlineMs: 8_000 });
    expect(report.outcome).toBe('switched');
    await slow;
    const commit = await settle(c.query('COMMIT'));
    expect(!commit.ok && [commit.error.errno, commit.error.sqlState]).toEqual([1213, '40001']);
    expect(await count(c, 7_400_001)).toBe(0);
  });
});
