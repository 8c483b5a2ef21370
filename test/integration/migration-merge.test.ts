// A live merge (the inverse of a split) through the admin API, as `shardgate migrate merge` calls
// it, while paced writers write to keys of both shards: every acknowledged write ends up exactly
// once on the merged shard, the only client errors are 40001 retries, read-your-writes holds, the
// default shard's unsharded table and the reference table come along, verification passes again
// after the switch while writes go on, and a rollback (writes still running) carries the writes made on the merged shard back to the source owning each key.
import { describe, expect, it } from 'vitest';
import { type Ledger, usersIn } from '../../bench/lib/write-ledger.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { useMigrationFixture } from '../support/migration-file-fixture.js';
import {
  migrationWriters,
  postAdmin,
  settleUnderWriters,
  sleep,
  verifyWhileWriting,
} from '../support/migration-helpers.js';
import { waitFor } from '../support/wait-for.js';
import {
  expectCleanRun,
  expectInsertsStillHold,
  rollbackUnderWriters,
} from '../support/writer-run-checks.js';

const fx = useMigrationFixture(
  { shards: 2, replicas: 0, spares: 1, cutoverDeadlineMs: 2_000 },
  // An unsharded table on the default shard s0: it must come along to the merged shard.
  async (c) => {
    await c.query('CREATE TABLE app_settings (k text PRIMARY KEY, v text NOT NULL)');
    await c.query("INSERT INTO app_settings VALUES ('theme', 'dark'), ('lang', 'en')");
  },
);

// Users of both shards, so both sources see writes during the copy, the catch-up and the block.
const writers = (idBase: number) =>
  migrationWriters(
    fx,
    [...usersIn(parseKeyRange('-80'), 50, 1, 50), ...usersIn(parseKeyRange('80-'), 50, 1, 50)],
    idBase,
  );

