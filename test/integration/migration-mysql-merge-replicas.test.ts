// A MySQL/MariaDB merge into a spare that has a GTID replica (migration.spares[].replicas), under a
// mysql2 write stream through shardgate's MySQL port: the switch installs the spare's replica as
// the merged shard's replica, fenced at the switch position, and once it has replayed that
// position it answers eventual reads (told by @@server_id) with every row acknowledged before
// the block, from both sources.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationState } from '../../src/migration/state-store.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const BASE = 80_000_000;
const DAY_MS = 24 * 3_600_000;

let fx: MysqlProxyFixture;

beforeAll(async () => {
  fx = await startMysqlProxyFixture({
    shards: 2,
    replicas: 1,
    demoUsers: 40,
    // The migration manager is started with the admin server.
    admin: true,
    overrides: {
      migration: {
        stateDir: join(mkdtempSync(join(tmpdir(), 'sg-mysql-merge-replicas-')), 'migrations'),
        rowsPerSecond: 50_000,
        cutoverDeadlineMs: 15_000,
        inflightGraceMs: 200,
      },
      // Only the switch's fence and the replica's position decide whether it serves, not its lag.
      routing: { lagPollIntervalMs: 20, replicaHardLagLimitMs: DAY_MS, defaultMaxLagMs: DAY_MS },
    },
  });
  const spare = await fx.cluster.addSpare('spare1', 1);
  const base = fx.proxy.topology.currentConfig;
  fx.proxy.topology.rebuild({
    ...base,
    migration: {
      ...base.migration,
      spares: [
        {
          name: spare.name,
          host: spare.host,
          port: spare.port,
          replicas: (fx.cluster.spareReplicas.get(spare.name) ?? []).map((r) => ({
            name: r.name,
            host: r.host,
            port: r.port,
          })),
        },
      ],
    },
  });
}, 300_000);

afterAll(async () => {
  await fx?.stop();
});

/** Inserts likes of users 1..40 (both shards) through the proxy; an id counts once acknowledged. */
function startWriter() {
  const acked: Array<{ id: number; at: number }> = [];
  const errors: string[] = [];
  let stop = false;
  const done = (async () => {
    let c: mysql.Connection | null = null;
    for (let id = BASE; !stop; id++) {
      try {
        c ??= await fx.connect();
        await c.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [id, (id % 40) + 1]);
        acked.push({ id, at: Date.now() });
      } catch (err) {
        const e = err as { errno?: number; message: string };
        // 1213: the cutover rolled back a transaction that outlived its grace; it was not acknowledged.
        if (e.errno !== 1213) errors.push(`${e.errno}: ${e.message}`);
        c?.destroy();
        c = null;
      }
      await sleep(5);
    }
    await c?.end().catch(() => undefined);
  })();
  return {
    acked,
    errors,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

describe('a MySQL merge into a spare with a GTID replica', () => {
  it("installs the spare's replica for the merged shard, which serves eventual reads with every row", async () => {
    const writer = startWriter();
    let done: MigrationState;
    try {
      await waitFor('the first writes', () => writer.acked.length > 40, 60_000, 20);
      const started = await fx.proxy.migrations!.startMerge({
        shards: ['s0', 's1'],
        into: 'spare1',
        verify: 'full',
      });
      await waitFor(
        `merge ${started.id} to be verified`,
        () => {
          const s = fx.proxy.migrations!.get(started.id);
          if (s.error) throw new Error(`merge failed: ${s.error}`);
          return s.phase === 'verified';
        },
        240_000,
        100,
      );
      done = fx.proxy.migrations!.get(started.id);
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
