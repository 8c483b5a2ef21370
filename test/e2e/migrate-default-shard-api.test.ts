// The default shard's split driven through the admin HTTP API against a real `shardgate start`
// process: s0 holds a hash-sharded table (likes, posts), the reference table (trending_topics) and
// unsharded tables (app_settings, audit_log). Writers write every kind through the proxy all along;
// the proxy is killed (SIGKILL) while the throttled copy is inside audit_log, started again, and
// `POST /api/migrations/<id>/resume` finishes the split. Afterwards every acknowledged write is
// there exactly once, each table reads and writes through the proxy, and a rollback through the
// API (writers still running) returns everything to s0, again losing nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger, type Ledger, startWriterPool, usersIn } from '../../bench/lib/write-ledger.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { withSuperuser } from '../../src/local/pg-superuser.js';
import {
  countOn as count,
  type MigrateCliFixture,
  startMigrateCliFixture,
} from '../support/migrate-cli-fixture.js';
import { type MigrationSummary, postAdmin } from '../support/migration-helpers.js';
import {
  expectEveryKindServed,
  expectOtherLedgerHolds,
  type OtherTablesWriter,
  otherTablesWriter,
} from '../support/other-tables-writer.js';
import { waitFor } from '../support/wait-for.js';

const AUDIT_ROWS = 6_000;
const S0_USERS = parseKeyRange('-80');

let f: MigrateCliFixture;
/** Every writer started, stopped before the servers when a test fails half way. */
const writers: Array<{ stop(): Promise<void> }> = [];

type Status = MigrationSummary & {
  running: boolean;
  state: { copy: Array<{ table: string; rows: number; done: boolean }> };
};
const status = (id: string) => f.status<Status>(id);

const serverPort = (name: string): number => {
  const spare = f.cluster.spares.find((s) => s.name === name);
  return spare ? spare.port : f.cluster.shards.find((s) => s.name === name)!.primary.port;
};

const proxyClient = () => f.client();

function track<T extends { stop(): Promise<void> }>(w: T): T {
  writers.push(w);
  return w;
}

/** Polls GET /api/migrations/<id> until `done` holds; past `ms` throws with the last status. */
async function until(id: string, what: string, done: (s: Status) => boolean, ms: number): Promise<Status> {
  let last = await status(id);
  await waitFor(
    `migration ${id} ${what} (last: ${last.phase}, ${last.status})`,
    async () => done((last = await status(id))),
    ms,
    50,
  );
  return last;
}

/** trending_topics on a server, straight (created_at aside: each shard stamped its own now()). */
async function topicsOn(port: number): Promise<string[]> {
  return withSuperuser({ host: '127.0.0.1', port }, async (c) => {
    const r = await c.query(
      "SELECT concat_ws('|', id, user_id, topic, score) AS r FROM trending_topics ORDER BY id",
    );
    return r.rows.map((row) => row.r as string);
  });
}

/** The likes writers' ledger against the servers of shards named with their key ranges. */
async function expectLedger(ledger: Ledger, idBase: number, shards: Array<[string, string, number]>) {
  expect(ledger.errors).toEqual([]);
  const servers = shards.map(([shard, range, port]) => ({
    shard,
    range: parseKeyRange(range),
    host: '127.0.0.1',
    port,
  }));
  const report = await checkLedger(ledger, servers, idBase);
  expect(report.problems).toEqual([]);
  expect(report.checkedInserts).toBeGreaterThan(20);
}

/** Resolves once `writes()` has grown by `n`: the writers ran (and were acknowledged) meanwhile. */
async function afterWrites(what: string, writes: () => number, n: number): Promise<void> {
  const from = writes();
  await waitFor(`${n} more acknowledged writes ${what}`, () => writes() >= from + n, 60_000, 20);
}

beforeAll(async () => {
  f = await startMigrateCliFixture({
    spares: ['spare1', 'spare2'],
    users: 300,
    // Generous: the test checks what survives, not how fast (a loaded machine stalls the proxy).
    migration: { cutoverDeadlineMs: 8_000, cutoverAttempts: 10 },
    prepare: async (cluster) => {
      await withSuperuser({ host: '127.0.0.1', port: cluster.shards[0]!.primary.port }, async (c) => {
        // Tables the config does not name: unsharded, on the default shard s0. audit_log is big
        // enough that the throttled copy spends seconds in it.
        await c.query('CREATE TABLE app_settings (k text PRIMARY KEY, v text)');
        await c.query("INSERT INTO app_settings (k, v) VALUES ('theme', 'dark'), ('lang', 'en')");
        await c.query('CREATE TABLE audit_log (id bigserial PRIMARY KEY, note text NOT NULL)');
        await c.query(
          `INSERT INTO audit_log (note) SELECT 'seed ' || n FROM generate_series(1, ${AUDIT_ROWS}) n`,
        );
        await c.query('ANALYZE app_settings, audit_log'); // the plan's row estimates
        // As an application's own migration would: `app` reaches the servers as its own role.
        await c.query('GRANT SELECT, INSERT, UPDATE, DELETE ON app_settings, audit_log TO app');
        await c.query('GRANT USAGE ON SEQUENCE audit_log_id_seq TO app');
      });
    },
  });
}, 360_000);

