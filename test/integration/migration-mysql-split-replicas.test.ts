// A MySQL/MariaDB split into spares that each have a GTID replica (migration.spares[].replicas),
// under a steady mysql2 write stream through shardgate's MySQL port: after the switch each half's
// replica serves eventual reads (told by @@server_id) with every row acknowledged before the
// block, a replica that has not replayed the switch position serves nothing until it has (one
// held back by MASTER_DELAY, whose lag alone would keep it in rotation here), read_your_writes
// sees its own write with the half's replica stopped, and a rollback hands the reads back to the
// source's own replica. A listed replica of another server is refused before anything starts. A
// table move onto s1 fences s1's replica the same way until it has replayed the move.
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import {
  inProcessPhase,
  type LikeAck,
  likeStream,
  startReplicatedSpares,
} from '../support/integ-mysql-migration.js';
import { countIds, notOnce } from '../support/mysql-migration-driver.js';
import type { MysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const BASE = 70_000_000;

let fx: MysqlProxyFixture;
let config: ShardgateConfig;

// A held-back replica must be kept out by the switch's fence, not by its lag.
beforeAll(async () => {
  ({ fx, config } = await startReplicatedSpares('sg-mysql-split-replicas-', ['spare1', 'spare2']));
}, 300_000);

afterAll(async () => {
  await fx?.stop();
});

const serverId = (name: string) => fx.cluster.server(name).serverId;

/** The MySQL shard owning a user in the proxy's current routing. */
function ownerNow(user: number): string {
  const cfg = fx.proxy.topology.currentConfig;
  const ranges = cfg.mysqlShards.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange) }));
  return shardForValue(cfg.tables.likes!, String(user), ranges);
}

/** Users of shard s0 on either side of the split point 40 (s0 is -80 with two shards). */
function usersOfHalf(range: string, n: number): number[] {
  const ranges = [
    { name: 'half', range: parseKeyRange(range) },
    ...['-40', '40-80', '80-'].filter((r) => r !== range).map((r) => ({ name: r, range: parseKeyRange(r) })),
  ];
  const out: number[] = [];
  for (let u = 1; out.length < n; u++)
    if (shardForValue(config.tables.likes!, String(u), ranges) === 'half') out.push(u);
  return out;
}

/**
 * Reads each user's likes among `ids` at eventual level until every read is answered by server
 * `expected` (polls a condition); returns how many of each user's ids that first such read held.
 */
async function eventualReadsBy(c: mysql.Connection, expected: string, ids: Map<number, number[]>) {
  await c.query('SET shardgate.consistency = eventual');
  const want = serverId(expected);
  let seen: number[] = [];
  for (let round = 0; ; round++) {
    const counts: number[] = [];
    seen = [];
    for (const [user, list] of ids) {
      const [rows] = await c.query<RowDataPacket[]>(
        `SELECT @@server_id AS sid, count(*) AS n FROM likes WHERE user_id = ? AND id IN (${list.length > 0 ? list.join(',') : '-1'})`,
        [user],
      );
      seen.push(Number(rows[0]!.sid));
      counts.push(Number(rows[0]!.n));
    }
    if (seen.every((s) => s === want)) return counts;
    if (round > 600)
      throw new Error(`eventual reads still answered by server_ids ${seen.join(',')}, not ${want}`);
    await sleep(100);
  }
}

/** Each user's acknowledged ids, of those acked before `before` (epoch ms). */
function idsByUser(
  acked: readonly LikeAck[],
  users: number[],
  before = Number.POSITIVE_INFINITY,
): Map<number, number[]> {
  const out = new Map(users.map((u) => [u, [] as number[]]));
  for (const a of acked) if (a.at < before) out.get(a.user)?.push(a.id);
  return out;
}

