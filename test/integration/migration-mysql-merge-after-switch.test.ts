// After a MySQL merge's switch, as an operator runs it against a real `shardgate start` process
// (dist/) and MariaDB servers from the launcher: the merged shard's reverse binlog capture carries
// each write made through port 6033 back to the source whose range holds its key (a reference
// row to both, the unsharded site_notes to s0), so `migrate rollback` returns traffic to s0 and s1
// with every acknowledged write on its owner (ids, counts and sums compared); a second merge into
// another spare is verified again after its switch while writes go on, and cleaned up, which empties the moved tables
// on both old servers while the merged shard keeps serving every write.
import { describe, expect, it } from 'vitest';
import {
  likesWriter,
  mysqlMigrationSuite,
  MIGRATION_USERS as USERS,
} from '../support/integ-mysql-migration.js';
import { countSum, countsVia, notOnce, total } from '../support/mysql-migration-driver.js';
import { waitFor } from '../support/wait-for.js';

const REF = 'trending_topics';

let refId: number;
const s = mysqlMigrationSuite(
  {
    token: 'mysql-merge-after-token',
    stateDirPrefix: 'sg-mysql-merge-after-',
    spares: ['spare1', 'spare2'],
    // An unsharded table of the MySQL front end, on its default shard s0 (no `home`).
    unsharded: ['site_notes'],
    startProcess: true,
  },
  async (s) => {
    // A row of the reference table (the same rows on both shards) to change after the switch.
    const [ref] = await s.fx.cluster.query<{ id: number | string }>(
      s.primaryOf('s0'),
      `SELECT min(id) AS id FROM ${REF}`,
    );
    refId = Number(ref!.id);
  },
);

const merge = (into: string) => s.d.start('merge', 's1', 's0', '--into', into);

async function count(server: string, table: string): Promise<number> {
  const [r] = await s.fx.cluster.query<{ n: number | string }>(server, `SELECT count(*) AS n FROM ${table}`);
  return Number(r!.n);
}

/** count(*) and sum(id) of the likes a writer from `from` made (its ids stay below from + 1M). */
const likesCountSum = (server: string, from: number) =>
  countSum(s.fx.cluster, server, 'likes', from, from + 1_000_000);

describe('MySQL merge after its switch', () => {
  it('rolls back through the proxy: every write made on the merged shard is on its source', async () => {
    const base = 70_000_000;
    const { d, fx, primaryOf } = s;
    const likes = likesWriter(s, base);
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
      await d.ok('rollback', id);
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
      expect(await likesCountSum(primaryOf(shard), base)).toEqual(total(own));
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
    await d.withConnection(async (reader) => {
      const counts = await countsVia(reader, `SELECT id FROM likes WHERE id >= ${base}`);
      expect(notOnce(kept, counts)).toEqual([]);
      expect(counts.has(deleted)).toBe(false);
      const fresh = 79_999_999;
      const user = USERS.find((x) => fx.owner(x) === 's1')!;
      await reader.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 3)', [fresh, user]);
      await reader.query("INSERT INTO site_notes VALUES (5, 'e')");
      expect((await d.countsOn(primaryOf('s1'), 'likes', fresh)).get(fresh)).toBe(1);
      expect((await d.countsOn('spare1', 'likes', fresh)).has(fresh)).toBe(false);
      expect((await d.countsOn(primaryOf('s0'), 'site_notes', 5)).get(5)).toBe(1);
    });
    // Rolled back is final.
    expect((await d.migrate('cleanup', id)).status).not.toBe(0);
  }, 900_000);

  it('verifies again after the switch, then cleanup empties both old servers', async () => {
    const base = 71_000_000;
    const { d, primaryOf } = s;
    const likes = likesWriter(s, base);
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
      await d.reverifiedThenCleaned(id);
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
    expect(await likesCountSum('spare2', base)).toEqual(total(likes.acked));
    await d.withConnection(async (reader) => {
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
    });
  }, 900_000);
});
