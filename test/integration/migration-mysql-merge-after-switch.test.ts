// After a MySQL merge's switch, as an operator runs it against a real `shardgate start` process
// (dist/) and MariaDB servers from the launcher: the merged shard's reverse binlog capture carries
// each write made through port 6033 back to the source whose range holds its key (a reference
// row to both, the unsharded site_notes to s0), so `migrate rollback` returns traffic to s0 and s1
// with every acknowledged write on its owner (ids, counts and sums compared); a second merge into
// another spare is verified again after its switch while writes go on, and cleaned up, which empties the moved tables
// on both old servers while the merged shard keeps serving every write.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import type { MariadbServer } from '../../src/local/mariadb-cluster.js';
import { MysqlMigrationDriver, notOnce } from '../support/mysql-migration-driver.js';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const TOKEN = 'mysql-merge-after-token';
const USERS = Array.from({ length: 40 }, (_, i) => i + 1);
const REF = 'trending_topics';

let fx: MysqlProxyFixture;
let config: ShardgateConfig;
let d: MysqlMigrationDriver;
let refId: number;

const primaryOf = (shard: string) => fx.cluster.shards.find((s) => s.name === shard)!.primary.name;

beforeAll(async () => {
  fx = await startMysqlProxyFixture({ shards: 2, replicas: 0, demoUsers: 40 });
  const spares: MariadbServer[] = [];
  for (const name of ['spare1', 'spare2']) spares.push(await fx.cluster.addSpare(name));
  d = new MysqlMigrationDriver(TOKEN, fx.cluster);
  // An unsharded table of the MySQL front end, on its default shard s0 (no `home`).
  await fx.cluster.query(primaryOf('s0'), 'CREATE TABLE site_notes (id INT PRIMARY KEY, body VARCHAR(20))');
  await fx.cluster.query(primaryOf('s0'), "INSERT INTO site_notes VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  // A row of the reference table (the same rows on both shards) to change after the switch.
  const [ref] = await fx.cluster.query<{ id: number | string }>(
    primaryOf('s0'),
    `SELECT min(id) AS id FROM ${REF}`,
  );
  refId = Number(ref!.id);
  config = {
    ...fx.config,
    admin: { ...fx.config.admin, token: TOKEN },
    migration: {
      ...fx.config.migration,
      stateDir: join(mkdtempSync(join(tmpdir(), 'sg-mysql-merge-after-')), 'migrations'),
      cutoverDeadlineMs: 15_000,
      inflightGraceMs: 200,
      spares: spares.map((s) => ({ name: s.name, host: s.host, port: s.port, replicas: [] })),
    },
  };
  d.proc = await startShardgateProcess(config, 90_000);
}, 240_000);

afterAll(async () => {
  await d?.proc?.stop();
  await fx?.stop();
});

function likesWriter(base: number) {
  return d.startWriter(base, (c, id) =>
    c.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)', [id, USERS[id % USERS.length]]),
  );
}

async function merge(into: string): Promise<string> {
  const started = await d.migrate('merge', 's1', 's0', '--into', into, '--no-follow', '--json');
  expect(started.stderr).toBe('');
  expect(started.status).toBe(0);
  return (JSON.parse(started.stdout) as { id: string }).id;
}

async function count(server: string, table: string): Promise<number> {
  const [r] = await fx.cluster.query<{ n: number | string }>(server, `SELECT count(*) AS n FROM ${table}`);
  return Number(r!.n);
}

/** count(*) and sum(id) of the likes a writer from `from` made (its ids stay below from + 1M). */
async function countSum(server: string, from: number): Promise<{ n: number; sum: number }> {
  const [r] = await fx.cluster.query<{ n: number | string; s: number | string | null }>(
    server,
    `SELECT count(*) AS n, sum(id) AS s FROM likes WHERE id >= ${from} AND id < ${from + 1_000_000}`,
  );
  return { n: Number(r!.n), sum: Number(r!.s ?? 0) };
}

