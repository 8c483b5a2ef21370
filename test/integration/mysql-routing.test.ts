// Routing through the MySQL front end against 2 MariaDB shards x 1 replica, with mysql2: rows land
// on the shard that owns their key (checked on the servers directly), reads go where their
// consistency level allows (shown by @@server_id), read-your-writes holds by GTID under injected
// replica delay, and writes that would span shards are refused with MySQL errors.
import type { RowDataPacket } from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { useMysqlProxyFixture } from '../support/use-fixture.js';

const fx = useMysqlProxyFixture({
  shards: 2,
  replicas: 1,
  overrides: {
    routing: { lagPollIntervalMs: 20, readYourWritesWaitMs: 10 },
    observability: { enabled: true },
  },
});

beforeAll(async () => {
  // Let the lag monitor see every server once.
  await new Promise((r) => setTimeout(r, 300));
});

const serverId = (name: string) => {
  const s = fx.cluster.server(name);
  return s.serverId;
};

function userOn(shard: string, from = 1): number {
  for (let u = from; u < from + 1000; u++) if (fx.owner(u) === shard) return u;
  throw new Error(`no user on ${shard}`);
}

describe('sharding', () => {
  it('writes each row on the shard that owns its key', async () => {
    const c = await fx.connect();
    for (let u = 2000; u < 2040; u++) {
      await c.execute('INSERT INTO posts (id, user_id, title) VALUES (?, ?, ?)', [u * 10, u, `p${u}`]);
    }
    const onShard = async (server: string) => {
      const d = await fx.direct(server);
      const [rows] = await d.query<RowDataPacket[]>(
        'SELECT user_id FROM posts WHERE user_id >= 2000 AND user_id < 2040',
      );
      return rows.map((r) => Number(r.user_id));
    };
    const on0 = await onShard('s0-primary');
    const on1 = await onShard('s1-primary');
    expect(on0.length + on1.length).toBe(40);
    expect(on0.length).toBeGreaterThan(5);
    expect(on1.length).toBeGreaterThan(5);
    for (const u of on0) expect(fx.owner(u)).toBe('s0');
    for (const u of on1) expect(fx.owner(u)).toBe('s1');
  });

  it('splits a multi-row INSERT across shards outside a transaction (text and binary protocol)', async () => {
    const c = await fx.connect();
    const [r] = await c.query<RowDataPacket[]>(
      'INSERT INTO likes (id, user_id, post_id) VALUES (700001, 1, 1), (700002, 2, 1), (700003, 3, 1), (700004, 4, 1)',
    );
    expect((r as unknown as { affectedRows: number }).affectedRows).toBe(4);
    const [p] = await c.execute(
      'INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1), (?, ?, 1)',
      [700005, 5, 700006, 6],
    );
    expect((p as unknown as { affectedRows: number }).affectedRows).toBe(2);
    const [n] = await c.query<RowDataPacket[]>(
      'SELECT count(*) AS n FROM likes WHERE id BETWEEN 700001 AND 700006',
    );
    expect(Number(n[0]!.n)).toBe(6);
    for (const [id, user] of [
      [700001, 1],
      [700006, 6],
    ]) {
      const d = await fx.direct(`${fx.owner(user!)}-primary`);
      const [rows] = await d.query<RowDataPacket[]>('SELECT id FROM likes WHERE id = ?', [id]);
      expect(rows.length).toBe(1);
    }
  });

  it('refuses an UPDATE without a shard key with errno 1235', async () => {
    const c = await fx.connect();
    await expect(c.query("UPDATE posts SET title = 'x'")).rejects.toMatchObject({
      errno: 1235,
      sqlState: '42000',
    });
  });

  it('a transaction may span shards (two_phase, the default); a session that refuses is told, naming both', async () => {
    const c = await fx.connect();
    const a = userOn('s0');
    const b = userOn('s1');
    await c.query('BEGIN');
    await c.execute('SELECT * FROM posts WHERE user_id = ?', [a]);
    await c.execute('SELECT * FROM posts WHERE user_id = ?', [b]);
    await c.query('COMMIT');
    await c.query('SET shardgate.cross_shard = refuse');
    await c.query('BEGIN');
    await c.execute('SELECT * FROM posts WHERE user_id = ?', [a]);
    const err = await c
      .execute('SELECT * FROM posts WHERE user_id = ?', [b])
      .catch((e: { errno: number; message: string }) => e);
    expect((err as { errno: number }).errno).toBe(1235);
    expect((err as { message: string }).message).toMatch(/s0.*s1|s1.*s0/);
    await c.query('ROLLBACK');
  });

  it('keeps a transaction on one server and its writes invisible to others until COMMIT', async () => {
    const c = await fx.connect();
    const other = await fx.connect();
    // Another session's write is only promised to strong reads (read_your_writes covers one's own).
    await other.query('SET shardgate.consistency = strong');
    const u = userOn('s1', 300);
    await c.query('START TRANSACTION');
    await c.execute('INSERT INTO comments (id, user_id, body) VALUES (?, ?, ?)', [880001, u, 'tx']);
    const [inside] = await c.execute<RowDataPacket[]>(
      'SELECT body FROM comments WHERE user_id = ? AND id = 880001',
      [u],
    );
    expect(inside.length).toBe(1);
    const [outside] = await other.execute<RowDataPacket[]>(
      'SELECT body FROM comments WHERE user_id = ? AND id = 880001',
      [u],
    );
    expect(outside.length).toBe(0);
    await c.query('COMMIT');
    const [after] = await other.execute<RowDataPacket[]>(
      'SELECT body FROM comments WHERE user_id = ? AND id = 880001',
      [u],
    );
    expect(after.length).toBe(1);
  });
});

