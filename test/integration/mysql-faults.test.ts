import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectMysqlShardUnreachable,
  mysqlFailure as failure,
  mysqlLikesOf as likesOf,
  mysqlHealth,
  resumeServers,
  startMysqlFaultFixture,
  useTwinProxy,
  watchMysqlClose as watchClose,
} from '../support/fault-helpers.js';
import type { MysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

let fx: MysqlProxyFixture;
const health = (server: string) => mysqlHealth(fx.proxy, server);

async function killOn(server: string, thread: number): Promise<void> {
  const d = await fx.direct(server);
  await d.query(`KILL ${thread}`);
  await d.end();
}

beforeAll(async () => {
  fx = await startMysqlFaultFixture();
  await waitFor('every server probed', () =>
    fx.proxy.mysql!.topology.monitor.health().every((h) => h.position !== null),
  );
}, 240_000);

afterAll(async () => {
  resumeServers(fx, ['s0-replica1', 's0-replica2']);
  await fx?.stop();
});

describe('transaction pooling: client sessions outlive server connections', () => {
  it('fails only the transaction when its server connection is killed; ROLLBACK ends it; the session goes on', async () => {
    const c = await fx.connect();
    const watch = watchClose(c);
    await c.query('BEGIN');
    const [rows] = await c.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
    await killOn('s0-primary', Number(rows[0]!.id));
    const lost = await failure(c.query('SELECT count(*) AS n FROM users'));
    expect(lost.errno).toBe(1213);
    expect(lost.message).toMatch(/lost inside the transaction.*ROLLBACK, then retry the transaction/);
    // Never silently on in autocommit: the transaction is gone until the client ends it.
    const again = await failure(c.query('INSERT INTO likes (id, user_id, post_id) VALUES (990001, 1, 1)'));
    expect(again.errno).toBe(1213);
    await c.query('ROLLBACK');
    const [after] = await c.query<RowDataPacket[]>('SELECT count(*) AS n FROM likes WHERE id = 990001');
    expect(Number(after[0]!.n)).toBe(0);
    expect(watch.closed).toBe(false);
  });

  it('runs a read again on another server when its server ends the connection mid-query', async () => {
    const c = await fx.connect();
    const watch = watchClose(c);
    const expected = await likesOf(await fx.direct('s0-primary'), 3);
    const retriesBefore = fx.proxy.mysql!.topology.faultCounters.readRetries;
    const marker = `SELECT SLEEP(1) AS s, count(*) AS n FROM likes WHERE user_id = 3 /* retry-${Date.now()} */`;
    const running = c.query<RowDataPacket[]>(marker);
    let victim: { server: string; id: number } | null = null;
    const directs = await Promise.all(['s0-replica1', 's0-replica2'].map((s) => fx.direct(s)));
    await waitFor('the read running on a replica', async () => {
      for (const [i, d] of directs.entries()) {
        const [p] = await d.query<RowDataPacket[]>(
          "SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(1) AS s%retry-%'",
        );
        if (p[0]) victim = { server: `s0-replica${i + 1}`, id: Number(p[0].id) };
      }
      return victim !== null;
    });
    await killOn(victim!.server, victim!.id);
    const [result] = await running;
    expect(Number(result[0]!.n)).toBe(expected);
    expect(fx.proxy.mysql!.topology.faultCounters.readRetries).toBeGreaterThan(retriesBefore);
    expect(health(victim!.server).shunsTotal).toBeGreaterThan(0);
    expect(watch.closed).toBe(false);
    await waitFor(`${victim!.server} back in rotation`, () => health(victim!.server).healthy);
  }, 60_000);

  it('kill -9 of a replica under an eventual-read load: no session closed, no client error; shunned at once', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => fx.connect()));
    const watches = clients.map(watchClose);
    let stop = false;
    let errors = 0;
    let readsAfter = 0;
    let killed = false;
    const samples: string[] = [];
    const loops = clients.map(async (c, i) => {
      for (let n = 0; !stop; n++) {
        try {
          await c.query('SELECT count(*) AS n FROM likes WHERE user_id = ?', [((i * 7 + n) % 50) + 1]);
          if (killed) readsAfter++;
        } catch (err) {
          errors++;
          if (samples.length < 5) samples.push(String((err as Error).message));
        }
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    await fx.cluster.killServer('s0-replica1');
    killed = true;
    await waitFor('s0-replica1 shunned', () => health('s0-replica1').shunned);
    await waitFor('reads after the kill', () => readsAfter >= 300);
    stop = true;
    await Promise.all(loops);
    expect(samples).toEqual([]);
    expect(errors).toBe(0);
    expect(watches.filter((w) => w.closed)).toHaveLength(0);
    await fx.cluster.restartServer('s0-replica1');
    await waitFor(
      's0-replica1 back in rotation',
      () => health('s0-replica1').healthy && !health('s0-replica1').shunned,
    );
  }, 120_000);

  it('fails a statement on a server that stops answering (SIGSTOP) instead of hanging; reads go elsewhere', async () => {
    const c = await fx.connect();
    const watch = watchClose(c);
    const expected = await likesOf(await fx.direct('s0-primary'), 4);
    // Both replicas hang: a read in flight on either one must come back, from the primary.
    const inflight = Array.from({ length: 4 }, () => fx.connect());
    const readers = await Promise.all(inflight);
    await fx.cluster.freezeServer('s0-replica1');
    await fx.cluster.freezeServer('s0-replica2');
    const answers = await Promise.all(readers.map((r) => likesOf(r, 4)));
    expect(answers).toEqual(readers.map(() => expected));
    await waitFor(
      'both replicas shunned',
      () => health('s0-replica1').shunned && health('s0-replica2').shunned,
    );
    expect(await likesOf(c, 4)).toBe(expected);
    fx.cluster.signalServer('s0-replica1', 'SIGCONT');
    fx.cluster.signalServer('s0-replica2', 'SIGCONT');
    await waitFor(
      'replicas back in rotation',
      () => health('s0-replica1').healthy && health('s0-replica2').healthy,
    );
    expect(watch.closed).toBe(false);
  }, 120_000);
});

describe('session pooling: the client sees what a direct client would', () => {
  const sessionProxy = useTwinProxy(() => fx, 'mysql', { pool: { mode: 'session' } });

  it('closes the client whose server connection was killed, as the server would', async () => {
    const c = await fx.connect({ port: sessionProxy().mysql!.port });
    const watch = watchClose(c);
    const [rows] = await c.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
    await killOn('s0-primary', Number(rows[0]!.id));
    await waitFor('the client closed', () => watch.closed, 10_000);
  });
});

describe('kill -9 of every server of the shard', () => {
  it('gives clear coded errors; the session survives and works again when the servers are back', async () => {
    const reader = await fx.connect();
    const writer = await fx.connect();
    const watches = [watchClose(reader), watchClose(writer)];
    const before = await likesOf(reader, 1);
    const servers = ['s0-primary', 's0-replica1', 's0-replica2'];
    for (const s of servers) await fx.cluster.killServer(s);
    await expectMysqlShardUnreachable(
      () => likesOf(reader, 1),
      () => writer.query('INSERT INTO likes (id, user_id, post_id) VALUES (990005, 1, 1)'),
    );
    for (const s of servers) await fx.cluster.restartServer(s);
    await waitFor('every server back in rotation', () => servers.every((s) => health(s).healthy), 60_000);
    await writer.query('INSERT INTO likes (id, user_id, post_id) VALUES (990005, 1, 1)');
    await waitFor('the write replicated', async () => (await likesOf(reader, 1)) === before + 1);
    expect(watches.filter((w) => w.closed)).toHaveLength(0);
  }, 180_000);
});

describe('a primary that dies, a replica promoted, the old primary back', () => {
  // A second shardgate on the same servers that holds writes through the failover.
  const holding = useTwinProxy(() => fx, 'mysql', {
    routing: { holdWritesOnPrimaryLossMs: 60_000 },
    adminPort: 0,
  });

  it('keeps eventual reads going, fails writes retryably (or holds them), follows the promotion and fences the old primary', async () => {
    const reader = await fx.connect();
    const writer = await fx.connect();
    const heldWriter = await fx.connect({ port: holding().mysql!.port });
    const watches = [watchClose(reader), watchClose(writer), watchClose(heldWriter)];
    await writer.query('INSERT INTO likes (id, user_id, post_id) VALUES (990010, 1, 1)');
    await heldWriter.query('INSERT INTO likes (id, user_id, post_id) VALUES (990020, 1, 1)');
    await fx.cluster.killServer('s0-primary');
    await waitFor('s0-primary shunned', () => health('s0-primary').shunned);
    // Reads at eventual, weak and bounded levels go on from the replicas.
    const leveled = await Promise.all(['weak', 'bounded'].map(() => fx.connect()));
    await leveled[0]!.query('SET shardgate.consistency = weak');
    await leveled[1]!.query('SET shardgate.consistency = bounded');
    for (const c of [reader, ...leveled]) for (let i = 0; i < 30; i++) await likesOf(c, (i % 50) + 1);
    const refused = await failure(
      writer.query('INSERT INTO likes (id, user_id, post_id) VALUES (990011, 1, 1)'),
    );
    // 2003 (cannot reach) or 1213/1180 (lost): each says what to do.
    expect([2003, 1213, 1180]).toContain(refused.errno);
    expect(refused.message).toMatch(/retry|check before retrying/);
    // Held, not failed: it runs once the shard has a primary again.
    let heldDone = false;
    const held = heldWriter
      .query('INSERT INTO likes (id, user_id, post_id) VALUES (990021, 1, 1)')
      .finally(() => {
        heldDone = true;
      });
    await waitFor('the holding proxy to see the primary down', () =>
      holding()
        .mysql!.topology.monitor.health()
        .some((h) => h.name === 's0-primary' && h.shunned),
    );
    expect(heldDone).toBe(false);
    // The admin API shows it out of rotation, and why.
    const shards = (await (
      await fetch(`http://127.0.0.1:${holding().admin!.port}/api/mysql/shards`)
    ).json()) as Array<{ servers: Array<{ name: string; shunned: boolean; shunReason: string | null }> }>;
    const down = shards[0]!.servers.find((x) => x.name === 's0-primary')!;
    expect(down.shunned).toBe(true);
    expect(down.shunReason).toBeTruthy();
    // Promote s0-replica1 by hand, as an operator would.
    const promoted = await fx.direct('s0-replica1');
    await promoted.query('STOP SLAVE');
    await promoted.query('RESET SLAVE ALL');
    await promoted.query('SET GLOBAL read_only = OFF');
    await waitFor('writes accepted again', async () => {
      try {
        await writer.query('INSERT INTO likes (id, user_id, post_id) VALUES (990012, 1, 1)');
        return true;
      } catch {
        return false;
      }
    });
    const [landed] = await promoted.query<RowDataPacket[]>(
      'SELECT count(*) AS n FROM likes WHERE id = 990012',
    );
    expect(Number(landed[0]!.n)).toBe(1);
    await held;
    const [heldLanded] = await promoted.query<RowDataPacket[]>(
      'SELECT count(*) AS n FROM likes WHERE id = 990021',
    );
    expect(Number(heldLanded[0]!.n)).toBe(1);
    // The old primary comes back writable, replicating from nobody: fenced, never written to.
    await fx.cluster.restartServer('s0-primary');
    await waitFor('the old primary fenced', () => {
      const h = health('s0-primary');
      return h.role === 'replica' && h.shunned && /reports it is a primary/.test(h.shunReason ?? '');
    });
    await writer.query('INSERT INTO likes (id, user_id, post_id) VALUES (990013, 1, 1)');
    const old = await fx.direct('s0-primary');
    const [stray] = await old.query<RowDataPacket[]>(
      'SELECT count(*) AS n FROM likes WHERE id IN (990012, 990013)',
    );
    expect(Number(stray[0]!.n)).toBe(0);
    for (let i = 0; i < 20; i++) await likesOf(reader, (i % 50) + 1);
    expect(watches.filter((w) => w.closed)).toHaveLength(0);
  }, 180_000);
});
