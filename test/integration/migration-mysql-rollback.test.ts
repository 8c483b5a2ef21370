// After a MySQL split's switch, as an operator runs it against a real `shardgate start` process
// (dist/) and MariaDB servers from the launcher: the reverse binlog capture of each half keeps the
// old source current while a mysql2 writer inserts through port 6033, so `migrate rollback` (also
// after a SIGKILL of the proxy between the switch and the rollback) returns traffic to the source
// with every acknowledged write on it; `migrate verify` re-runs the whole-table verification
// after the switch (and fails on a row of the old server changed behind the proxy's back, which
// keeps cleanup refused); `migrate cleanup` empties the moved rows from the old server.
import type mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { likesWriter, MIGRATION_USERS, mysqlMigrationSuite } from '../support/integ-mysql-migration.js';
import { countsVia } from '../support/mysql-migration-driver.js';
import { waitFor } from '../support/wait-for.js';

// site_notes, an unsharded table on s0 (the MySQL default shard), moves to the first half and back.
const s = mysqlMigrationSuite({
  token: 'mysql-rollback-token',
  stateDirPrefix: 'sg-mysql-rollback-',
  spares: ['spare1', 'spare2', 'spare3', 'spare4'],
  unsharded: ['site_notes'],
  startProcess: true,
});
const primaryOf = (shard: string) => s.primaryOf(shard);
/** The user likesWriter wrote a like `id` for. */
const userOf = (id: number) => MIGRATION_USERS[id % MIGRATION_USERS.length]!;

async function split(shard: string, at: string, targets: string): Promise<string> {
  return s.d.start('split', shard, '--targets', targets, '--at', at, '--verify', 'full');
}

async function rows<T>(server: string, sql: string): Promise<T[]> {
  return s.fx.cluster.query<T & Record<string, unknown>>(server, sql) as Promise<T[]>;
}

async function likeIds(server: string, from: number): Promise<Map<number, number>> {
  const found = await rows<{ id: number | string; user_id: number | string }>(
    server,
    `SELECT id, user_id FROM likes WHERE id >= ${from}`,
  );
  return new Map(found.map((r) => [Number(r.id), Number(r.user_id)]));
}

