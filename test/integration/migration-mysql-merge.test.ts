// A MySQL merge through the migration manager, as an operator runs it: `shardgate migrate merge`
// (the CLI, against the admin API of a real `shardgate start` process from dist/) merges the
// MariaDB shards s0 and s1 into a spare while mysql2 writers insert into likes (both shards) and
// into the unsharded site_notes (on s0) through port 6033; the proxy is killed (SIGKILL) in the
// middle of the second source's copy, started again on the same state directory, and `migrate
// resume` goes on from the checkpoints. Afterwards every acknowledged write is on the merged shard
// exactly once, the rows both sources held are there, and reads through the proxy return each
// acknowledged row once.
import { describe, expect, it } from 'vitest';
import { statusWhileCopying } from '../support/copy-progress.js';
import {
  likesWriter,
  MIGRATION_USERS,
  seededOneSpareSuite,
  stopWriters,
  unshardedWriter,
  writeErrors,
} from '../support/integ-mysql-migration.js';
import { countsVia, notOnce } from '../support/mysql-migration-driver.js';
import { startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const s = seededOneSpareSuite('mysql-merge-token', 'sg-mysql-merge-');

describe('MySQL merge through the migration manager', () => {
  it('merges s0 and s1 into spare1 under writes, survives a SIGKILL in the second copy, every write once', async () => {
    const { d, fx, config, primaryOf } = s;
    const spare = s.spares[0]!;
    d.proc = await startShardgateProcess(config, 90_000);
    const likes = likesWriter(s, 70_000_000);
    const notes = unshardedWriter(s, 'site_notes', 100_000);
    let id = '';
    try {
      await waitFor('the first writes', () => likes.acked.length > 20 && notes.acked.length > 20, 60_000, 20);
      id = await d.start('merge', 's1', 's0', '--into', 'spare1');
      expect(id).toMatch(/^merge-s0-s1-/);

      // The kill, once the second source's copy is under way.
      const seen = await statusWhileCopying(
        d,
        id,
        "the copy of s1's rows to pass 1,500",
        (s) => (s.state.mysql?.sources?.[0]?.copy?.tables.reduce((n, t) => n + t.rows, 0) ?? 0) >= 1_500,
        180_000,
      );
      expect(seen.state.plan.protocol).toBe('mysql');
      expect(seen.state.plan.merge?.sources.map((s) => s.shard)).toEqual(['s0', 's1']);
      // site_notes lives on s0 (the MySQL default shard): it moves with s0.
      expect(seen.state.plan.merge?.sources[0]?.tables.find((t) => t.name === 'site_notes')?.kind).toBe(
        'unsharded',
      );
      expect(seen.state.mysql?.copy?.tables.every((t) => t.done)).toBe(true);
      await d.killAndRestart(config);
      const after = await d.status(id);
      expect(after.phase).toBe('copying');
      const second = after.state.mysql?.sources?.[0]?.copy;
      expect(second?.tables.find((t) => t.table === 'likes')?.done).toBe(false);
      expect(second?.gtidPosition).toMatch(/^\d+-\d+-\d+/);
      await d.ok('resume', id);

      const state = await d.until(id, 'verified');
      expect(state.verify?.mismatches).toEqual([]);
      expect(state.cutovers.at(-1)?.outcome).toBe('switched');
      const phases = state.history.map((h) => h.phase);
      // Resumed in the copy, not started over.
      expect(phases.filter((p) => p === 'schema')).toHaveLength(1);
      for (const p of ['copying', 'catching_up', 'blocking', 'switched', 'verified'])
        expect(phases).toContain(p);
      const afterSwitch = likes.acked.length;
      await waitFor('writes after the switch', () => likes.acked.length > afterSwitch + 20, 60_000, 20);
    } finally {
      await stopWriters(likes, notes);
    }
    expect(writeErrors(likes, notes)).toEqual([]);

    // On the merged shard's server every acknowledged write exactly once.
    const merged = await d.countsOn(spare.name, 'likes', 70_000_000);
    expect(likes.acked.length).toBeGreaterThan(0);
    expect(notOnce(likes.acked, merged)).toEqual([]);
    const mergedNotes = await d.countsOn(spare.name, 'site_notes', 100_000);
    expect(notOnce(notes.acked, mergedNotes)).toEqual([]);
    // Every row the sources held in their own ranges is there (the copy, the capture and the resume).
    for (const [shard, from] of [
      ['s0', 10_000_000],
      ['s1', 20_000_000],
    ] as const) {
      const own = await d.countsOn(primaryOf(shard), 'likes', from);
      const ids = [...own.keys()].filter((k) => k < from + 6000);
      expect(ids).toHaveLength(6000);
      const onSpare = await d.countsOn(spare.name, 'likes', from);
      expect(ids.filter((k) => onSpare.get(k) !== 1)).toEqual([]);
    }

    // Through the proxy: s0 and s1 are gone from the MySQL routing, reads come from the merged
    // shard, each acknowledged row once.
    await d.withConnection(async (reader) => {
      const counts = await countsVia(reader, 'SELECT id FROM likes WHERE id >= 70000000');
      expect(notOnce(likes.acked, counts)).toEqual([]);
      const noteCounts = await countsVia(reader, 'SELECT id FROM site_notes WHERE id >= 100000');
      expect(notOnce(notes.acked, noteCounts)).toEqual([]);
      const [[one]] = (await reader.query('SELECT count(*) AS n FROM likes WHERE user_id = ?', [
        MIGRATION_USERS[0],
      ])) as unknown as [[{ n: number | string }]];
      const direct = await fx.cluster.query<{ n: number | string }>(
        spare.name,
        `SELECT count(*) AS n FROM likes WHERE user_id = ${MIGRATION_USERS[0]}`,
      );
      expect(Number(one.n)).toBe(Number(direct[0]!.n));
    });
  }, 900_000);
});
