// A MySQL shard split through the migration manager, as an operator runs it: `shardgate migrate
// split` (the CLI, against the admin API of a real `shardgate start` process from dist/) splits a
// MariaDB shard while a mysql2 writer inserts through port 6033; the proxy is killed (SIGKILL) in
// the middle of the copy, started again on the same state directory, and `migrate resume` goes
// on from the saved checkpoint to the cutover block and the switch. Afterwards every
// acknowledged write is on the half owning its key exactly once and on no other server of the
// new topology, and the API showed the copy's progress and the phases on the way.
import { describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { keyOwner } from '../../src/migration/row-owner.js';
import { statusWhileCopying } from '../support/copy-progress.js';
import { likesWriter, mysqlMigrationSuite, seedLikes } from '../support/integ-mysql-migration.js';
import { countsVia } from '../support/mysql-migration-driver.js';
import { startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// site_notes, an unsharded table on the first MySQL shard (its MySQL default), moves to the first
// half; enough likes rows on s0 that the throttled copy is still running when the proxy is killed.
const s = mysqlMigrationSuite(
  {
    token: 'mysql-split-token',
    stateDirPrefix: 'sg-mysql-split-',
    spares: ['spare1', 'spare2'],
    unsharded: ['site_notes'],
    throttled: true,
  },
  (s) => seedLikes(s, 's0', 10_000_000, 6),
);

describe('MySQL split through the migration manager', () => {
  it('splits s0 with `migrate split`, survives a SIGKILL mid-copy, resumes, switches exactly once', async () => {
    const { fx, d } = s;
    d.proc = await startShardgateProcess(s.config, 90_000);
    const writer = likesWriter(s, 70_000_000);
    try {
      await waitFor('the first writes', () => writer.acked.length > 20, 60_000, 20);
      const id = await d.start('split', 's0', '--targets', 'spare1,spare2', '--at', '40', '--verify', 'full');
      expect(id).toMatch(/^split-s0-/);

      // Progress in the API while the copy runs, then the kill.
      const seen = await statusWhileCopying(
        d,
        id,
        'the copy to pass 3,000 rows',
        (s) => s.copy.rows >= 3_000,
        120_000,
      );
      expect(seen.state.plan.protocol).toBe('mysql');
      expect(seen.state.plan.tables.find((t) => t.name === 'site_notes')?.kind).toBe('unsharded');
      expect(seen.copy.estimatedRows).toBeGreaterThan(0);
      expect(seen.state.mysql?.copy?.gtidPosition).toMatch(/^\d+-\d+-\d+/);
      await d.killAndRestart(s.config);
      const after = await d.status(id);
      expect(after.phase).toBe('copying');
      // The state file kept the checkpoint: at least what the API showed before the kill.
      expect(after.copy.rows).toBeGreaterThanOrEqual(seen.copy.rows);
      expect(after.state.copy.find((t) => t.table === 'likes')?.done).toBe(false);
      await d.ok('resume', id);

      const final = await d.until(id, 'verified');
      expect(final.verify?.mismatches).toEqual([]);
      expect(final.cutovers.at(-1)?.outcome).toBe('switched');
      const phases = final.history.map((h) => h.phase);
      for (const p of ['schema', 'copying', 'catching_up', 'blocking', 'switched', 'verified'])
        expect(phases).toContain(p);
      // Resumed in the copy, not started over (which would pass through schema again).
      expect(phases.filter((p) => p === 'schema')).toHaveLength(1);
      // The copy went on from its checkpoint instead of starting over: the rows it reports are
      // the table's rows once (a second full pass would count them twice).
      const likesCopy = final.copy.find((t) => t.table === 'likes')!;
      expect(likesCopy.done).toBe(true);

      await sleep(300);
      await writer.stop();
      const acked = writer.acked;
      expect(acked.length).toBeGreaterThan(0);
      const s0 = s.primaryOf('s0');
      const [older, all] = await Promise.all(
        ['SELECT count(*) AS n FROM likes WHERE id < 70000000', 'SELECT count(*) AS n FROM likes'].map(
          async (sql) => Number((await fx.cluster.query<{ n: string | number }>(s0, sql))[0]!.n),
        ),
      );
      // The copy counted every row that was there before the writer once, and at most the rows
      // the source ever had: a resume that started over would have counted the first part twice.
      expect(likesCopy.rows).toBeGreaterThanOrEqual(older!);
      expect(likesCopy.rows).toBeLessThanOrEqual(all!);

      // Every acknowledged write, on the servers of the new topology: exactly once, on its owner.
      const targets = final.plan.targets;
      const ranges = targets.map((t) => parseKeyRange(t.range));
      const keyType = final.plan.tables.find((t) => t.name === 'likes')!.keyType;
      const where = 'SELECT id, user_id FROM likes WHERE id >= 70000000';
      const onServer = async (name: string) =>
        new Map(
          (await fx.cluster.query<{ id: number | string; user_id: number | string }>(name, where)).map(
            (r) => [Number(r.id), Number(r.user_id)],
          ),
        );
      const halves = await Promise.all(targets.map((t) => onServer(t.server.name)));
      const s1 = await onServer(s.primaryOf('s1'));
      const problems: string[] = [];
      const userOf = new Map<number, number>();
      for (const m of [...halves, s1]) for (const [id, u] of m) userOf.set(id, u);
      for (const id of acked) {
        const u = userOf.get(id);
        if (u === undefined) {
          problems.push(`acknowledged ${id} missing`);
          continue;
        }
        const owner = fx.owner(u) === 's1' ? 's1' : targets[keyOwner(String(u), keyType, ranges)!]!.shard;
        const where = [
          ...targets.map((t, i) => (halves[i]!.has(id) ? t.shard : null)),
          s1.has(id) ? 's1' : null,
        ].filter((x) => x !== null);
        if (where.length !== 1 || where[0] !== owner)
          problems.push(`acknowledged ${id} (user ${u}, owner ${owner}) on [${where.join(', ')}]`);
      }
      expect(problems).toEqual([]);

      // Through the proxy after the switch: one row per acknowledged id (a row on two shards would
      // show twice in the scatter), and s0 is gone from the MySQL routing.
      await d.withConnection(async (reader) => {
        const counts = await countsVia(reader, 'SELECT id FROM likes WHERE id >= 70000000');
        expect(acked.filter((id) => counts.get(id) !== 1)).toEqual([]);
        const [notes] = await reader.query('SELECT id, body FROM site_notes ORDER BY id');
        expect(notes).toEqual([
          { id: 1, body: 'a' },
          { id: 2, body: 'b' },
          { id: 3, body: 'c' },
        ]);
      });

      // Cleanup removes the moved rows from the old server (rollback and verify after the switch:
      // migration-mysql-rollback.test.ts).
      await d.ok('cleanup', id);
      expect((await d.status(id)).phase).toBe('cleaned');
      const [left] = await fx.cluster.query<{ n: string | number }>(s0, 'SELECT count(*) AS n FROM likes');
      expect(Number(left!.n)).toBe(0);
    } finally {
      await writer.stop();
    }
  }, 600_000);
});