describe('consistency levels', () => {
  it('serves strong reads from the primary and eventual reads from the replica', async () => {
    const c = await fx.connect();
    const u = userOn('s0');
    const [strong] = await c.execute<RowDataPacket[]>(
      'SELECT @@server_id AS sid, count(*) AS n FROM users WHERE user_id = ?',
      [u],
    );
    expect(Number(strong[0]!.sid)).toBe(serverId('s0-primary'));
    const [eventual] = await c.execute<RowDataPacket[]>(
      'SELECT @@server_id AS sid, count(*) AS n FROM likes WHERE user_id = ?',
      [u],
    );
    expect(Number(eventual[0]!.sid)).toBe(serverId('s0-replica1'));
  });

  it('follows session context and comment hints', async () => {
    const c = await fx.connect();
    const u = userOn('s1');
    await c.query('SET shardgate.consistency = strong');
    const [forced] = await c.query<RowDataPacket[]>(
      `SELECT @@server_id AS sid FROM likes WHERE user_id = ${u}`,
    );
    expect(Number(forced[0]!.sid)).toBe(serverId('s1-primary'));
    const [shown] = await c.query<RowDataPacket[]>('SHOW shardgate.consistency');
    expect(Object.values(shown[0]!)[0]).toBe('strong');
    await c.query('SET shardgate.consistency = default');
    const [hinted] = await c.query<RowDataPacket[]>(
      `/* shardgate: role=primary */ SELECT @@server_id AS sid FROM likes WHERE user_id = ${u}`,
    );
    expect(Number(hinted[0]!.sid)).toBe(serverId('s1-primary'));
    const [plan] = await c.query<RowDataPacket[]>(
      `SHARDGATE EXPLAIN SELECT * FROM likes WHERE user_id = ${u}`,
    );
    expect(String(Object.values(plan[0]!)[0])).toContain('"shard": "s1"');
  });
});

