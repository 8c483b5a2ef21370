// The cutover block as clients see it, through the real proxy with node-postgres: held writes
// wait and then succeed, in-flight transactions past the grace period get 40001 (never a silent
// ROLLBACK on COMMIT), reads keep flowing, and a missed deadline leaves the shard taking writes.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import { blockS0, holdS0, settle, writingOnS0 } from '../support/cutover-block.js';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture({ shards: 2, replicas: 0 }, 120_000);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A user id whose rows live on shard s0. */
function userOn(shard: string): number {
  const shards = fx.proxy.topology.shardList().map((s) => ({ name: s.name, range: s.range }));
  for (let id = 1; id < 10_000; id++) {
    if (
      shardForValue(
        { keyType: 'int', method: 'hash', ranges: [], lists: {} } as never,
        String(id),
        shards,
      ) === shard
    )
      return id;
  }
  throw new Error('no user found');
}

const INSERT_LIKE = 'INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)';

describe('cutover block through the proxy', () => {
  it('holds a write until the switch, then runs it; reads are not held', async () => {
    const user = userOn('s0');
    const writer = await fx.client();
    const reader = await fx.client();
    // The block waits for a read of the held shard: were reads held too, it would never end.
    const held = holdS0(fx.proxy, { migrationId: 't1', graceMs: 50, deadlineMs: 10_000 });
    const write = held.logWhenDone(writer.query(INSERT_LIKE, [9_000_001, user]), 'write');
    const read = await reader.query('SELECT count(*)::int AS n FROM likes WHERE user_id = $1', [user]);
    held.events.push('read');
    held.release();
    expect(read.rows[0].n).toBeGreaterThanOrEqual(0);
    await write;
    expect(held.events).toEqual(['read', 'switch', 'write']);
    const report = await held.report;
    expect(report.outcome).toBe('switched');
    expect(report.heldStatements).toBe(1);
    const check = await writer.query('SELECT count(*)::int AS n FROM likes WHERE id = 9000001');
    expect(check.rows[0].n).toBe(1);
  });

  it('aborts an idle in-flight transaction past the grace period with 40001, also on COMMIT', async () => {
    const c = await writingOnS0(await fx.client(), INSERT_LIKE, 9_000_002, userOn('s0'));
    const report = await blockS0(fx.proxy, { migrationId: 't2', graceMs: 50, deadlineMs: 2_000 });
    expect(report.abortedTransactions).toBe(1);
    const commit = await settle(c.query('COMMIT'));
    expect(commit.ok).toBe(false);
    expect(!commit.ok && commit.error.code).toBe('40001');
    await c.query('ROLLBACK');
    // The session is usable again, and the aborted insert never committed.
    const r = await c.query('SELECT count(*)::int AS n FROM likes WHERE id = 9000002');
    expect(r.rows[0].n).toBe(0);
  });

  it('cancels a statement still running past the grace period; the client sees 40001', async () => {
    const c = await writingOnS0(await fx.client(), INSERT_LIKE, 9_000_003, userOn('s0'));
    const slow = settle(c.query('SELECT pg_sleep(5)'));
    await sleep(100);
    const report = await blockS0(fx.proxy, { migrationId: 't3', graceMs: 50, deadlineMs: 3_000 });
    const r = await slow;
    expect(!r.ok && r.error.code).toBe('40001');
    expect(report.outcome).toBe('switched');
    await c.query('ROLLBACK');
    const n = await c.query('SELECT count(*)::int AS n FROM likes WHERE id = 9000003');
    expect(n.rows[0].n).toBe(0);
  });

  it('past the deadline the block aborts and held writes run on the old shard', async () => {
    const user = userOn('s0');
    const c: pg.Client = await fx.client();
    const block = blockS0(fx.proxy, { migrationId: 't4', graceMs: 20, deadlineMs: 100 }, () => sleep(5_000));
    const write = c.query(INSERT_LIKE, [9_000_004, user]);
    const report = await block;
    await write;
    expect(report.outcome).toBe('aborted');
    expect(report.reason).toMatch(/deadline/);
    const direct = await fx.direct(fx.cluster.shards[0]!.primary.name);
    const r = await direct.query('SELECT count(*)::int AS n FROM likes WHERE id = 9000004');
    expect(r.rows[0].n).toBe(1);
  });
});
