// A live split whose targets have streaming replicas (migration.spares[].replicas): after the
// switch the halves' replicas serve eventual and bounded reads and see every moved row, strong
// reads go to the halves' primaries, and a replica that has not replayed the switch position
// serves no read at any level until it has (here: one held back by recovery_min_apply_delay,
// whose unknown lag would otherwise keep it in rotation for eventual reads).
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { usersIn } from '../../bench/lib/write-ledger.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { useMigrationFixture } from '../support/migration-file-fixture.js';
import {
  expectLedgerHolds,
  migrationWriters,
  settleUnderWriters,
  sleep,
} from '../support/migration-helpers.js';

const fx = useMigrationFixture({
  shards: 2,
  replicas: 1,
  spares: 3,
  spareReplicas: 1,
  cutoverDeadlineMs: 2_000,
  overrides: {
    // A held-back replica must be kept out by the switch fence, not by its lag.
    routing: { replicaHardLagLimitMs: 24 * 3_600_000, defaultMaxLagMs: 24 * 3_600_000 },
  },
  startMs: 240_000,
});
const leftUsers = usersIn(parseKeyRange('-40'), 8, 1, 50);
const rightUsers = usersIn(parseKeyRange('40-80'), 8, 1, 50);

/** The port of the server that answered, and the user's likes, read through the proxy at `level`. */
async function readAt(c: pg.Client, level: string, user: number): Promise<{ port: number; likes: number }> {
  await c.query(`SET shardgate.consistency = ${level}`);
  const r = await c.query(
    'SELECT inet_server_port() AS port, count(*)::int AS n FROM likes WHERE user_id = $1',
    [user],
  );
  return { port: Number(r.rows[0].port), likes: r.rows[0].n };
}

/** Each user's likes on a server directly. */
async function likesOn(server: string, users: number[]): Promise<number[]> {
  const c = await fx.direct(server);
  const out: number[] = [];
  for (const u of users)
    out.push((await c.query('SELECT count(*)::int AS n FROM likes WHERE user_id = $1', [u])).rows[0].n);
  return out;
}

/** Reads every user at `level` until all are answered by `port` (polls a condition, no timing). */
async function readsServedBy(c: pg.Client, level: string, users: number[], port: number): Promise<number[]> {
  for (let round = 0; ; round++) {
    const reads = [];
    for (const u of users) reads.push(await readAt(c, level, u));
    if (reads.every((r) => r.port === port)) return reads.map((r) => r.likes);
    if (round > 300)
      throw new Error(`${level} reads still answered by ${reads.map((r) => r.port).join(',')}`);
    await sleep(100);
  }
}