describe('live merge under writes', () => {
  let id = '';
  let merged: Ledger | null = null;

  it('plans a merge in key order and refuses what cannot merge', async () => {
    const dry = await postAdmin(fx.api(), '/api/migrations', {
      merge: ['s1', 's0'],
      into: 'spare1',
      dryRun: true,
    });
    expect(dry.status, JSON.stringify(dry.json)).toBe(200);
    const plan = dry.json.plan!;
    expect(plan.operation).toBe('merge');
    expect(plan.merge!.sources.map((s) => [s.shard, s.range])).toEqual([
      ['s0', '-80'],
      ['s1', '80-'],
    ]);
    expect(plan.targets.map((t) => [t.shard, t.server.name, t.range])).toEqual([['s0_s1', 'spare1', '-']]);
    const kinds = Object.fromEntries(plan.tables.map((t) => [t.name, t.kind]));
    expect(kinds).toMatchObject({ likes: 'sharded', app_settings: 'unsharded' });
    // The unsharded table lives on s0 only: only s0's source carries it.
    expect(plan.merge!.sources[1]!.tables.map((t) => t.name)).not.toContain('app_settings');
    const self = await postAdmin(fx.api(), '/api/migrations', { merge: ['s0', 's0'], into: 'spare1' });
    expect(self.status).toBe(400);
    const notSpare = await postAdmin(fx.api(), '/api/migrations', {
      merge: ['s0', 's1'],
      into: 's1-primary',
    });
    expect(notSpare.status).toBe(400);
    expect(notSpare.json.error ?? '').toMatch(/migration\.spares/);
    expect(fx.proxy.migrations!.list()).toEqual([]);
  });

  it('merges s0 and s1 into spare1 while writers write to both: nothing lost, RYW holds', async () => {
    const load = writers(1_000_000_000);
    await sleep(500);
    const started = await postAdmin(fx.api(), '/api/migrations', {
      merge: ['s0', 's1'],
      into: 'spare1',
      verify: 'full',
    });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    id = started.json.migration!.id;
    expect(id).toMatch(/^merge-s0-s1-/);
    const done = await settleUnderWriters(fx, id, load, 'merge', 150_000);
    const { ledger } = load;
    expect(done.phase, done.status).toBe('verified');
    expect(done.verify!.mismatches).toEqual([]);
    expect(fx.proxy.topology.shardNames()).toEqual(['s0_s1']);
    expect(done.legs!.map((l) => l.copy.every((t) => t.done))).toEqual([true, true]);
    await expectCleanRun(fx, ledger, 1_000_000_000);
    merged = ledger;

    // Every kind of table is served by the merged shard, and sequences continue.
    const c = await fx.client();
    const settings = await c.query('SELECT k, v FROM app_settings ORDER BY k');
    expect(settings.rows).toEqual([
      { k: 'lang', v: 'en' },
      { k: 'theme', v: 'dark' },
    ]);
    await c.query("INSERT INTO app_settings VALUES ('tz', 'UTC')");
    const spare = fx.cluster.spares.find((s) => s.name === 'spare1')!.port;
    const served = await c.query("SELECT inet_server_port() AS p FROM app_settings WHERE k = 'tz'");
    expect(served.rows).toEqual([{ p: spare }]);
    // The sources keep their rows until cleanup, kept current by the reverse capture (which
    // trails the merged shard a little): together they hold what the merged shard holds.
    const count = async (server: string) =>
      (await (await fx.direct(server)).query('SELECT count(*)::int AS n FROM likes')).rows[0].n as number;
    const onMerged = await count('spare1');
    let sources = 0;
    for (let i = 0; i < 100 && sources !== onMerged; i++) {
      sources = (await count('s0-primary')) + (await count('s1-primary'));
      if (sources !== onMerged) await sleep(100);
    }
    expect(sources).toBe(onMerged);
  }, 240_000);

  it('verifies again after the switch while writers write to the merged shard', async () => {
    expect(id, 'the previous test left no switched merge to verify').not.toBe('');
    const load = writers(3_000_000_000);
    await waitFor('writes on the merged shard', () => load.ledger.writes > 20, 60_000, 20);
    const again = await verifyWhileWriting(fx, fx.api(), id, load, 3_000_000_000);
    expect(again.plan.operation).toBe('merge');
    expect(fx.proxy.topology.shardNames()).toEqual(['s0_s1']);
  }, 180_000);

  it('rolls back with writes continuing: each write returns to the source owning its key', async () => {
    // Its subject is the merge the previous test switched: without it there is nothing to roll back.
    const before = id ? fx.proxy.migrations!.get(id) : null;
    expect(before?.phase, 'the previous test left no switched merge to roll back').toMatch(
      /^(switched|verifying|verified)$/,
    );
    const load = writers(2_000_000_000);
    const r = await rollbackUnderWriters(load, () => postAdmin(fx.api(), `/api/migrations/${id}/rollback`));
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.migration!.phase).toBe('rolled_back');
    expect(fx.proxy.topology.shardNames()).toEqual(['s0', 's1']);
    await expectCleanRun(fx, load.ledger, 2_000_000_000);
    await expectInsertsStillHold(fx, merged, 1_000_000_000);
    // The row written to the unsharded table on the merged shard is back on s0, its home.
    const c = await fx.client();
    const tz = await c.query("SELECT v, inet_server_port() AS p FROM app_settings WHERE k = 'tz'");
    const s0 = fx.cluster.shards.find((s) => s.name === 's0')!.primary.port;
    expect(tz.rows).toEqual([{ v: 'UTC', p: s0 }]);
    // No slot or publication is left behind on any server.
    for (const server of ['s0-primary', 's1-primary', 'spare1']) {
      const d = await fx.direct(server);
      const slots = await d.query(
        "SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE 'shardgate_%'",
      );
      expect(slots.rows[0].n, server).toBe(0);
    }
  }, 120_000);

  it('aborts a merge before its switch: both sources keep serving, no slot is left anywhere', async () => {
    // Independent of the tests before: a merge they left unfinished is ended first.
    for (const m of fx.proxy.migrations!.list()) {
      if (['switched', 'verifying', 'verified'].includes(m.phase)) {
        const back = await postAdmin(fx.api(), `/api/migrations/${m.id}/rollback`);
        expect(back.json.migration?.phase, JSON.stringify(back.json)).toBe('rolled_back');
      } else if (!['rolled_back', 'aborted', 'cleaned'].includes(m.phase)) {
        const ended = await postAdmin(fx.api(), `/api/migrations/${m.id}/abort`);
        expect(ended.json.migration?.phase, JSON.stringify(ended.json)).toBe('aborted');
      }
    }
    const c = await fx.client();
    const settingsBefore = (await c.query('SELECT count(*)::int AS n FROM app_settings')).rows[0].n as number;
    const started = await postAdmin(fx.api(), '/api/migrations', { merge: ['s0', 's1'], into: 'spare1' });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    const abortId = started.json.migration!.id;
    // Whatever phase the run is in (schema, copying, catching up): it must stop cleanly.
    await sleep(800);
    const aborted = await postAdmin(fx.api(), `/api/migrations/${abortId}/abort`);
    expect(aborted.status, JSON.stringify(aborted.json)).toBe(200);
    expect(aborted.json.migration!.phase).toBe('aborted');
    expect(fx.proxy.migrations!.isRunning(abortId)).toBe(false);
    expect(fx.proxy.topology.shardNames()).toEqual(['s0', 's1']);
    for (const server of ['s0-primary', 's1-primary', 'spare1']) {
      const d = await fx.direct(server);
      const slots = await d.query(
        "SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE 'shardgate_%'",
      );
      expect(slots.rows[0].n, server).toBe(0);
      const pubs = await d.query(
        "SELECT count(*)::int AS n FROM pg_publication WHERE pubname LIKE 'shardgate_%'",
      );
      expect(pubs.rows[0].n, server).toBe(0);
    }
    const settings = await c.query('SELECT count(*)::int AS n FROM app_settings');
    expect(settings.rows[0].n).toBe(settingsBefore);
  }, 60_000);
});
