// A live split through the real proxy while writers keep writing: every acknowledged write ends
// up exactly once on the shard that owns its key, nothing unacknowledged appears, the only client
// errors are 40001 retries, read-your-writes holds across the switch, verification passes again
// after the switch while writes go on, and a rollback carries the
// writes made on the targets back to the source. (The bench `split` scenario is the big version.)
import { describe, expect, it } from 'vitest';
import { type Ledger, usersIn } from '../../bench/lib/write-ledger.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import type { StartRequest } from '../../src/migration/manager.js';
import { useMigrationFixture } from '../support/migration-file-fixture.js';
import {
  expectLedgerHolds,
  migrationWriters,
  settleUnderWriters,
  sleep,
  verifyWhileWriting,
  waitForMigration,
} from '../support/migration-helpers.js';
import { waitFor } from '../support/wait-for.js';
import {
  expectCleanRun,
  expectInsertsStillHold,
  rollbackUnderWriters,
} from '../support/writer-run-checks.js';

const fx = useMigrationFixture({ shards: 2, replicas: 1, spares: 6, cutoverDeadlineMs: 2_000 });

const writers = (idBase: number) => migrationWriters(fx, usersIn(parseKeyRange('-80'), 100, 1, 50), idBase);

/** The split the dry run plans and the next test runs. */
const SPLIT_S0: StartRequest = { shard: 's0', at: 'auto', targets: ['spare1', 'spare2'], verify: 'full' };

describe('live split under writes', () => {
  let id = '';
  let load: ReturnType<typeof writers>;
  let beforeSplit: Ledger | null = null;

  it('plans a dry run with sizes, strategy and rollback plan', async () => {
    const plan = await fx.proxy.migrations!.plan(SPLIT_S0);
    expect(plan.targets.map((t) => t.range)).toEqual(['-40', '40-80']);
    expect(plan.tables.find((t) => t.name === 'likes')!.rows).toBeGreaterThan(0);
    expect(plan.rollback.length).toBeGreaterThan(0);
    expect(fx.proxy.migrations!.list()).toEqual([]);
  });

  it('splits s0 while writers write: nothing lost, nothing duplicated, RYW holds', async () => {
    load = writers(1_000_000_000);
    await sleep(500);
    const started = await fx.proxy.migrations!.start(SPLIT_S0);
    id = started.id;
    const done = await settleUnderWriters(fx, id, load, 'split', 120_000);
    const { ledger } = load;
    expect(done.phase, done.status).toBe('verified');
    expect(fx.proxy.topology.shardNames()).toEqual(['s0a', 's0b', 's1']);
    await expectCleanRun(fx, ledger, 1_000_000_000);
    beforeSplit = ledger;
  }, 180_000);

  it('verifies again after the switch while writers write to the targets', async () => {
    expect(id, 'the previous test left no switched split to verify').not.toBe('');
    const load = writers(5_000_000_000);
    await waitFor('writes on the targets', () => load.ledger.writes > 20, 60_000, 20);
    await verifyWhileWriting(fx, fx.api(), id, load, 5_000_000_000);
    expect(fx.proxy.topology.shardNames()).toEqual(['s0a', 's0b', 's1']);
  }, 180_000);

  it('reports a row altered by hand on the source and refuses cleanup', async () => {
    const direct = await fx.direct('s0-primary');
    const victim = await direct.query('SELECT id FROM likes ORDER BY id LIMIT 1');
    await direct.query('UPDATE likes SET post_id = post_id + 1000 WHERE id = $1', [victim.rows[0].id]);
    fx.proxy.migrations!.verifyAgain(id);
    const s = await waitForMigration(fx, id, ['verified', 'switched'], 60_000);
    expect(s.phase).toBe('switched');
    expect(s.verify!.mismatches.map((m) => m.table)).toContain('likes');
    await expect(fx.proxy.migrations!.cleanup(id)).rejects.toThrow(/mismatching chunk/);
    await direct.query('UPDATE likes SET post_id = post_id - 1000 WHERE id = $1', [victim.rows[0].id]);
  }, 90_000);

  it('rolls back with writes continuing: writes made on the targets are carried back to s0', async () => {
    load = writers(2_000_000_000);
    const s = await rollbackUnderWriters(load, () => fx.proxy.migrations!.rollback(id));
    expect(s.phase, s.status).toBe('rolled_back');
    expect(fx.proxy.topology.shardNames()).toEqual(['s0', 's1']);
    await expectCleanRun(fx, load.ledger, 2_000_000_000);
    // The writes of the split run are still where they belong after going back.
    await expectInsertsStillHold(fx, beforeSplit, 1_000_000_000);
  }, 90_000);
});

describe('aborting a split before its switch', () => {
  it('stops the run, drops the slot and publication, and leaves the source serving', async () => {
    const started = await fx.proxy.migrations!.start({
      shard: 's1',
      at: 'c0',
      targets: ['spare5', 'spare6'],
      verify: 'full',
    });
    // At whatever phase the run is in (schema, copying, catching up): it must stop cleanly.
    await sleep(300);
    const aborted = await fx.proxy.migrations!.abort(started.id);
    expect(aborted.phase).toBe('aborted');
    expect(fx.proxy.migrations!.isRunning(started.id)).toBe(false);
    expect(fx.proxy.topology.shardNames()).toContain('s1');
    const s1 = await fx.direct('s1-primary');
    const slots = await s1.query(
      "SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE 'shardgate_%'",
    );
    expect(slots.rows[0].n).toBe(0);
    const pubs = await s1.query(
      "SELECT count(*)::int AS n FROM pg_publication WHERE pubname LIKE 'shardgate_%'",
    );
    expect(pubs.rows[0].n).toBe(0);
    // The shard keeps taking writes, and the migration cannot be aborted twice.
    const c = await fx.client();
    const user = usersIn(parseKeyRange('80-'), 1, 1, 50)[0]!;
    await c.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [4_000_000_001, user]);
    await expect(fx.proxy.migrations!.abort(started.id)).rejects.toThrow(/aborted/);
  }, 60_000);
});

describe('a split whose capture falls behind', () => {
  it('does not switch while the targets lag, traffic stays on the source, then completes', async () => {
    const load = migrationWriters(fx, usersIn(parseKeyRange('80-'), 60, 1, 50), 3_000_000_000, {
      writers: 4,
      readers: 1,
      writesPerSecond: 200,
    });
    const started = await fx.proxy.migrations!.start({
      shard: 's1',
      at: 'c0',
      targets: ['spare3', 'spare4'],
      verify: { sample: 5 },
    });
    await waitForMigration(fx, started.id, ['catching_up', 'blocking', 'switched', 'verified'], 60_000);
    // A lock on a target stalls the applier (as a slow or overloaded target would).
    const blocker = await fx.direct('spare3');
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE likes IN ACCESS EXCLUSIVE MODE');
    await sleep(3_000);
    const held = fx.proxy.migrations!.get(started.id);
    expect(['catching_up', 'blocking']).toContain(held.phase);
    expect(fx.proxy.topology.shardNames()).toContain('s1');
    expect(held.cutovers.every((c) => c.outcome === 'aborted')).toBe(true);
    await blocker.query('ROLLBACK');
    const done = await waitForMigration(fx, started.id, ['verified', 'switched', 'aborted'], 90_000);
    await load.stop();
    expect(done.phase, done.status).toBe('verified');
    expect(fx.proxy.topology.shardNames()).toContain('s1a');
    expect(load.ledger.errors).toEqual([]);
    expect(load.ledger.readErrors).toEqual([]);
    await expectLedgerHolds(fx, load.ledger, 3_000_000_000);
  }, 150_000);
});
