// A MySQL table move through the migration manager, as an operator runs it: `shardgate migrate
// move-table` (the CLI, against the admin API of a real `shardgate start` process from dist/)
// moves the unsharded table site_notes from s0 (the MySQL default shard) to s1 while mysql2
// writers insert into it and into likes through port 6033. Afterwards every acknowledged write is
// on the table's new home, reads through the proxy return each exactly once and nothing that was
// not acknowledged, and no write failed with anything but the cutover's retryable 1213.
import { describe, expect, it } from 'vitest';
import {
  likesWriter,
  mysqlMigrationSuite,
  stopWriters,
  unshardedWriter,
  writeErrors,
} from '../support/integ-mysql-migration.js';
import { countsVia, notOnce } from '../support/mysql-migration-driver.js';
import { startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const s = mysqlMigrationSuite({
  token: 'mysql-move-token',
  stateDirPrefix: 'sg-mysql-move-',
  // An unsharded table of the MySQL front end, on its default shard s0 (no `home`).
  unsharded: ['site_notes'],
  throttled: true,
});

describe('MySQL table move through the migration manager', () => {
  it('moves the unsharded site_notes from s0 to s1 under writes, each acknowledged write once on s1', async () => {
    const { d, config, primaryOf } = s;
    d.proc = await startShardgateProcess(config, 90_000);
    const notes = unshardedWriter(s, 'site_notes', 1_000);
    const likes = likesWriter(s, 60_000_000);
    try {
      await waitFor('the first writes', () => notes.acked.length > 20 && likes.acked.length > 20, 60_000, 20);
      const id = await d.start('move-table', 'site_notes', '--to', 's1');
      expect(id).toMatch(/^move-site_notes-/);
      const state = await d.until(id, 'verified');
      expect(state.plan.protocol).toBe('mysql');
      expect(state.plan.operation).toBe('move');
      expect(state.verify?.mismatches).toEqual([]);
      expect(state.cutovers.at(-1)?.outcome).toBe('switched');
      const phases = state.history.map((h) => h.phase);
      for (const p of ['schema', 'copying', 'catching_up', 'blocking', 'switched', 'verified'])
        expect(phases).toContain(p);
      // Writes after the switch land on the new home.
      const afterSwitch = notes.acked.length;
      await waitFor('writes after the switch', () => notes.acked.length > afterSwitch + 20, 60_000, 20);
    } finally {
      await stopWriters(notes, likes);
    }
    expect(writeErrors(notes, likes)).toEqual([]);
    // On s1 (the new home) every acknowledged note.
    const onS1 = await d.countsOn(primaryOf('s1'), 'site_notes', 1);
    expect(notOnce(notes.acked, onS1)).toEqual([]);
    // Through the proxy: the table is read from s1, every acknowledged row once, nothing else new.
    await d.withConnection(async (reader) => {
      const [rows] = await reader.query('SELECT id, body FROM site_notes ORDER BY id');
      const list = rows as Array<{ id: number; body: string }>;
      expect(list.slice(0, 3)).toEqual([
        { id: 1, body: 'a' },
        { id: 2, body: 'b' },
        { id: 3, body: 'c' },
      ]);
      expect(notOnce(notes.acked, await countsVia(reader, 'SELECT id FROM site_notes'))).toEqual([]);
      // Nothing that was not acknowledged (no kill here: every failed write was rolled back).
      const acked = new Set(notes.acked);
      expect(list.filter((r) => r.id > 3 && !acked.has(r.id))).toEqual([]);
      for (const r of list) if (r.id > 3) expect(r.body).toBe(`n${r.id}`);
    });
    // The likes writes to both shards went on; each is on its owner once.
    const likesOn = await d.countsOnAll([primaryOf('s0'), primaryOf('s1')], 'likes', 60_000_000);
    expect(notOnce(likes.acked, likesOn)).toEqual([]);
  }, 600_000);
});
