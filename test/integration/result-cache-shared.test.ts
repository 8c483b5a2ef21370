// The result cache's shared tier: two shardgate instances in front of the same shards share a
// redis-server this test starts itself. An entry one instance filled is served by the other from
// Redis; a write through one drops the other's local entry (publish/subscribe) and its next read
// sees the write; when Redis goes away, queries go on from local memory and the servers.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { appLogin } from '../support/app-login.js';
import { likeBehindTheProxy, type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';

let redis: RedisServer;
let fx: ProxyFixture;
let second: ProxyHandle;
const clients: pg.Client[] = [];
let nextId = 9_500_000;

beforeAll(async () => {
  redis = await startRedisServer();
  fx = await startProxyFixture({
    shards: 2,
    replicas: 1,
    overrides: {
      admin: { token: 'secret' },
      dataTypes: { user_likes: { cacheTtlMs: 600_000 } },
      cache: { shared: { redis: redis.url, timeoutMs: 1_000 } },
    },
  });
  // The second instance: the same config, its own history directory.
  const config: ShardgateConfig = {
    ...fx.config,
    observability: {
      ...fx.config.observability,
      history: {
        ...fx.config.observability.history,
        dir: mkdtempSync(path.join(os.tmpdir(), 'shardgate-test-history-')),
      },
    },
  };
  second = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: 0 });
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await second?.close();
  await fx?.stop();
  await redis?.stop();
});

async function clientOf(proxy: ProxyHandle): Promise<pg.Client> {
  const c = new pg.Client(appLogin(proxy));
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

interface CacheStats {
  hits: number;
  misses: number;
  shared: {
    connected: boolean;
    hits: number;
    misses: number;
    stores: number;
    errors: number;
    invalidationsSent: number;
    invalidationsReceived: number;
  } | null;
}
async function stats(proxy: ProxyHandle): Promise<CacheStats> {
  const res = await fetch(`http://127.0.0.1:${proxy.admin!.port}/api/cache`, {
    headers: { authorization: 'Bearer secret' },
  });
  return (await res.json()) as CacheStats;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | false>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Inserts a like straight on the owner's primary (behind both proxies), waits for its replica. */
const likeBehindTheProxies = (userId: number) => likeBehindTheProxy(fx, nextId++, userId);

const LIKES = 'SELECT count(*)::int AS n FROM likes WHERE user_id = $1';

describe('result cache shared tier (Redis)', () => {
  it('serves on one instance an entry the other filled', async () => {
    await waitFor('both instances connected to Redis', async () => {
      const [a, b] = [await stats(fx.proxy), await stats(second)];
      return a.shared?.connected === true && b.shared?.connected === true;
    });
    const a = await clientOf(fx.proxy);
    const b = await clientOf(second);
    const storesBefore = (await stats(fx.proxy)).shared!.stores;
    const first = (await a.query(LIKES, [61])).rows[0].n as number;
    await waitFor(
      'the fill copied to Redis',
      async () => (await stats(fx.proxy)).shared!.stores > storesBefore,
    );
    await likeBehindTheProxies(61);
    // The servers have a new row; B has never run this statement: its answer came from Redis.
    const before = (await stats(second)).shared!;
    expect((await b.query(LIKES, [61])).rows[0].n).toBe(first);
    expect((await stats(second)).shared!.hits).toBe(before.hits + 1);
  });

  it('a write through one instance drops the entry the other holds in memory', async () => {
    const a = await clientOf(fx.proxy);
    const b = await clientOf(second);
    const first = (await b.query(LIKES, [62])).rows[0].n as number;
    const bBefore = await stats(second);
    expect((await b.query(LIKES, [62])).rows[0].n).toBe(first);
    expect((await stats(second)).hits).toBe(bBefore.hits + 1); // B's local memory
    const received = (await stats(second)).shared!.invalidationsReceived;
    await a.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, 62, 3)', [nextId++]);
    await waitFor(
      'the write published to B',
      async () => (await stats(second)).shared!.invalidationsReceived >= received + 2,
    );
    expect((await b.query(LIKES, [62])).rows[0].n).toBe(first + 1);
    // And the new answer is cached again on B.
    const bAfter = await stats(second);
    expect((await b.query(LIKES, [62])).rows[0].n).toBe(first + 1);
    expect((await stats(second)).hits).toBe(bAfter.hits + 1);
  });

  it('a Redis outage never fails a query: local memory and the servers answer', async () => {
    const a = await clientOf(fx.proxy);
    await redis.stop();
    await waitFor('A notices Redis is gone', async () => (await stats(fx.proxy)).shared!.connected === false);
    const n = (await a.query(LIKES, [63])).rows[0].n as number;
    expect((await a.query(LIKES, [63])).rows[0].n).toBe(n);
    await a.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, 63, 4)', [nextId++]);
    expect((await a.query(LIKES, [63])).rows[0].n).toBe(n + 1);
  });
});