describe('MySQL merge after its switch', () => {
  it('rolls back through the proxy: every write made on the merged shard is on its source', async () => {
    const base = 70_000_000;
    const likes = likesWriter(base);
    let deleted = 0;
    let updated = 0;
    let id = '';
    try {
      await waitFor('the first writes', () => likes.acked.length > 20, 60_000, 20);
      id = await merge('spare1');
      const state = await d.until(id, 'verified');
      expect(state.plan.operation).toBe('merge');
      expect(state.mysql?.reverseGtid).toHaveLength(1);
      const atSwitch = likes.acked.length;
      await waitFor('writes on the merged shard', () => likes.acked.length >= atSwitch + 40, 60_000, 20);

      // Updates and deletes on the merged shard, of every kind of moved table.
      updated = likes.acked[0]!;
      deleted = likes.acked[1]!;
      const c = await d.connect();
      try {
        await c.query('UPDATE likes SET post_id = 99 WHERE id = ? AND user_id = ?', [
          updated,
          USERS[updated % USERS.length],
        ]);
        await c.query('DELETE FROM likes WHERE id = ? AND user_id = ?', [
          deleted,
          USERS[deleted % USERS.length],
        ]);
        await c.query("UPDATE site_notes SET body = 'changed' WHERE id = 2");
        await c.query("INSERT INTO site_notes VALUES (4, 'd')");
        await c.query(`UPDATE ${REF} SET topic = 'changed' WHERE id = ?`, [refId]);
      } finally {
        await c.end();
      }
      const back = await d.migrate('rollback', id, '--json');
      expect(back.stderr).toBe('');
      expect(back.status).toBe(0);
      const rolled = await d.until(id, 'rolled_back');
      expect(rolled.cutovers.at(-1)?.outcome).toBe('switched');
      const atRollback = likes.acked.length;
      await waitFor('writes after the rollback', () => likes.acked.length >= atRollback + 20, 60_000, 20);
    } finally {
      await likes.stop();
    }
    expect(likes.errors).toEqual([]);

    // Every acknowledged write on its owner exactly once, nowhere else; count and sum per source.
    const kept = likes.acked.filter((a) => a !== deleted);
    for (const shard of ['s0', 's1']) {
      const own = kept.filter((a) => fx.owner(USERS[a % USERS.length]!) === shard);
      const other = kept.filter((a) => fx.owner(USERS[a % USERS.length]!) !== shard);
      const held = await d.countsOn(primaryOf(shard), 'likes', base);
      expect(notOnce(own, held)).toEqual([]);
      expect(other.filter((a) => held.has(a))).toEqual([]);
      expect(held.has(deleted)).toBe(false);
      expect(await countSum(primaryOf(shard), base)).toEqual({
        n: own.length,
        sum: own.reduce((n, a) => n + a, 0),
      });
      const [ref] = await fx.cluster.query<{ topic: string }>(
        primaryOf(shard),
        `SELECT topic FROM ${REF} WHERE id = ${refId}`,
      );
      expect(ref!.topic).toBe('changed');
    }
    const owner = fx.owner(USERS[updated % USERS.length]!);
    const [u] = await fx.cluster.query<{ post_id: number | string }>(
      primaryOf(owner),
      `SELECT post_id FROM likes WHERE id = ${updated}`,
    );
    expect(Number(u!.post_id)).toBe(99);
    expect(await fx.cluster.query(primaryOf('s0'), 'SELECT id, body FROM site_notes ORDER BY id')).toEqual([
      { id: 1, body: 'a' },
      { id: 2, body: 'changed' },
      { id: 3, body: 'c' },
      { id: 4, body: 'd' },
    ]);

    // Through the proxy: s0 and s1 serve again, each acknowledged row once; a new write reaches
    // its source, not the spare.
    const reader = await d.connect();
    try {
      const [rows] = await reader.query(`SELECT id FROM likes WHERE id >= ${base}`);
      const counts = new Map<number, number>();
      for (const r of rows as Array<{ id: number | string }>)
        counts.set(Number(r.id), (counts.get(Number(r.id)) ?? 0) + 1);
      expect(notOnce(kept, counts)).toEqual([]);
      expect(counts.has(deleted)).toBe(false);
      const fresh = 79_999_999;
      const user = USERS.find((x) => fx.owner(x) === 's1')!;
      await reader.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 3)', [fresh, user]);
      await reader.query("INSERT INTO site_notes VALUES (5, 'e')");
      expect((await d.countsOn(primaryOf('s1'), 'likes', fresh)).get(fresh)).toBe(1);
      expect((await d.countsOn('spare1', 'likes', fresh)).has(fresh)).toBe(false);
      expect((await d.countsOn(primaryOf('s0'), 'site_notes', 5)).get(5)).toBe(1);
    } finally {
      await reader.end();
    }
    // Rolled back is final.
    expect((await d.migrate('cleanup', id)).status).not.toBe(0);
  }, 900_000);

  it('verifies again after the switch, then cleanup empties both old servers', async () => {
    const base = 71_000_000;
    const likes = likesWriter(base);
    let id = '';
    try {
      await waitFor('the first writes', () => likes.acked.length > 20, 60_000, 20);
      id = await merge('spare2');
      await d.until(id, 'verified');
      const atSwitch = likes.acked.length;
      await waitFor('writes on the merged shard', () => likes.acked.length >= atSwitch + 40, 60_000, 20);
      // Verification again while the writes to the merged shard go on through port 6033.
      await d.verifyWhileWriting(id, likes);
      await likes.stop();
      const cleanup = await d.migrate('cleanup', id, '--json');
      expect(cleanup.stderr).toBe('');
      expect(cleanup.status).toBe(0);
      await d.until(id, 'cleaned');
    } finally {
      await likes.stop();
    }
    expect(likes.errors).toEqual([]);
    // The old copies are gone from both servers (the tables stay, empty); the merged shard holds
    // every acknowledged write once and serves it.
    for (const shard of ['s0', 's1'])
      for (const table of ['likes', REF, 'users']) expect(await count(primaryOf(shard), table)).toBe(0);
    expect(await count(primaryOf('s0'), 'site_notes')).toBe(0);
    expect(await count('spare2', 'users')).toBeGreaterThan(0);
    const merged = await d.countsOn('spare2', 'likes', base);
    expect(notOnce(likes.acked, merged)).toEqual([]);
    expect(await countSum('spare2', base)).toEqual({
      n: likes.acked.length,
      sum: likes.acked.reduce((n, a) => n + a, 0),
    });
    const reader = await d.connect();
    try {
      const [rows] = await reader.query(
        `SELECT count(*) AS n FROM likes WHERE id >= ${base} AND id < ${base + 1_000_000}`,
      );
      expect(Number((rows as Array<{ n: number | string }>)[0]!.n)).toBe(likes.acked.length);
      const [notes] = await reader.query('SELECT count(*) AS n FROM site_notes');
      expect(Number((notes as Array<{ n: number | string }>)[0]!.n)).toBe(5);
      // A write after the cleanup reaches the merged shard only.
      const fresh = 79_999_998;
      await reader.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 3)', [fresh, USERS[0]]);
      expect((await d.countsOn('spare2', 'likes', fresh)).get(fresh)).toBe(1);
      for (const shard of ['s0', 's1']) expect(await count(primaryOf(shard), 'likes')).toBe(0);
    } finally {
      await reader.end();
    }
  }, 900_000);
});
