// Routing overrides through the real proxy: shard= and role=replica need the user's
// routingOverrides permission (hint, SET shardgate.*), a forced shard must own the rows a write
// touches, and role=replica does not read payments (floor strong) from a replica.
import { describe, expect, it } from 'vitest';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture({ shards: 2, replicas: 1 }, 300_000);

describe('routing overrides', () => {
  it('are refused without the permission; RESET is the way out', async () => {
    const c = await fx.client();
    await expect(c.query('/* shardgate: shard=s1 */ SELECT 1')).rejects.toMatchObject({ code: '42501' });
    await expect(c.query('/* shardgate: role=replica */ SELECT 1')).rejects.toMatchObject({ code: '42501' });
    await c.query('SET shardgate.shard = s1');
    await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '42501' });
    await c.query('RESET shardgate.shard');
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('a permitted user: forced writes must stay on the owning shard; floors bound role=replica', async () => {
    const c = await fx.client({ user: 'operator', password: 'op' });
    // user_id 1 lives on s1 (hashint8extended).
    await expect(
      c.query('/* shardgate: shard=s0 */ UPDATE users SET name = name WHERE user_id = 1'),
    ).rejects.toMatchObject({ code: '0A000' });
    const ok = await c.query('/* shardgate: shard=s1 */ UPDATE users SET name = name WHERE user_id = 1');
    expect(ok.rowCount).toBe(1);
    const payments = await c.query(
      '/* shardgate: role=replica */ SELECT pg_is_in_recovery() AS replica, count(*) FROM payments WHERE user_id = 1',
    );
    expect(payments.rows[0].replica).toBe(false);
    const posts = await c.query(
      '/* shardgate: role=replica */ SELECT pg_is_in_recovery() AS replica, count(*) FROM posts WHERE user_id = 1',
    );
    expect(posts.rows[0].replica).toBe(true);
  });
});
