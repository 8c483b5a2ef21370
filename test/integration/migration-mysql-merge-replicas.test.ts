// A MySQL/MariaDB merge into a spare that has a GTID replica (migration.spares[].replicas), under a
// mysql2 write stream through shardgate's MySQL port: the switch installs the spare's replica as
// the merged shard's replica, fenced at the switch position, and once it has replayed that
// position it answers eventual reads (told by @@server_id) with every row acknowledged before
// the block, from both sources.
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationState } from '../../src/migration/state-store.js';
import { inProcessPhase, likeStream, startReplicatedSpares } from '../support/integ-mysql-migration.js';
import type { MysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

const BASE = 80_000_000;

let fx: MysqlProxyFixture;

beforeAll(async () => {
  ({ fx } = await startReplicatedSpares('sg-mysql-merge-replicas-', ['spare1']));
}, 300_000);

afterAll(async () => {
  await fx?.stop();
});

describe('a MySQL merge into a spare with a GTID replica', () => {
  it("installs the spare's replica for the merged shard, which serves eventual reads with every row", async () => {
    // Likes of users 1..40, so of both shards.
    const writer = likeStream(
      () => fx.connect(),
      BASE,
      (id) => (id % 40) + 1,
    );
    let done: MigrationState;
    try {
      await waitFor('the first writes', () => writer.acked.length > 40, 60_000, 20);
      const started = await fx.proxy.migrations!.startMerge({
        shards: ['s0', 's1'],
        into: 'spare1',
        verify: 'full',
      });
      done = await inProcessPhase(fx, started.id, 'verified');
      const switchedAt = done.cutovers.at(-1)!.startedAt!;
      await waitFor(
        'writes after the switch',
        () => writer.acked.some((a) => a.at > switchedAt + 500),
        60_000,
        20,
      );
    } finally {
      await writer.stop();
    }
    expect(writer.errors).toEqual([]);
    expect(done.cutovers.at(-1)!.outcome).toBe('switched');
    const merged = done.plan.targets[0]!.shard;
    const shards = fx.proxy.topology.currentConfig.mysqlShards;
    expect(shards.map((s) => s.name)).toEqual([merged]);
    expect(shards[0]!.replicas.map((r) => r.name)).toEqual(['spare1-replica1']);
    expect(Object.keys(done.switchPositions ?? {})).toEqual([merged]);

    // Eventual reads of the rows acknowledged before the block: the merged shard has one replica,
    // which serves once it has replayed the switch position, and then holds every one of them.
    const before = writer.acked.filter((a) => a.at < done.cutovers.at(-1)!.startedAt!).map((a) => a.id);
    expect(before.length).toBeGreaterThan(0);
    const c = await fx.connect();
    await c.query('SET shardgate.consistency = eventual');
    const replicaId = fx.cluster.server('spare1-replica1').serverId;
    let answer = { sid: 0, n: 0 };
    await waitFor(
      'eventual reads answered by spare1-replica1',
      async () => {
        const [rows] = await c.query<RowDataPacket[]>(
          `SELECT @@server_id AS sid, count(*) AS n FROM likes WHERE id IN (${before.join(',')})`,
        );
        answer = { sid: Number(rows[0]!.sid), n: Number(rows[0]!.n) };
        return answer.sid === replicaId;
      },
      60_000,
      100,
    );
    expect(answer.n).toBe(before.length);
  }, 600_000);
});
