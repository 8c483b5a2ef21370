// A live split of the default shard, which holds all three kinds of tables: hash-sharded (likes,
// posts), reference (trending_topics, on every shard) and unsharded (app_settings, and audit_log
// with a bigserial key: tables the config does not name). Writers keep writing every kind through
// the proxy; afterwards each table is read and written through the proxy, every acknowledged
// write is there, the reference table is identical on every shard, and a rollback carries the
// writes made after the switch (and the sequence position) back to the old server.
import { describe, expect, it } from 'vitest';
import { checkLedger, usersIn } from '../../bench/lib/write-ledger.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { useMigrationFixture } from '../support/migration-file-fixture.js';
import { migrationWriters, sleep, waitForMigration } from '../support/migration-helpers.js';
import {
  expectEveryKindServed,
  expectOtherLedgerHolds,
  otherTablesWriter,
} from '../support/other-tables-writer.js';

const fx = useMigrationFixture(
  {
    shards: 2,
    replicas: 0,
    spares: 2,
    // Generous: the test checks what survives, not how fast (a loaded machine stalls the proxy).
    cutoverDeadlineMs: 8_000,
  },
  async (c) => {
    await c.query('CREATE TABLE app_settings (k text PRIMARY KEY, v text)');
    await c.query("INSERT INTO app_settings (k, v) VALUES ('theme', 'dark'), ('lang', 'en')");
    await c.query('CREATE TABLE audit_log (id bigserial PRIMARY KEY, note text NOT NULL)');
    await c.query("INSERT INTO audit_log (note) SELECT 'seed ' || n FROM generate_series(1, 300) n");
    await c.query(
      'INSERT INTO trending_topics (id, topic, score) VALUES (1, $1, 0), (2, $2, 0), (3, $3, 0), (4, $4, 0), (5, $5, 0) ON CONFLICT (id) DO NOTHING',
      ['a', 'b', 'c', 'd', 'e'],
    );
  },
);

/** trending_topics on a server (created_at aside: the demo loader stamps each shard's own now()). */
async function topicsOn(server: string): Promise<string[]> {
  const c = await fx.direct(server);
  const r = await c.query(
    "SELECT concat_ws('|', id, user_id, topic, score) AS r FROM trending_topics ORDER BY id",
  );
  return r.rows.map((row) => row.r as string);
}

describe('split of the default shard with sharded, reference and unsharded tables', () => {
  let id = '';

  it('plans every kind of table: unsharded ones to the first half, reference ones to both', async () => {
    const plan = await fx.proxy.migrations!.plan({
      shard: 's0',
      at: 'auto',
      targets: ['spare1', 'spare2'],
      verify: { sample: 20 },
    });
    const kinds = Object.fromEntries(plan.tables.map((t) => [t.name, t.kind]));
    expect(kinds).toMatchObject({
      likes: 'sharded',
      trending_topics: 'reference',
      app_settings: 'unsharded',
      audit_log: 'unsharded',
    });
    expect(plan.tables.find((t) => t.name === 'audit_log')!.rows).toBe(300);
  });

  it('splits s0 under writes to every kind; each table reads and writes through the proxy afterwards', async () => {
    const likes = migrationWriters(fx, usersIn(parseKeyRange('-80'), 60, 1, 50), 1_000_000_000, {
      writers: 2,
      readers: 1,
      writesPerSecond: 60,
    });
    const others = otherTablesWriter(() => fx.client(), 0);
    await sleep(300);
    const started = await fx.proxy.migrations!.start({
      shard: 's0',
      at: 'auto',
      targets: ['spare1', 'spare2'],
      verify: { sample: 20 },
      catchUpBytes: 512 * 1024,
      cutoverAttempts: 10,
    });
    id = started.id;
    // The hot reference rows stop changing at the switch: rows rewritten several times a second
    // during verification would read as differences in every re-check round.
    await waitForMigration(fx, id, ['switched', 'verifying', 'verified', 'aborted'], 240_000).catch(
      () => undefined,
    );
    await others.stop();
    const done = await waitForMigration(fx, id, ['verified', 'switched', 'aborted'], 240_000);
    await sleep(300);
    await likes.stop();
    // The reference table is the same on every shard.
    const onFirst = await topicsOn('spare1');
    expect(await topicsOn('spare2')).toEqual(onFirst);
    expect(await topicsOn('s1-primary')).toEqual(onFirst);
    expect(done.phase, done.status).toBe('verified');
    expect(fx.proxy.topology.shardNames()).toEqual(['s0a', 's0b', 's1']);
    // Verification covered every table the split touched.
    const verified = new Set(done.verify!.perTable.map((t) => t.table));
    for (const t of ['likes', 'trending_topics', 'app_settings', 'audit_log']) expect(verified).toContain(t);
    expect(done.verify!.mismatches).toEqual([]);

    expect(likes.ledger.errors).toEqual([]);
    const shards = fx.proxy.topology.shardList().map((s) => ({
      shard: s.name,
      range: s.range,
      host: s.primary.host,
      port: s.primary.port,
    }));
    const report = await checkLedger(likes.ledger, shards, 1_000_000_000);
    expect(report.problems).toEqual([]);

    const c = await fx.client();
    await expectOtherLedgerHolds(c, others.ledger);

    // Reads and writes of each kind after the split.
    await expectEveryKindServed(c, 300);
    // The unsharded tables live on the new default shard only.
    const second = await fx.direct('spare2');
    const there = await second.query("SELECT to_regclass('app_settings') IS NULL AS gone");
    expect(there.rows[0].gone).toBe(true);
  }, 300_000);

  it('rolls back: writes and sequence positions made after the switch return to the old server', async () => {
    const others = otherTablesWriter(() => fx.client(), 100_000);
    await sleep(500);
    const s = await fx.proxy.migrations!.rollback(id);
    await sleep(300);
    await others.stop();
    expect(s.phase, s.status).toBe('rolled_back');
    expect(fx.proxy.topology.shardNames()).toEqual(['s0', 's1']);
    const after = await fx.client();
    await expectOtherLedgerHolds(after, others.ledger);
    expect((await after.query("SELECT v FROM app_settings WHERE k = 'after'")).rows).toEqual([
      { v: 'split' },
    ]);
    // The sequence continues past every id handed out on the halves.
    const highest = Math.max(...[...others.ledger.auditIds].map(Number));
    const next = await after.query("INSERT INTO audit_log (note) VALUES ('after rollback') RETURNING id");
    expect(Number(next.rows[0].id)).toBeGreaterThan(highest);
  }, 90_000);
});