describe('a split into targets with streaming replicas', () => {
  it('refuses a target whose listed replica is not a standby of it', async () => {
    const config = fx.proxy.topology.currentConfig;
    const spares = config.migration.spares.map((s) =>
      s.name === 'spare3' ? { ...s, replicas: [{ ...config.migration.spares[0]!.replicas[0]! }] } : s,
    );
    fx.proxy.topology.rebuild({ ...config, migration: { ...config.migration, spares } });
    try {
      await expect(
        fx.proxy.migrations!.start({ shard: 's1', at: 'c0', targets: ['spare3', 'spare2'], verify: 'full' }),
      ).rejects.toThrow(/spare1-replica1 is not a standby of target spare3/);
    } finally {
      fx.proxy.topology.rebuild(config);
    }
  });

  it('switches with the replicas fenced, then serves eventual and bounded reads from them', async () => {
    const spare1 = fx.cluster.server('spare1');
    const spare2 = fx.cluster.server('spare2');
    const heldBack = fx.cluster.server('spare1-replica1');
    const streaming = fx.cluster.server('spare2-replica1');
    // spare1's replica replays nothing the split writes until the delay is lifted below.
    await fx.cluster.setReplayDelay('spare1-replica1', 24 * 3_600_000);
    // Lighter than migrationWriters' default: the capture must catch up on a loaded machine too.
    const load = migrationWriters(fx, [...leftUsers, ...rightUsers], 1_000_000_000, {
      writers: 4,
      readers: 1,
      writesPerSecond: 120,
    });
    await sleep(500);
    const started = await fx.proxy.migrations!.start({
      shard: 's0',
      at: '40',
      targets: ['spare1', 'spare2'],
      verify: 'full',
    });
    const done = await settleUnderWriters(fx, started.id, load, 'split with replicas', 180_000);
    expect(done.phase, done.status).toBe('verified');
    expect(load.ledger.errors).toEqual([]);
    expect(load.ledger.staleOwnReads).toBe(0);
    await expectLedgerHolds(fx, load.ledger, 1_000_000_000);

    const config = fx.proxy.topology.currentConfig;
    expect(config.shards.find((s) => s.name === 's0a')!.replicas.map((r) => r.name)).toEqual([
      'spare1-replica1',
    ]);
    expect(config.shards.find((s) => s.name === 's0b')!.replicas.map((r) => r.name)).toEqual([
      'spare2-replica1',
    ]);
    // The held-back replica is fenced at s0a's switch position; it has not replayed it.
    const s0a = fx.proxy.topology.view().shards.find((s) => s.name === 's0a')!;
    expect(s0a.replicas[0]!.catchUpTo).toBe(done.switchPositions!.s0a);

    const c = await fx.client();
    const leftTruth = await likesOn('spare1', leftUsers);
    const rightTruth = await likesOn('spare2', rightUsers);
    expect(leftTruth.some((n) => n > 0)).toBe(true);
    expect(rightTruth.some((n) => n > 0)).toBe(true);
    // Strong: the halves' primaries.
    for (const [i, u] of leftUsers.entries())
      expect(await readAt(c, 'strong', u)).toEqual({ port: spare1.port, likes: leftTruth[i] });
    for (const [i, u] of rightUsers.entries())
      expect(await readAt(c, 'strong', u)).toEqual({ port: spare2.port, likes: rightTruth[i] });
    // s0b's replica streams: once it has replayed the switch, eventual and bounded reads go there.
    await fx.cluster.waitForReplay('spare2-replica1');
    expect(await readsServedBy(c, 'eventual', rightUsers, streaming.port)).toEqual(rightTruth);
    expect(await readsServedBy(c, 'bounded', rightUsers, streaming.port)).toEqual(rightTruth);
    // s0a's replica is behind the switch: every level reads s0a's primary, never the replica.
    for (const level of ['eventual', 'bounded', 'weak', 'read_your_writes']) {
      for (const [i, u] of leftUsers.entries())
        expect(await readAt(c, level, u)).toEqual({ port: spare1.port, likes: leftTruth[i] });
    }
    expect(s0a.replicas[0]!.catchUpTo).toBe(done.switchPositions!.s0a);
    // Lifted: it replays the switch position, the fence goes, and it serves with every row.
    await fx.cluster.setReplayDelay('spare1-replica1', 0);
    await fx.cluster.waitForReplay('spare1-replica1', 60_000);
    expect(await readsServedBy(c, 'eventual', leftUsers, heldBack.port)).toEqual(leftTruth);
    expect(s0a.replicas[0]!.catchUpTo ?? null).toBeNull();
  }, 300_000);

  it("read_your_writes on a half with a replica sees the session's own write", async () => {
    const c = await fx.client();
    await c.query('SET shardgate.consistency = read_your_writes');
    for (const [i, u] of rightUsers.entries()) {
      await c.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 7)', [3_000_000_000 + i, u]);
      const r = await c.query('SELECT count(*)::int AS n FROM likes WHERE id = $1 AND user_id = $2', [
        3_000_000_000 + i,
        u,
      ]);
      expect(r.rows[0].n).toBe(1);
    }
  });
});
