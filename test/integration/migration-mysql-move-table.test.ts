// A MySQL table move through the migration manager, as an operator runs it: `shardgate migrate
// move-table` (the CLI, against the admin API of a real `shardgate start` process from dist/)
// moves the unsharded table site_notes from s0 (the MySQL default shard) to s1 while mysql2
// writers insert into it and into likes through port 6033. Afterwards every acknowledged write is
// on the table's new home, reads through the proxy return each exactly once and nothing that was
// not acknowledged, and no write failed with anything but the cutover's retryable 1213. A second
// move (site_log, 9,000 rows, a throttled copy) shows its progress, is killed (SIGKILL) mid-copy
// and resumed from its checkpoint: every row and acknowledged write once on s1.
import { describe, expect, it } from 'vitest';
import { statusWhileCopying } from '../support/copy-progress.js';
import { likesWriter, seededOneSpareSuite, unshardedWriter } from '../support/integ-mysql-migration.js';
import { notOnce } from '../support/mysql-migration-driver.js';
import { startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const s = seededOneSpareSuite('mysql-move-token', 'sg-mysql-move-');

describe('MySQL table move through the migration manager', () => {
  /** The first move, cleaned up before the second (a shard takes part in one migration at a time). */
  let first = '';

  it('moves the unsharded site_notes from s0 to s1 under writes, each acknowledged write once on s1', async () => {
    const { d, config, primaryOf } = s;
    d.proc = await startShardgateProcess(config, 90_000);
    const notes = unshardedWriter(s, 'site_notes', 1_000);
    const likes = likesWriter(s, 60_000_000);
    try {
      await waitFor('the first writes', () => notes.acked.length > 20 && likes.acked.length > 20, 60_000, 20);
      const started = await d.migrate('move-table', 'site_notes', '--to', 's1', '--no-follow', '--json');
      expect(started.stderr).toBe('');
      expect(started.status).toBe(0);
      const id = (JSON.parse(started.stdout) as { id: string }).id;
      expect(id).toMatch(/^move-site_notes-/);
      first = id;
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
      await notes.stop();
      await likes.stop();
    }
    expect(notes.errors).toEqual([]);
    expect(likes.errors).toEqual([]);
    // On s1 (the new home) every acknowledged note.
    const onS1 = await d.countsOn(primaryOf('s1'), 'site_notes', 1);
    expect(notOnce(notes.acked, onS1)).toEqual([]);
    // Through the proxy: the table is read from s1, every acknowledged row once, nothing else new.
    const reader = await d.connect();
    try {
      const [rows] = await reader.query('SELECT id, body FROM site_notes ORDER BY id');
      const list = rows as Array<{ id: number; body: string }>;
      expect(list.slice(0, 3)).toEqual([
        { id: 1, body: 'a' },
        { id: 2, body: 'b' },
        { id: 3, body: 'c' },
      ]);
      const seen = new Map<number, number>();
      for (const r of list) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
      expect(notOnce(notes.acked, seen)).toEqual([]);
      // Nothing that was not acknowledged (no kill here: every failed write was rolled back).
      const acked = new Set(notes.acked);
      expect(list.filter((r) => r.id > 3 && !acked.has(r.id))).toEqual([]);
      for (const r of list) if (r.id > 3) expect(r.body).toBe(`n${r.id}`);
    } finally {
      await reader.end();
    }
    // The likes writes to both shards went on; each is on its owner once.
    const likesOn = await Promise.all(['s0', 's1'].map((s) => d.countsOn(primaryOf(s), 'likes', 60_000_000)));
    const total = new Map<number, number>();
    for (const m of likesOn) for (const [k, n] of m) total.set(k, (total.get(k) ?? 0) + n);
    expect(notOnce(likes.acked, total)).toEqual([]);
  }, 600_000);

  it('moves site_log to s1 under writes, survives a SIGKILL mid-copy, resumes from its checkpoint', async () => {
    const { fx, d, config, primaryOf } = s;
    if (!d.proc || d.proc.exited() !== null) d.proc = await startShardgateProcess(config, 90_000);
    if (first) expect((await d.migrate('cleanup', first)).status).toBe(0);
    // 9,000 rows: at 1,500 rows/s the copy is still running when the kill comes.
    const s0 = primaryOf('s0');
    await fx.cluster.query(s0, 'CREATE TABLE site_log (id INT PRIMARY KEY, body VARCHAR(20))');
    for (let chunk = 0; chunk < 3; chunk++) {
      const values = Array.from({ length: 3000 }, (_, i) => `(${chunk * 3000 + i + 1}, 'seed')`);
      await fx.cluster.query(s0, `INSERT INTO site_log (id, body) VALUES ${values.join(', ')}`);
    }
    const rows = d.startWriter(100_000, (c, id) =>
      c.query('INSERT INTO site_log (id, body) VALUES (?, ?)', [id, `n${id}`]),
    );
    let id = '';
    try {
      await waitFor('the first writes', () => rows.acked.length > 20, 60_000, 20);
      const started = await d.migrate('move-table', 'site_log', '--to', 's1', '--no-follow', '--json');
      expect(started.stderr).toBe('');
      expect(started.status).toBe(0);
      id = (JSON.parse(started.stdout) as { id: string }).id;

      // Progress in the API (and `migrate status`) while the copy runs, then the kill.
      const seen = await statusWhileCopying(
        d,
        id,
        'the copy of site_log to pass 1,500 rows',
        (s) => s.copy.rows >= 1_500,
        180_000,
      );
      expect(seen.copy.estimatedRows).toBeGreaterThan(0);
      expect(seen.state.mysql?.copy?.gtidPosition).toMatch(/^\d+-\d+-\d+/);
      await d.killAndRestart(config);
      const listed = await d.migrate('status');
      expect(listed.stdout).toContain(id);
      expect(listed.stdout).toContain('copying');
      const after = await d.status(id);
      expect(after.phase).toBe('copying');
      // The state file kept the checkpoint: at least what the API showed before the kill.
      expect(after.copy.rows).toBeGreaterThanOrEqual(seen.copy.rows);
      expect(after.state.copy.find((t) => t.table === 'site_log')?.done).toBe(false);
      const resumed = await d.migrate('resume', id, '--json');
      expect(resumed.stderr).toBe('');
      expect(resumed.status).toBe(0);

      const state = await d.until(id, 'verified');
      expect(state.plan.operation).toBe('move');
      expect(state.verify?.mismatches).toEqual([]);
      expect(state.cutovers.at(-1)?.outcome).toBe('switched');
      // Resumed in the copy, not started over (which would pass through schema again), and the
      // copy counted the seeded rows once.
      expect(state.history.filter((h) => h.phase === 'schema')).toHaveLength(1);
      const copied = state.copy.find((t) => t.table === 'site_log')!;
      expect(copied.done).toBe(true);
      expect(copied.rows).toBeGreaterThanOrEqual(9_000);
      expect(copied.rows).toBeLessThan(18_000);
      const afterSwitch = rows.acked.length;
      await waitFor('writes after the switch', () => rows.acked.length > afterSwitch + 20, 60_000, 20);
    } finally {
      await rows.stop();
    }
    expect(rows.errors).toEqual([]);
    // On s1 every seeded row and every acknowledged write exactly once.
    const onS1 = await d.countsOn(primaryOf('s1'), 'site_log', 1);
    const seeded = Array.from({ length: 9_000 }, (_, i) => i + 1);
    expect(notOnce(seeded, onS1)).toEqual([]);
    expect(notOnce(rows.acked, onS1)).toEqual([]);
    // Through the proxy the table is read from s1: the same rows.
    const reader = await d.connect();
    try {
      const [read] = await reader.query('SELECT count(*) AS n FROM site_log');
      expect(Number((read as Array<{ n: number | string }>)[0]!.n)).toBe(onS1.size);
    } finally {
      await reader.end();
    }
  }, 900_000);
});
