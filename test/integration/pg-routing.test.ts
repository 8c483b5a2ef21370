// Routing against the 2-shard topology: rows land on the shard that owns their key, reads go where
// their consistency level allows (shown by inet_server_port()), read-your-writes holds under
// injected replica lag, and session context and hints route as specified.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

let fx: ProxyFixture;
const port = (name: string) => fx.cluster.server(name).port;

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 2, replicas: 1 });
  // Let the lag monitor see every server once.
  await new Promise((r) => setTimeout(r, 300));
});

afterAll(async () => {
  await fx?.stop();
});

function owner(userId: number): string {
  const shards = fx.config.shards.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange) }));
  return shardForValue(fx.config.tables.posts!, String(userId), shards);
}

describe('sharding', () => {
  it('writes each row on the shard that owns its key', async () => {
    const c = await fx.client();
    for (let u = 1000; u < 1040; u++) {
      await c.query('INSERT INTO posts (id, user_id, title) VALUES ($1, $2, $3)', [u * 10, u, `p${u}`]);
    }
    const s0 = await fx.direct('s0-primary');
    const s1 = await fx.direct('s1-primary');
    const on0 = (
      await s0.query('SELECT user_id FROM posts WHERE user_id >= 1000 AND user_id < 1040')
    ).rows.map((r) => Number(r.user_id));
    const on1 = (
      await s1.query('SELECT user_id FROM posts WHERE user_id >= 1000 AND user_id < 1040')
    ).rows.map((r) => Number(r.user_id));
    expect(on0.length + on1.length).toBe(40);
    expect(on0.length).toBeGreaterThan(5);
    expect(on1.length).toBeGreaterThan(5);
    for (const u of on0) expect(owner(u)).toBe('s0');
    for (const u of on1) expect(owner(u)).toBe('s1');
  });

  it('splits a multi-row INSERT across shards outside a transaction', async () => {
    const c = await fx.client();
    const r = await c.query(
      'INSERT INTO likes (id, user_id, post_id) VALUES (700001, 1, 1), (700002, 2, 1), (700003, 3, 1), (700004, 4, 1)',
    );
    expect(r.rowCount).toBe(4);
    const n = await c.query('SELECT count(*)::int AS n FROM likes WHERE id BETWEEN 700001 AND 700004');
    expect(n.rows[0]?.n).toBe(4);
  });

  it('refuses an UPDATE without a shard key with 0A000', async () => {
    const c = await fx.client();
    await expect(c.query("UPDATE posts SET title = 'x'")).rejects.toMatchObject({ code: '0A000' });
  });

  it('a transaction joins a second shard statement by statement; one statement spanning both is refused with 0A000 naming both', async () => {
    const c = await fx.client();
    const a = [...Array(200).keys()].find((u) => owner(u + 1) === 's0')! + 1;
    const b = [...Array(200).keys()].find((u) => owner(u + 1) === 's1')! + 1;
    await c.query('BEGIN');
    await c.query('SELECT * FROM posts WHERE user_id = $1', [a]);
    // transactions.crossShard: two_phase (the default): the transaction now runs on both shards.
    const other = await c.query('SELECT inet_server_port() AS p FROM posts WHERE user_id = $1 LIMIT 1', [b]);
    expect(other.rows[0]?.p).toBe(port('s1-primary'));
    const err = await c
      .query('SELECT count(*) FROM posts')
      .catch((e: { code: string; message: string }) => e);
    expect((err as { code: string }).code).toBe('0A000');
    expect((err as { message: string }).message).toMatch(/s0.*s1|s1.*s0/);
    await c.query('ROLLBACK');
  });
});

