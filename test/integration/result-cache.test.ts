// The result cache through the real proxy: a repeated eventual read is answered from memory (a
// row written behind shardgate's back stays unseen until the cache is cleared), a write through
// shardgate is visible to the very next read in any session (write-through), write-around keeps
// results for their TTL, and transactions, volatile functions and other settings never share.
import { beforeAll, describe, expect, it } from 'vitest';
import { likeBehindTheProxy } from '../support/proxy-fixture.js';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture(
  {
    shards: 2,
    replicas: 1,
    overrides: {
      admin: { token: 'secret' },
      dataTypes: {
        user_likes: { cacheTtlMs: 600_000 },
        user_recommendations: { cacheTtlMs: 600_000, cacheStrategy: 'write-around' },
      },
    },
  },
  180_000,
);

let base: string;
let nextId = 9_000_000;

beforeAll(async () => {
  base = `http://127.0.0.1:${fx.proxy.admin!.port}`;
}, 180_000);

interface CacheStats {
  hits: number;
  misses: number;
  invalidations: number;
  entries: number;
  bytes: number;
  tables: Array<{ table: string; ttlMs: number; strategy: string }>;
}
const stats = async () =>
  (await (
    await fetch(`${base}/api/cache`, { headers: { authorization: 'Bearer secret' } })
  ).json()) as CacheStats;
const clear = () =>
  fetch(`${base}/api/cache/clear`, { method: 'POST', headers: { authorization: 'Bearer secret' } });

/** Inserts a like straight on the owner's primary, waits until its replica has it. */
const likeBehind = (userId: number) => likeBehindTheProxy(fx, nextId++, userId);

/** Statements shardgate sent to servers so far (all shards and roles). */
async function serverStatements(): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^shardgate_statements_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

const LIKES = 'SELECT count(*)::int AS n FROM likes WHERE user_id = $1';