describe('read-your-writes by GTID', () => {
  it('never reads its own write stale in 1,000 write/read pairs under injected replica delay', async () => {
    await Promise.all(['s0-replica1', 's1-replica1'].map((r) => fx.cluster.setReplicaDelay(r, 1)));
    const workers = 4;
    const perWorker = 250;
    let stale = 0;
    let replicaReads = 0;
    const replicaIds = new Set([serverId('s0-replica1'), serverId('s1-replica1')]);
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        const c = await fx.connect();
        const u = 5000 + w;
        const id = 900000 + w;
        await c.execute('INSERT INTO posts (id, user_id, title) VALUES (?, ?, ?)', [id, u, 'start']);
        for (let i = 0; i < perWorker; i++) {
          const title = `w${w}-${i}`;
          await c.execute('UPDATE posts SET title = ? WHERE user_id = ? AND id = ?', [title, u, id]);
          const [rows] = await c.execute<RowDataPacket[]>(
            'SELECT @@server_id AS sid, title FROM posts WHERE user_id = ? AND id = ?',
            [u, id],
          );
          if (rows[0]?.title !== title) stale++;
          if (replicaIds.has(Number(rows[0]?.sid))) replicaReads++;
        }
      }),
    );
    await Promise.all(['s0-replica1', 's1-replica1'].map((r) => fx.cluster.setReplicaDelay(r, 0)));
    expect(stale).toBe(0);
    // The wait ran out for most reads (MASTER_DELAY holds events up to a second): the primary served.
    expect(workers * perWorker - replicaReads).toBeGreaterThan(0);
  });

  it('reads from a replica once it has replayed the write (MASTER_GTID_WAIT)', async () => {
    await Promise.all(['s0-replica1', 's1-replica1'].map((r) => fx.cluster.waitForReplication(r)));
    const c = await fx.connect();
    const replicaIds = new Set([serverId('s0-replica1'), serverId('s1-replica1')]);
    let stale = 0;
    let replicaReads = 0;
    for (let i = 0; i < 100; i++) {
      const u = 6000 + (i % 7);
      await c.execute('INSERT INTO posts (id, user_id, title) VALUES (?, ?, ?)', [910000 + i, u, `r${i}`]);
      const [rows] = await c.execute<RowDataPacket[]>(
        'SELECT @@server_id AS sid, title FROM posts WHERE user_id = ? AND id = ?',
        [u, 910000 + i],
      );
      if (rows[0]?.title !== `r${i}`) stale++;
      if (replicaIds.has(Number(rows[0]?.sid))) replicaReads++;
    }
    expect(stale).toBe(0);
    expect(replicaReads).toBeGreaterThan(0);
  });
});

describe('multiple statements and results', () => {
  it('returns one result per statement when the client allows multi-statements', async () => {
    const c = await fx.connect({ multipleStatements: true });
    const u = userOn('s0');
    const [results] = await c.query<RowDataPacket[][]>(
      `SELECT 1 AS a; SELECT count(*) AS n FROM posts WHERE user_id = ${u}; SELECT 3 AS c`,
    );
    expect(results.length).toBe(3);
    expect(results[0]![0]!.a).toBe(1);
    expect(results[2]![0]!.c).toBe(3);
  });

  it('refuses several statements from a client that did not ask for them', async () => {
    const c = await fx.connect();
    await expect(c.query('SELECT 1; SELECT 2')).rejects.toMatchObject({ errno: 1064 });
    const [ok] = await c.query<RowDataPacket[]>('SELECT 1 AS one');
    expect(ok[0]!.one).toBe(1);
  });
});

describe('observability', () => {
  it('feeds statement metrics, latency per shard and hot keys from MySQL clients', async () => {
    const c = await fx.connect();
    for (let i = 0; i < 120; i++) {
      await c.execute('SELECT name FROM users WHERE user_id = ?', [i % 3 === 0 ? 42 : (i % 40) + 1]);
    }
    const tracker = fx.proxy.observability!.tracker;
    const users = tracker.hotKeys.topKeys(undefined, 50).filter((k) => k.table === 'users');
    expect(users[0]).toMatchObject({ table: 'users', value: '42' });
    expect(tracker.latency.shards().sort()).toEqual(expect.arrayContaining(['s0', 's1']));
    const text = await tracker.metrics.text();
    expect(text).toMatch(/shardgate_client_connections\{protocol="mysql"\} [1-9]/);
    expect(text).toMatch(/shardgate_statements_total\{[^}]*shard="s[01]"[^}]*\} \d+/);
  });
});