describe('consistency levels', () => {
  it('serves strong reads from the primary and eventual reads from replicas', async () => {
    const c = await fx.client();
    const strong = await c.query('SELECT inet_server_port() AS p FROM users WHERE user_id = $1', [5]);
    expect(strong.rows[0]?.p).toBe(port(`${owner(5)}-primary`));
    const eventual = await c.query('SELECT inet_server_port() AS p FROM likes WHERE user_id = $1', [5]);
    expect(eventual.rows[0]?.p).toBe(port(`${owner(5)}-replica1`));
  });

  it('makes a VIP session stronger and never goes below a floor', async () => {
    const c = await fx.client({ options: '-c shardgate.vip=on' } as never);
    const r = await c.query('SELECT inet_server_port() AS p FROM likes WHERE user_id = $1', [5]);
    // eventual + VIP = read_your_writes: no write yet, so a replica (the primary if none is in rotation).
    expect([port(`${owner(5)}-replica1`), port(`${owner(5)}-primary`)]).toContain(r.rows[0]?.p);
    await c.query('SET shardgate.realtime = on');
    const rt = await c.query('SELECT inet_server_port() AS p FROM likes WHERE user_id = $1', [5]);
    expect(rt.rows[0]?.p).toBe(port(`${owner(5)}-primary`));
    const shown = await c.query('SHOW shardgate.realtime');
    expect(Object.values(shown.rows[0] ?? {})[0]).toBe('on');
  });

  it('honours comment hints and SHARDGATE EXPLAIN', async () => {
    const c = await fx.client();
    const r = await c.query(
      '/* shardgate: consistency=strong */ SELECT inet_server_port() AS p FROM likes WHERE user_id = 5',
    );
    expect(r.rows[0]?.p).toBe(port(`${owner(5)}-primary`));
    const e = await c.query('SHARDGATE EXPLAIN SELECT * FROM likes WHERE user_id = 5');
    const plan = JSON.parse(String(e.rows[0]?.plan));
    expect(plan.type).toBe('single');
    expect(plan.level).toBe('eventual');
  });

  it('never sends SET shardgate.* to a backend', async () => {
    const c = await fx.client();
    await c.query('SET shardgate.battery_saving = on');
    const direct = await fx.direct('s0-primary');
    const seen = await direct.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ILIKE '%shardgate.battery%' AND pid <> pg_backend_pid()",
    );
    expect(seen.rows[0]?.n).toBe(0);
    await expect(c.query('SET shardgate.nonsense = on')).rejects.toMatchObject({ code: '22023' });
  });

  it('read-your-writes: 0 stale reads in 1,000 write-then-read pairs under 500 ms replica delay', async () => {
    for (const s of fx.cluster.shards) await fx.cluster.setReplayDelay(s.replicas[0]!.name, 500);
    await new Promise((r) => setTimeout(r, 300));
    const c = await fx.client();
    let stale = 0;
    const eventual = await fx.client();
    let eventualOnReplica = 0;
    for (let i = 0; i < 1000; i++) {
      const user = 2000 + (i % 50);
      const id = 5_000_000 + i;
      await c.query('INSERT INTO posts (id, user_id, title) VALUES ($1, $2, $3)', [id, user, 'ryw']);
      const r = await c.query('SELECT count(*)::int AS n FROM posts WHERE user_id = $1 AND id = $2', [
        user,
        id,
      ]);
      if (r.rows[0]?.n !== 1) stale++;
      if (i % 10 === 0) {
        const e = await eventual.query(
          'SELECT inet_server_port() AS p, count(*) AS n FROM likes WHERE user_id = $1',
          [user],
        );
        if (e.rows[0]?.p === port(`${owner(user)}-replica1`)) eventualOnReplica++;
      }
    }
    for (const s of fx.cluster.shards) await fx.cluster.setReplayDelay(s.replicas[0]!.name, 0);
    expect(stale).toBe(0);
    expect(eventualOnReplica).toBe(100);
  }, 180_000);

  it('read-your-writes without injected delay is served by replicas at least 90% of the time', async () => {
    for (const s of fx.cluster.shards) await fx.cluster.waitForReplay(s.replicas[0]!.name, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const c = await fx.client();
    let onReplica = 0;
    let stale = 0;
    const pairs = 300;
    for (let i = 0; i < pairs; i++) {
      const user = 3000 + (i % 50);
      const id = 6_000_000 + i;
      await c.query('INSERT INTO comments (id, user_id, body) VALUES ($1, $2, $3)', [id, user, 'x']);
      const r = await c.query(
        'SELECT inet_server_port() AS p, count(*)::int AS n FROM comments WHERE user_id = $1 AND id = $2',
        [user, id],
      );
      if (r.rows[0]?.n !== 1) stale++;
      if (r.rows[0]?.p === port(`${owner(user)}-replica1`)) onReplica++;
    }
    expect(stale).toBe(0);
    expect(onReplica / pairs).toBeGreaterThanOrEqual(0.9);
  }, 120_000);
});
