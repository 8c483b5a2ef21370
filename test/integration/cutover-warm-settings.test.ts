// The connections a cutover opens ahead to a new shard (RuntimeTopology.prewarm, run before the
// block) carry the session settings the source's clients use: a write the block releases then
// runs its first statement there without a settings round trip (README, "split/move/merge at
// 1,000 writes/s"). Checked on the server: the warm backends show the clients' application_name.
import { describe, expect, it } from 'vitest';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture({ shards: 2, replicas: 0, spares: 1 }, 180_000);

describe('prewarm before a cutover', () => {
  it("opens N idle connections on the new primary with the source clients' settings", async () => {
    const client = await fx.client({ application_name: 'held-writer' });
    // A statement on s0's primary: its pool learns what its clients want.
    await client.query('SELECT count(*) FROM pg_catalog.pg_class');
    const spare = fx.config.migration.spares.find((s) => s.name === 'spare1')!;
    const topology = fx.proxy.topology;
    await topology.prewarm('spare1', 's0a', spare, 3, ['s0']);
    const direct = await fx.direct('spare1');
    const { rows } = await direct.query<{ name: string; n: number }>(
      `SELECT application_name AS name, count(*)::int AS n FROM pg_catalog.pg_stat_activity
        WHERE datname = 'shardgate' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
        GROUP BY 1`,
    );
    const warmed = rows.find((r) => r.name === 'held-writer')?.n ?? 0;
    // Every warm connection of the service pool (the fixture's users log in as the service).
    expect(warmed).toBeGreaterThanOrEqual(3);
    expect(rows.find((r) => r.name === 'shardgate')).toBeUndefined();
  });
});
