// A whole MySQL split through port 6033, driven by runMysqlSplit: copy, binlog capture, the
// cutover block at the shared gate, the routing switch to the halves, verification. Writers on
// 6033 run through all of it; afterwards every acknowledged write is there exactly once, nothing
// unacknowledged is, and reads of the moved range come from the halves, not the old server.
import type mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { countsVia } from '../support/mysql-migration-driver.js';
import { expectSwitchedToHalves, s0Primary, spareHalves, splitS0 } from '../support/mysql-split-targets.js';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 40 }, 180_000);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Inserts through the proxy; an id is acknowledged once its INSERT returned OK. */
function startWriter(c: mysql.Connection, base: number, users: number[]) {
  const acked: number[] = [];
  const failed: Array<{ id: number; errno: number | undefined; message: string }> = [];
  let stop = false;
  const done = (async () => {
    for (let n = 0; !stop; n++) {
      const id = base + n;
      try {
        await c.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [
          id,
          users[n % users.length],
        ]);
        acked.push(id);
      } catch (err) {
        failed.push({ id, errno: (err as { errno?: number }).errno, message: String(err) });
        // A connection that is gone fails at once: yield so the rest of the test runs.
        if (failed.length > 50) break;
        await sleep(10);
      }
    }
  })();
  return {
    acked,
    failed,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

describe('MySQL split with the routing switch', () => {
  it('splits s0 under writes on 6033: nothing lost, nothing doubled, reads from the halves', async () => {
    const s0 = s0Primary(fx);
    const { spares, targets } = await spareHalves(fx.cluster, ['-40', '40-80']);
    const users = Array.from({ length: 40 }, (_, i) => i + 1);
    const writers = await Promise.all(
      [0, 1, 2].map(async (i) => startWriter(await fx.connect(), 50_000_000 + i * 1_000_000, users)),
    );
    await sleep(300);
    const stopWriters = () => Promise.all(writers.map((w) => w.stop()));
    const result = await splitS0(fx, targets, {
      migrationId: 'mysql-split-test',
      serverId: 9101,
      deadlineMs: 10_000,
      catchUpTimeoutMs: 60_000,
    }).catch(async (err) => {
      await stopWriters();
      throw err;
    });
    await sleep(300);
    await stopWriters();
    const c = result.cutover;
    console.log(
      `mysql split: block ${c.blockMs.toFixed(1)} ms (drain ${c.drainMs.toFixed(1)}, catch-up ${c.catchUpMs.toFixed(1)}), ` +
        `held ${c.heldStatements} (max ${c.maxHeldMs.toFixed(1)} ms), aborted ${c.abortedTransactions}, ` +
        `copied ${result.copiedRows}, captured ${result.capturedChanges}`,
    );
    console.log('failed writes', JSON.stringify(writers.flatMap((w) => w.failed).slice(0, 5)));
    expectSwitchedToHalves(fx, result);

    // The ledger, read through the proxy (a scatter over s0a, s0b, s1): a row on two shards shows twice.
    const reader = await fx.connect();
    const seen = await countsVia(reader, 'SELECT id FROM likes WHERE id >= 50000000');
    const problems: string[] = [];
    let acked = 0;
    for (const w of writers) {
      acked += w.acked.length;
      for (const id of w.acked)
        if (seen.get(id) !== 1) problems.push(`acknowledged ${id} seen ${seen.get(id) ?? 0}x`);
      for (const f of w.failed)
        if (seen.has(f.id)) problems.push(`failed ${f.id} (errno ${f.errno}) present`);
    }
    const ackedIds = new Set(writers.flatMap((w) => w.acked));
    for (const id of seen.keys()) if (!ackedIds.has(id)) problems.push(`${id} present, never acknowledged`);
    expect(problems).toEqual([]);
    expect(acked).toBeGreaterThan(0);

    // Reads of the moved range come from the halves: a row written straight to the old server is
    // not seen, a row written through the proxy after the switch is on the half owning it.
    const u = users.find((id) => fx.owner(id) === 's0')!;
    const old = await fx.direct(s0.name);
    await old.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [60_000_001, u]);
    const [stale] = await reader.query(
      'SELECT count(*) AS n FROM likes WHERE id = 60000001 AND user_id = ?',
      [u],
    );
    expect(Number((stale as Array<{ n: number }>)[0]!.n)).toBe(0);
    await reader.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [60_000_002, u]);
    const onHalves = await Promise.all(
      spares.map(async (s) => {
        const [r] = await (await fx.direct(s.name)).query(
          'SELECT count(*) AS n FROM likes WHERE id = 60000002',
        );
        return Number((r as Array<{ n: number }>)[0]!.n);
      }),
    );
    expect(onHalves.sort()).toEqual([0, 1]);
  }, 240_000);
});
