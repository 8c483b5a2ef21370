// Quotas: one user cannot hold every server connection (pins and idle transactions), and a
// session idle inside a transaction is closed (its transaction rolled back), PgBouncer-like.
import { describe, expect, it } from 'vitest';
import { TEST_USERS } from '../support/proxy-fixture.js';
import { quotaOverrides, waitForQuota } from '../support/quota-config.js';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture(
  {
    shards: 1,
    replicas: 0,
    overrides: quotaOverrides(TEST_USERS),
  },
  180_000,
);

describe('per-user server connection limit', () => {
  it('a user at its limit waits, then gets 53300; other users are served; a freed slot goes to the waiter', async () => {
    const c1 = await fx.client();
    const c2 = await fx.client();
    // Session advisory locks pin a server connection to each session.
    await c1.query('SELECT pg_advisory_lock(101)');
    await c2.query('SELECT pg_advisory_lock(102)');
    const c3 = await fx.client();
    await expect(c3.query('SELECT 1 AS one')).rejects.toMatchObject({ code: '53300' });
    const other = await fx.client({ user: 'md5user', password: 'secret5' });
    expect((await other.query('SELECT 2 AS two')).rows[0].two).toBe(2);
    const waiting = c3.query('SELECT 3 AS three');
    await c1.end();
    expect((await waiting).rows[0].three).toBe(3);
    await c2.end();
    await c3.end();
    await other.end();
  });
});

describe('idle in transaction timeout', () => {
  it('closes the session with 25P03 and rolls its transaction back', async () => {
    const c = await fx.client({ user: 'md5user', password: 'secret5' });
    const errors: Array<{ code?: string }> = [];
    c.on('error', (e: Error & { code?: string }) => errors.push(e));
    await c.query('BEGIN');
    await c.query("INSERT INTO trending_topics (id, topic) VALUES (777001, 'idle')");
    await waitForQuota('the session to be closed', () => errors.length > 0);
    expect(errors[0]!.code).toBe('25P03');
    const check = await fx.client({ user: 'md5user', password: 'secret5' });
    const r = await check.query('SELECT count(*)::int AS n FROM trending_topics WHERE id = 777001');
    expect(r.rows[0].n).toBe(0);
    // A session that keeps working inside its transaction is not closed.
    await check.query('BEGIN');
    for (let i = 0; i < 3; i++) await check.query('SELECT pg_sleep(0.5)');
    await check.query('COMMIT');
    await check.end();
  });
});