describe('result cache', () => {
  it('answers a repeated eventual read from memory, until the cache is cleared', async () => {
    const c = await fx.client();
    const before = await stats();
    expect(before.tables).toContainEqual({ table: 'likes', ttlMs: 600_000, strategy: 'write-through' });
    const first = (await c.query(LIKES, [11])).rows[0].n as number;
    await likeBehind(11);
    // The replica has the new row; the answer is still the cached one: no server was asked.
    expect((await c.query(LIKES, [11])).rows[0].n).toBe(first);
    const after = await stats();
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(1);
    expect(after.bytes).toBeGreaterThan(0);
    const denied = await fetch(`${base}/api/cache/clear`, { method: 'POST' });
    expect(denied.status).toBe(401);
    expect((await clear()).status).toBe(200);
    expect((await c.query(LIKES, [11])).rows[0].n).toBe(first + 1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^shardgate_cache_hits_total [1-9]/m);
    expect(metrics).toMatch(/^shardgate_cache_misses_total [1-9]/m);
    expect(metrics).toMatch(/^shardgate_cache_invalidations_total [1-9]/m);
    expect(metrics).toMatch(/^shardgate_cache_bytes \d+/m);
  });

  it('is cleared by the statement SHARDGATE CLEAR CACHE', async () => {
    const c = await fx.client();
    const first = (await c.query(LIKES, [14])).rows[0].n as number;
    await likeBehind(14);
    expect((await c.query(LIKES, [14])).rows[0].n).toBe(first);
    const cleared = await c.query('SHARDGATE CLEAR CACHE');
    expect(Number(cleared.rows[0].cleared)).toBeGreaterThanOrEqual(1);
    expect((await stats()).entries).toBe(0);
    expect((await c.query(LIKES, [14])).rows[0].n).toBe(first + 1);
  });

  it('caches the simple protocol too (text with literals)', async () => {
    const c = await fx.client();
    const before = await stats();
    await c.query('SELECT count(*)::int AS n FROM likes WHERE user_id = 12');
    await c.query('SELECT count(*)::int AS n FROM likes WHERE user_id = 12');
    await c.query('SELECT count(*)::int AS n FROM likes WHERE user_id = 13');
    const after = await stats();
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(2);
  });

  it('write-through: a write through shardgate is visible to the very next read in any session', async () => {
    const reader = await fx.client();
    const writer = await fx.client();
    let expected = (await reader.query(LIKES, [21])).rows[0].n as number;
    for (let i = 0; i < 30; i++) {
      // Cached now (the second read is a hit), then a write from another session.
      expect((await reader.query(LIKES, [21])).rows[0].n).toBe(expected);
      if (i % 2 === 0) {
        await writer.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, 21, 2)', [nextId++]);
      } else {
        await writer.query('BEGIN');
        await writer.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, 21, 2)', [nextId++]);
        await writer.query('COMMIT');
      }
      expected++;
      expect((await reader.query(LIKES, [21])).rows[0].n).toBe(expected);
    }
  });

  it('write-around: results live their TTL, writes or not', async () => {
    const c = await fx.client();
    const q = 'SELECT count(*)::int AS n FROM recommendations WHERE user_id = $1';
    const first = (await c.query(q, [31])).rows[0].n as number;
    await c.query('INSERT INTO recommendations (id, user_id, item_id) VALUES ($1, 31, 1)', [nextId++]);
    expect((await c.query(q, [31])).rows[0].n).toBe(first);
    const strong = await c.query(`/* shardgate: consistency=strong */ ${q}`, [31]);
    expect(strong.rows[0].n).toBe(first + 1);
  });

  it('never caches inside a transaction, volatile functions, locking reads, or across settings', async () => {
    const c = await fx.client();
    await c.query(LIKES, [41]);
    let before = await stats();
    await c.query('BEGIN');
    await c.query(LIKES, [41]);
    await c.query('COMMIT');
    await c.query('SELECT count(*)::int AS n, now() AS t FROM likes WHERE user_id = $1', [41]);
    await c.query('SELECT count(*)::int AS n, now() AS t FROM likes WHERE user_id = $1', [41]);
    await c.query('SELECT count(*)::int AS n, random() AS r FROM likes WHERE user_id = $1', [41]);
    await c.query('SELECT count(*)::int AS n, current_timestamp AS t FROM likes WHERE user_id = $1', [41]);
    await c.query('SELECT count(*)::int AS n, current_timestamp AS t FROM likes WHERE user_id = $1', [41]);
    let after = await stats();
    expect(after.hits).toBe(before.hits);
    expect(after.misses).toBe(before.misses);
    // Another search_path is another key (and a miss); the old one still hits.
    await c.query('SET search_path = public, pg_catalog');
    before = await stats();
    await c.query(LIKES, [41]);
    after = await stats();
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits).toBe(before.hits);
    await c.query('RESET search_path');
    await c.query(LIKES, [41]);
    expect((await stats()).hits).toBe(after.hits + 1);
    // Locking reads, twice each, outside a transaction: neither served nor stored.
    before = await stats();
    for (let i = 0; i < 2; i++) {
      await c.query('SELECT id FROM likes WHERE user_id = $1 FOR UPDATE', [41]);
      await c.query('SELECT id FROM likes WHERE user_id = $1 FOR SHARE', [41]);
    }
    after = await stats();
    expect(after.hits).toBe(before.hits);
    expect(after.misses).toBe(before.misses);
  });

  it('never answers a session whose context makes the read stronger from a weaker session entry', async () => {
    const c = await fx.client();
    await c.query(LIKES, [43]);
    const first = (await c.query(LIKES, [43])).rows[0].n as number;
    await likeBehind(43);
    // Hits are served before planning: the same bytes from a VIP session (eventual -> read_your_writes
    // by default) must still go to a server, which has the new row.
    const vip = await fx.client({ options: '-c shardgate.vip=on' } as never);
    const before = await stats();
    expect((await vip.query(LIKES, [43])).rows[0].n).toBe(first + 1);
    expect((await stats()).hits).toBe(before.hits);
    expect((await c.query(LIKES, [43])).rows[0].n).toBe(first);
  });

  it('lets one of many concurrent identical misses go to the server (single flight)', async () => {
    await clear();
    const clients = await Promise.all(Array.from({ length: 8 }, () => fx.client()));
    const statementsBefore = await serverStatements();
    const rows = await Promise.all(clients.map((c) => c.query(LIKES, [51])));
    expect(new Set(rows.map((r) => r.rows[0].n)).size).toBe(1);
    // One statement reached a server; the other seven were answered from the cache.
    expect((await serverStatements()) - statementsBefore).toBe(1);
  });

  it('a rule change empties the cache: a statement now read at strong is never answered from memory', async () => {
    const c = await fx.client();
    const first = (await c.query(LIKES, [71])).rows[0].n as number;
    expect((await c.query(LIKES, [71])).rows[0].n).toBe(first);
    await likeBehind(71);
    const res = await fetch(`${base}/api/rules`, {
      method: 'POST',
      headers: { authorization: 'Bearer secret', 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'set-level', dataType: 'user_likes', level: 'strong' }),
    });
    expect(res.status).toBe(200);
    const before = await stats();
    expect(before.entries).toBe(0);
    expect((await c.query(LIKES, [71])).rows[0].n).toBe(first + 1);
    expect((await stats()).hits).toBe(before.hits);
  });
});
