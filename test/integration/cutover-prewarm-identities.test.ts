// A merge's prewarm (RuntimeTopology.prewarm with two source shards): a user's own pool on the
// target is warmed once, with as many connections as that user holds on the sources together (up
// to the pool's size). Warmed once per source instead, the two warm-ups of one pool each held
// their connections until all were open, waited on each other at the pool's size, and the pool
// was dropped: every write the merge's block released then opened a connection after the switch
// (`bench split --operation merge`: 0 connections before the switch, 21 in the second after it).
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoUsersOn, type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

let fx: ProxyFixture;

beforeAll(async () => {
  fx = await startProxyFixture({
    shards: 2,
    replicas: 0,
    spares: 1,
    passwordLogins: true,
    // Two connections a pool: two users' sessions on each source fill it.
    overrides: { users: [{ name: 'app', password: 'app-pw' }], pool: { size: 2 } },
  });
  const spare = await fx.direct('spare1');
  await spare.query(`DO $$ BEGIN CREATE ROLE app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await spare.query(`ALTER ROLE app LOGIN PASSWORD 'app-pw'`);
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

/** Two sessions of `app`, each inside a transaction on `server`'s shard, so its pool holds two. */
async function holdTwoOn(server: string): Promise<pg.Client[]> {
  const [user] = await demoUsersOn(fx, server, 1);
  const clients = [await fx.client({ password: 'app-pw' }), await fx.client({ password: 'app-pw' })];
  for (const c of clients) {
    await c.query('BEGIN');
    await c.query('SELECT count(*) FROM users WHERE user_id = $1', [user]);
  }
  return clients;
}

describe('prewarm for a merge (two source shards, one user)', () => {
  it("opens the user's connections on the target once, none dropped", async () => {
    const held = [...(await holdTwoOn('s0-primary')), ...(await holdTwoOn('s1-primary'))];
    for (const c of held) await c.query('COMMIT');
    const topology = fx.proxy.topology;
    const own = (server: string) =>
      topology
        .server(server)!
        .pools.identityPools()
        .find((p) => p.identity.user === 'app')!.pool.size;
    expect([own('s0-primary'), own('s1-primary')]).toEqual([2, 2]);

    const spare = fx.config.migration.spares.find((s) => s.name === 'spare1')!;
    await topology.prewarm('spare1', 's0_s1', spare, 1, ['s0', 's1']);
    const direct = await fx.direct('spare1');
    const { rows } = await direct.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
        WHERE usename = 'app' AND backend_type = 'client backend'`,
    );
    // The pool's size: both sources' two each, capped at two.
    expect(rows[0]!.n).toBe(2);
  }, 120_000);
});