describe('a MySQL split into spares with GTID replicas', () => {
  it('refuses a spare whose listed replica replicates from another server', async () => {
    const spares = config.migration.spares.map((s) =>
      s.name === 'spare2' ? { ...s, replicas: [...config.migration.spares[0]!.replicas] } : s,
    );
    fx.proxy.topology.rebuild({ ...config, migration: { ...config.migration, spares } });
    try {
      await expect(
        fx.proxy.migrations!.start({ shard: 's0', at: '40', targets: ['spare1', 'spare2'], verify: 'full' }),
      ).rejects.toThrow(
        /spare1-replica1 is not a replica of target spare2 \(its master has server_id 100100/,
      );
    } finally {
      fx.proxy.topology.rebuild(config);
    }
    expect(fx.proxy.migrations!.list()).toEqual([]);
  });

  it('serves eventual reads from the halves replicas after the switch, and the old replica after a rollback', async () => {
    const left = usersOfHalf('-40', 5);
    const right = usersOfHalf('40-80', 5);
    expect([...left, ...right].every((u) => ownerNow(u) === 's0')).toBe(true);
    // spare1's replica replays nothing the split writes until the delay is lifted below.
    await fx.cluster.setReplicaDelay('spare1-replica1', 3_600);
    const users = [...left, ...right];
    // Two writers of likes of those users through the proxy.
    const writers = likeStream(
      () => fx.connect(),
      BASE,
      (id) => users[id % users.length]!,
      2,
    );
    try {
      await waitFor('the first writes', () => writers.acked.length > 40, 60_000, 20);
      const started = await fx.proxy.migrations!.start({
        shard: 's0',
        at: '40',
        targets: ['spare1', 'spare2'],
        verify: 'full',
      });
      const done = await inProcessPhase(fx, started.id, 'verified');
      const block = done.cutovers.at(-1)!;
      expect(block.outcome).toBe('switched');
      const switchedAt = block.startedAt!;
      const cfg = fx.proxy.topology.currentConfig;
      expect(cfg.mysqlShards.map((s) => s.name)).toEqual(['s0a', 's0b', 's1']);
      expect(cfg.mysqlShards.find((s) => s.name === 's0a')!.replicas.map((r) => r.name)).toEqual([
        'spare1-replica1',
      ]);
      expect(cfg.mysqlShards.find((s) => s.name === 's0b')!.replicas.map((r) => r.name)).toEqual([
        'spare2-replica1',
      ]);
      expect(Object.keys(done.switchPositions ?? {})).toEqual(['s0a', 's0b']);
      await waitFor(
        'writes on the halves',
        () => writers.acked.some((a) => a.at > switchedAt + 500),
        60_000,
        20,
      );

      const c = await fx.connect();
      // s0b's replica streams: once it has replayed the switch it serves, with every earlier row.
      const rightBefore = idsByUser(writers.acked, right, switchedAt);
      expect([...rightBefore.values()].some((l) => l.length > 0)).toBe(true);
      expect(await eventualReadsBy(c, 'spare2-replica1', rightBefore)).toEqual(
        [...rightBefore.values()].map((l) => l.length),
      );
      // s0a's replica is held back behind the switch: the fence keeps every read on s0a's primary.
      const leftBefore = idsByUser(writers.acked, left, switchedAt);
      expect(await eventualReadsBy(c, 'spare1', leftBefore)).toEqual(
        [...leftBefore.values()].map((l) => l.length),
      );
      const view = fx.proxy.mysql!.topology.view().shards.find((s) => s.name === 's0a')!;
      expect(view.replicas[0]!.catchUpTo).toBe(done.switchPositions!.s0a);
      // Lifted: it replays the switch position, the fence goes, and it serves with every row.
      await fx.cluster.setReplicaDelay('spare1-replica1', 0);
      expect(await eventualReadsBy(c, 'spare1-replica1', leftBefore)).toEqual(
        [...leftBefore.values()].map((l) => l.length),
      );

      // read_your_writes with the half's replica stopped: the session still reads its own write.
      await fx.cluster.pauseReplicaApply('spare2-replica1', 120_000);
      try {
        await c.query('SET shardgate.consistency = read_your_writes');
        for (const [i, u] of right.entries()) {
          const id = BASE - 1_000 - i;
          await c.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 2)', [id, u]);
          const [rows] = await c.query<RowDataPacket[]>(
            'SELECT count(*) AS n FROM likes WHERE user_id = ? AND id = ?',
            [u, id],
          );
          expect(Number(rows[0]!.n)).toBe(1);
        }
      } finally {
        await fx.cluster.resumeReplicaApply('spare2-replica1');
      }

      // Rollback: s0 comes back with its own replica, which serves every row acked before the block.
      const back = await fx.proxy.migrations!.rollback(started.id);
      expect(back.phase).toBe('rolled_back');
      const rollbackAt = back.cutovers.at(-1)!.startedAt!;
      const s0 = fx.proxy.topology.currentConfig.mysqlShards.find((s) => s.name === 's0')!;
      expect(s0.replicas.map((r) => r.name)).toEqual(['s0-replica1']);
      await waitFor(
        'writes after the rollback',
        () => writers.acked.some((a) => a.at > rollbackAt + 500),
        60_000,
        20,
      );
      const all = [...left, ...right];
      const beforeRollback = idsByUser(writers.acked, all, rollbackAt);
      expect(await eventualReadsBy(c, 's0-replica1', beforeRollback)).toEqual(
        [...beforeRollback.values()].map((l) => l.length),
      );
    } finally {
      await writers.stop();
    }
    expect(writers.errors).toEqual([]);
    // Every acknowledged write is on the source's primary exactly once.
    const onSource = await fx.cluster.query<{ id: number | string }>(
      's0-primary',
      `SELECT id FROM likes WHERE id >= ${BASE}`,
    );
    expect(
      notOnce(
        writers.acked.map((a) => a.id),
        countIds(onSource),
      ),
    ).toEqual([]);
  }, 420_000);

  it("moves an unsharded table to s1 with s1's replica fenced until it has replayed the switch", async () => {
    // site_memo lives on s0, the MySQL default shard. s1's replica is held back, so it lacks the
    // table after the move: without the switch's fence an eventual read would reach it and fail.
    const c = await fx.connect();
    try {
      await c.query('CREATE TABLE site_memo (id INT PRIMARY KEY, note VARCHAR(40))');
      for (let i = 1; i <= 50; i++) await c.query('INSERT INTO site_memo VALUES (?, ?)', [i, `m${i}`]);
      await fx.cluster.setReplicaDelay('s1-replica1', 3_600);
      const started = await fx.proxy.migrations!.startMove({ table: 'site_memo', to: 's1', verify: 'full' });
      const done = await inProcessPhase(fx, started.id, 'verified');
      expect(done.plan.operation).toBe('move');
      expect(Object.keys(done.switchPositions ?? {})).toEqual(['s1']);
      const view = fx.proxy.mysql!.topology.view().shards.find((s) => s.name === 's1')!;
      expect(view.replicas[0]!.catchUpTo).toBe(done.switchPositions!.s1);
      await c.query('SET shardgate.consistency = eventual');
      const read = async () => {
        const [rows] = await c.query<RowDataPacket[]>(
          'SELECT @@server_id AS sid, count(*) AS n FROM site_memo',
        );
        return { sid: Number(rows[0]!.sid), n: Number(rows[0]!.n) };
      };
      // Fenced: s1's primary answers, with every row.
      expect(await read()).toEqual({ sid: serverId('s1-primary'), n: 50 });
      // Lifted: the replica replays the move, the fence goes, and it serves the table whole.
      await fx.cluster.setReplicaDelay('s1-replica1', 0);
      await waitFor(
        "s1's replica serving site_memo",
        async () => (await read()).sid === serverId('s1-replica1'),
        120_000,
        100,
      );
      expect(await read()).toEqual({ sid: serverId('s1-replica1'), n: 50 });
    } finally {
      await fx.cluster.setReplicaDelay('s1-replica1', 0);
      await c.end();
    }
  }, 420_000);
});