describe('MySQL split after its switch', () => {
  it('rolls back through the proxy (after a SIGKILL too) with every write made on the halves', async () => {
    const { fx, config, d } = s;
    const s0Users = MIGRATION_USERS.filter((u) => fx.owner(u) === 's0');
    const writer = likesWriter(s, 80_000_000);
    const reader = { conn: null as mysql.Connection | null };
    try {
      await waitFor('the first writes', () => writer.acked.length > 20, 60_000, 20);
      const id = await split('s0', '40', 'spare1,spare2');
      const switched = await d.until(id, 'verified');
      expect(switched.plan.protocol).toBe('mysql');
      expect(switched.mysql?.reverseGtid).toHaveLength(2);
      const atSwitch = writer.acked.length;
      await waitFor('writes on the halves', () => writer.acked.length >= atSwitch + 40, 60_000, 20);

      // Updates and deletes on the halves through the proxy, of every kind of moved table.
      const before = writer.acked.slice(0, atSwitch).filter((a) => fx.owner(userOf(a)) === 's0');
      const updated = before[0]!;
      const deleted = before[1]!;
      const ref = Object.entries(config.tables).find(([, t]) => t.reference)![0];
      const [refRow] = await rows<{ id: number | string }>(
        primaryOf('s0'),
        `SELECT min(id) AS id FROM ${ref}`,
      );
      const refId = Number(refRow!.id);
      reader.conn = await d.connect();
      await reader.conn.query('UPDATE likes SET post_id = 99 WHERE id = ? AND user_id = ?', [
        updated,
        userOf(updated),
      ]);
      await reader.conn.query('DELETE FROM likes WHERE id = ? AND user_id = ?', [deleted, userOf(deleted)]);
      await reader.conn.query("UPDATE site_notes SET body = 'changed' WHERE id = 2");
      await reader.conn.query("INSERT INTO site_notes VALUES (4, 'd')");
      await reader.conn.query(`UPDATE ${ref} SET user_id = 4242 WHERE id = ?`, [refId]);
      await reader.conn.end();
      reader.conn = null;

      // The proxy dies after the switch; started again, the reverse capture resumes from its
      // checkpoint in the state file.
      await d.killAndRestart(config);
      const restarted = writer.acked.length;
      await waitFor('writes after the restart', () => writer.acked.length >= restarted + 40, 60_000, 20);
      expect((await d.status(id)).state.phase).toBe('verified');

      await d.ok('rollback', id);
      const rolled = (await d.status(id)).state;
      expect(rolled.phase).toBe('rolled_back');
      expect(rolled.cutovers.at(-1)?.outcome).toBe('switched');
      const atRollback = writer.acked.length;
      await waitFor('writes after the rollback', () => writer.acked.length >= atRollback + 20, 60_000, 20);
      await writer.stop();

      // Every acknowledged write of an s0 user is on the old s0 server exactly as the halves had it.
      const s0 = await likeIds(primaryOf('s0'), 80_000_000);
      const s1 = await likeIds(primaryOf('s1'), 80_000_000);
      const missing = writer.acked
        .filter((a) => a !== deleted)
        .filter((a) => !(fx.owner(userOf(a)) === 's0' ? s0 : s1).has(a));
      expect(missing).toEqual([]);
      expect(s0.has(deleted)).toBe(false);
      expect(writer.acked.filter((a) => s0.has(a) && s1.has(a))).toEqual([]);
      const [u] = await rows<{ post_id: number | string }>(
        primaryOf('s0'),
        `SELECT post_id FROM likes WHERE id = ${updated}`,
      );
      expect(Number(u!.post_id)).toBe(99);
      expect(await rows(primaryOf('s0'), 'SELECT id, body FROM site_notes ORDER BY id')).toEqual([
        { id: 1, body: 'a' },
        { id: 2, body: 'changed' },
        { id: 3, body: 'c' },
        { id: 4, body: 'd' },
      ]);
      const [r] = await rows<{ user_id: number | string }>(
        primaryOf('s0'),
        `SELECT user_id FROM ${ref} WHERE id = ${refId}`,
      );
      expect(Number(r!.user_id)).toBe(4242);

      // Reads and writes through the proxy after the rollback: the old s0 serves the range again.
      reader.conn = await d.connect();
      const counts = await countsVia(reader.conn, 'SELECT id FROM likes WHERE id >= 80000000');
      expect(writer.acked.filter((a) => a !== deleted && counts.get(a) !== 1)).toEqual([]);
      expect(counts.has(deleted)).toBe(false);
      const fresh = 89_999_999;
      await reader.conn.query('INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 3)', [
        fresh,
        s0Users[0],
      ]);
      expect((await likeIds(primaryOf('s0'), fresh)).get(fresh)).toBe(s0Users[0]);
      for (const spare of ['spare1', 'spare2']) expect((await likeIds(spare, fresh)).has(fresh)).toBe(false);
      const [notes] = await reader.conn.query('SELECT body FROM site_notes WHERE id = 4');
      expect(notes).toEqual([{ body: 'd' }]);

      // Rolled back is final.
      const again = await d.migrate('cleanup', id);
      expect(again.status).not.toBe(0);
    } finally {
      await writer.stop();
      await reader.conn?.end().catch(() => undefined);
    }
  }, 600_000);

  it('verifies again after the switch and cleans up the old server', async () => {
    const { fx, d } = s;
    const s1Users = MIGRATION_USERS.filter((u) => fx.owner(u) === 's1');
    const writer = d.startWriter(90_000_000, (c, id) =>
      c.query({
        sql: 'INSERT INTO likes (id, user_id, post_id) VALUES (?, ?, 1)',
        values: [id, s1Users[id % s1Users.length]],
        timeout: 60_000,
      }),
    );
    try {
      await waitFor('the first writes', () => writer.acked.length > 20, 60_000, 20);
      const id = await split('s1', 'c0', 'spare3,spare4');
      await d.until(id, 'verified');
      const atSwitch = writer.acked.length;
      await waitFor('writes on the halves', () => writer.acked.length >= atSwitch + 40, 60_000, 20);
      await writer.stop();

      // A row changed on the old server behind the proxy's back (a change on a half would reach it
      // through the reverse capture): verification fails, cleanup is refused.
      const victim = writer.acked.at(-1)!;
      const old = primaryOf('s1');
      // Changed only once the reverse capture has brought the row there: an UPDATE before that
      // matches nothing, the capture's insert follows, and the verification rightly passes.
      await waitFor(
        'the last write on the old server',
        async () => (await rows(old, `SELECT id FROM likes WHERE id = ${victim}`)).length === 1,
        120_000,
        100,
      );
      await fx.cluster.query(old, `UPDATE likes SET post_id = 77 WHERE id = ${victim}`);
      // The CLI's `verify` follows the verification to its end and exits non-zero when it failed.
      const v1 = await d.migrate('verify', id, '--json');
      expect(v1.status).not.toBe(0);
      expect((JSON.parse(v1.stdout) as { status: string }).status).toMatch(/verification failed/);
      const failed = await d.until(id, 'switched', 400_000);
      expect(failed.verify?.mismatches.map((m) => m.table)).toEqual(['likes']);
      const refused = await d.migrate('cleanup', id);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/mismatch/);
      // A rollback onto a source that differs would lose the changed row: refused before any block.
      const noRollback = await d.migrate('rollback', id);
      expect(noRollback.status).not.toBe(0);
      expect(noRollback.stderr).toMatch(/differ from the targets.*likes.*not rolled back/);
      expect((await d.status(id)).state.phase).toBe('switched');

      await fx.cluster.query(old, `UPDATE likes SET post_id = 1 WHERE id = ${victim}`);
      const v2 = await d.migrate('verify', id, '--json');
      expect(v2.status).toBe(0);
      const verified = await d.until(id, 'verified');
      expect(verified.verify?.mismatches).toEqual([]);
      // The manager's own verification right after the switch, then the two asked for here.
      expect(verified.history.filter((h) => h.phase === 'verifying')).toHaveLength(3);

      const likesBefore = await rows<{ n: number | string }>(old, 'SELECT count(*) AS n FROM likes');
      expect(Number(likesBefore[0]!.n)).toBeGreaterThan(0);
      await d.ok('cleanup', id);
      const end = (await d.status(id)).state;
      expect(end.phase).toBe('cleaned');
      // Every moved table stays on the old server, empty (the whole range moved, and the
      // reference tables left with the shard).
      for (const t of end.plan.tables) {
        const [n] = await rows<{ n: number | string }>(old, `SELECT count(*) AS n FROM ${t.name}`);
        expect([t.name, Number(n!.n)]).toEqual([t.name, 0]);
      }
      // The halves still serve every acknowledged write through the proxy.
      await d.withConnection(async (reader) => {
        const ids = await countsVia(reader, 'SELECT id FROM likes WHERE id >= 90000000');
        expect(writer.acked.filter((a) => !ids.has(a))).toEqual([]);
      });
      const late = await d.migrate('rollback', id);
      expect(late.status).not.toBe(0);
      expect(late.stderr).toMatch(/cleanup/);
    } finally {
      await writer.stop();
    }
  }, 600_000);
});