afterAll(async () => {
  await Promise.all(writers.map((w) => w.stop()));
  await f?.stop();
});

describe('split of the default shard through the admin API with a proxy crash mid-copy', () => {
  let id = '';
  let targets: MigrationSummary['targets'] = [];
  let othersBefore: OtherTablesWriter;
  // Two likes writer pools on separate ids and users: A from before the split until after it
  // (its ledger checked on the halves, then on s0 after the rollback), B, started before A stops,
  // through the rollback. Either pool's sessions reconnect after the proxy's crash.
  const idA = 1_000_000_000;
  const idB = 2_000_000_000;
  const likes = (idBase: number, from: number, to: number) =>
    track(
      startWriterPool({
        url: `postgres://app:app@127.0.0.1:${f.pgPort}/shardgate`,
        writers: 2,
        readers: 1,
        writesPerSecond: 60,
        users: usersIn(S0_USERS, 40, from, to),
        idBase,
        reconnect: true,
      }),
    );
  let poolA: ReturnType<typeof startWriterPool>;
  let poolB: ReturnType<typeof startWriterPool>;

  it('copies, survives SIGKILL, resumes through the API and verifies; every write is there', async () => {
    const dry = await postAdmin(f.adminUrl, '/api/migrations', {
      shard: 's0',
      targets: ['spare1', 'spare2'],
      dryRun: true,
    });
    expect(dry.status, dry.json.error).toBe(200);
    const kinds = Object.fromEntries(dry.json.plan!.tables.map((t) => [t.name, t.kind]));
    expect(kinds).toMatchObject({
      likes: 'sharded',
      trending_topics: 'reference',
      app_settings: 'unsharded',
      audit_log: 'unsharded',
    });

    poolA = likes(idA, 1, 150);
    const others = track(otherTablesWriter(proxyClient, 0, { reconnect: true }));
    othersBefore = others;
    await afterWrites('before the split', () => poolA.ledger.writes + others.ledger.writes, 10);

    const started = await postAdmin(f.adminUrl, '/api/migrations', {
      shard: 's0',
      targets: ['spare1', 'spare2'],
      verify: 'full',
    });
    expect(started.status, started.json.error).toBe(201);
    id = started.json.migration!.id;
    targets = started.json.migration!.targets;

    // Progress from the API while it copies; the kill lands inside audit_log's copy, so the resume
    // has an unsharded table half copied (and any after it) still to do.
    const seen: number[] = [];
    const killedAt = await until(
      id,
      'copying audit_log',
      (s) => {
        if (s.phase === 'copying') seen.push(s.copy.rows);
        const audit = s.state.copy.find((t) => t.table === 'audit_log');
        if (!['planned', 'schema', 'copying'].includes(s.phase))
          throw new Error(`copy over before the kill: ${s.phase}`);
        if (audit?.done) throw new Error('audit_log copied before the kill: lower migration.rowsPerSecond');
        return s.phase === 'copying' && s.copy.rows > 0 && (audit?.rows ?? 0) > 0;
      },
      300_000, // the schema phase alone took over 120 s at load 43
    );
    expect(killedAt.copy.estimatedRows).toBeGreaterThan(0);
    expect(killedAt.state.copy.find((t) => t.table === 'audit_log')!.rows).toBeLessThan(AUDIT_ROWS);
    expect(seen.length).toBeGreaterThan(1);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(killedAt.running).toBe(true);
    await f.crashAndRestart();

    // The restarted proxy knows the migration, stopped in `copying` at its last checkpoint.
    const listed = (await (
      await fetch(`${f.adminUrl}/api/migrations`, { headers: { authorization: 'Bearer test-token' } })
    ).json()) as MigrationSummary[];
    expect(listed.map((m) => [m.id, m.phase])).toContainEqual([id, 'copying']);
    const stopped = await status(id);
    expect(stopped.running).toBe(false);
    expect(stopped.copy.rows).toBeGreaterThan(0);
    expect(stopped.state.copy.find((t) => t.table === 'audit_log')!.done).toBe(false);

    const resumed = await postAdmin(f.adminUrl, `/api/migrations/${id}/resume`);
    expect(resumed.status, resumed.json.error).toBe(200);
    const again = await postAdmin(f.adminUrl, `/api/migrations/${id}/resume`);
    expect(again.status).toBe(409);
    expect(again.json.error).toContain('already running');

    // The reference rows stop changing at the switch: rows rewritten several times a second
    // during a full verification would read as differences in every re-check round.
    await until(
      id,
      'switched',
      (s) => ['switched', 'verifying', 'verified', 'aborted'].includes(s.phase),
      240_000,
    );
    await others.stop();
    const done = await until(id, 'verified', (s) => s.phase === 'verified' || s.phase === 'aborted', 240_000);
    expect(done.phase, done.status).toBe('verified');
    expect(done.verify!.mismatches).toEqual([]);
    expect(done.copy.rows).toBeGreaterThanOrEqual(done.copy.estimatedRows);
    expect(targets.map((t) => [t.shard, t.server])).toEqual([
      ['s0a', 'spare1'],
      ['s0b', 'spare2'],
    ]);

    // The unsharded tables moved whole to the first half (the new default shard) only.
    const onSpare1 = await count(serverPort('spare1'), 'SELECT count(*) AS n FROM audit_log');
    expect(onSpare1).toBe(await count(serverPort('s0'), 'SELECT count(*) AS n FROM audit_log'));
    expect(onSpare1).toBeGreaterThan(AUDIT_ROWS);
    expect(
      await count(serverPort('spare2'), "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'audit_log'"),
    ).toBe(0);
    const topics = await topicsOn(serverPort('spare1'));
    expect(await topicsOn(serverPort('spare2'))).toEqual(topics);
    expect(await topicsOn(serverPort('s1'))).toEqual(topics);

    const c = await proxyClient();
    try {
      await expectOtherLedgerHolds(c, others.ledger);
      // Each kind reads and writes through the proxy after the split.
      await expectEveryKindServed(c, AUDIT_ROWS);
    } finally {
      await c.end();
    }
    const split: Array<[string, string, number]> = [
      ...targets.map((t): [string, string, number] => [t.shard, t.range, serverPort(t.server)]),
      ['s1', '80-', serverPort('s1')],
    ];
    // The likes writers saw the crash (their sessions reconnected) and run on into the rollback.
    expect(poolA.ledger.reconnects).toBeGreaterThan(0);
    expect(others.ledger.reconnects).toBeGreaterThan(0);
    poolB = likes(idB, 151, 300);
    await poolA.stop();
    await expectLedger(poolA.ledger, idA, split);
  }, 600_000);

  it('rolls back through the API under writes: every acknowledged write is on s0 and s1', async () => {
    expect(poolB, 'the split test did not get to its end').toBeDefined();
    const others = track(otherTablesWriter(proxyClient, 100_000, { reconnect: true }));
    await afterWrites('before the rollback', () => poolB.ledger.writes + others.ledger.writes, 10);
    const rolled = await postAdmin(f.adminUrl, `/api/migrations/${id}/rollback`);
    expect(rolled.status, rolled.json.error).toBe(200);
    expect(rolled.json.migration!.phase, rolled.json.migration!.status).toBe('rolled_back');
    await afterWrites('after the rollback', () => poolB.ledger.writes + others.ledger.writes, 10);
    // The ledger check below wants more than 20 of this pool's inserts: a quick rollback (a few
    // hundred ms) left it 10 once, so wait for them rather than for the clock.
    await waitFor(
      '21 acknowledged inserts of the second pool',
      () => poolB.ledger.inserted.size > 20,
      60_000,
      20,
    );
    await others.stop();
    await poolB.stop();

    const original: Array<[string, string, number]> = [
      ['s0', '-80', serverPort('s0')],
      ['s1', '80-', serverPort('s1')],
    ];
    await expectLedger(poolA.ledger, idA, original);
    await expectLedger(poolB.ledger, idB, original);
    const c = await proxyClient();
    try {
      await expectOtherLedgerHolds(c, others.ledger);
      // The first writer's settings and scores were written over since; its audit rows stay.
      const ids = new Set((await c.query('SELECT id::text AS id FROM audit_log')).rows.map((r) => r.id));
      expect([...othersBefore.ledger.auditIds].filter((i) => !ids.has(i))).toEqual([]);
      expect((await c.query("SELECT v FROM app_settings WHERE k = 'after'")).rows).toEqual([{ v: 'split' }]);
      expect((await c.query('SELECT count(*)::int AS n FROM likes WHERE id = 5000000001')).rows).toEqual([
        { n: 1 },
      ]);
      // Served by s0 again, its sequence past every id handed out on the halves.
      const highest = Math.max(...[...others.ledger.auditIds].map(Number));
      const next = await c.query(
        "INSERT INTO audit_log (note) VALUES ('after rollback') RETURNING id, inet_server_port() AS p",
      );
      expect(Number(next.rows[0].id)).toBeGreaterThan(highest);
      expect(next.rows[0].p).toBe(serverPort('s0'));
    } finally {
      await c.end();
    }
    expect(await topicsOn(serverPort('s1'))).toEqual(await topicsOn(serverPort('s0')));
  }, 300_000);
});
