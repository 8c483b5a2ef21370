// The data plane of a live split against real servers: one source shard and two spare targets.
// Each scenario uses its own database on the three servers. Writes run on the source while the
// copy runs (from the copy's checkpoint callback, so they land between batches, both in copied and
// in not yet copied key ranges), and the result must be exact: each target holds exactly the
// source's rows whose shard key it owns, byte for byte (row::text).
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { DEMO_TABLES, demoRows, demoSchemaSql } from '../../src/local/demo-schema.js';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { ChangeApplier } from '../../src/migration/applier.js';
import { deleteMovedRows, dropReplication } from '../../src/migration/cleanup.js';
import { type CopyOptions, type CopyResult, copyTables, newCopyStates } from '../../src/migration/copier.js';
import { requireLsn } from '../../src/migration/lsn.js';
import { openClient, withClient } from '../../src/migration/pg-connect.js';
import {
  createSlotWithSnapshot,
  ensurePublication,
  slotExists,
  slotLagBytes,
} from '../../src/migration/pg-replication.js';
import { PressureMonitor } from '../../src/migration/pressure.js';
import { keyOwner, routeByShardKey } from '../../src/migration/row-owner.js';
import { copySchema } from '../../src/migration/schema-copy.js';
import { addResumeSegment } from '../../src/migration/segments.js';
import { Throttle } from '../../src/migration/throttle.js';
import type { MovedTable, ServerAddress, SplitTarget, TableCopyState } from '../../src/migration/types.js';
import { type VerifyOptions, verifySplit } from '../../src/migration/verify.js';
import { hashInt8 } from '../../src/router/sharding/hash.js';

const USERS = 150;
const LOWER = parseKeyRange('-80');
const UPPER = parseKeyRange('80-');
const RANGES = [LOWER, UPPER];
const TABLES: MovedTable[] = DEMO_TABLES.filter((t) => !t.reference).map((t) => ({
  name: t.name,
  shardKey: 'user_id',
  keyType: 'int',
}));
const ROUTE = routeByShardKey(TABLES, RANGES);
/** Users whose keys fall in the lower and the upper half. */
const LOW_USERS = [...Array(USERS).keys()].map((i) => i + 1).filter((u) => hashInt8(u) < 1n << 63n);
const HIGH_USERS = [...Array(USERS).keys()].map((i) => i + 1).filter((u) => hashInt8(u) >= 1n << 63n);

let cluster: PostgresCluster;
const workloads: Workload[] = [];

beforeAll(async () => {
  cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0 });
  await Promise.all([cluster.addSpare('t1'), cluster.addSpare('t2')]);
});

afterEach(async () => {
  await Promise.all(workloads.splice(0).map((w) => w.close()));
});

afterAll(async () => {
  await cluster?.stop();
});

function address(serverName: string, database: string): ServerAddress {
  const s = cluster.server(serverName);
  return { name: serverName, host: s.host, port: s.port, user: 'postgres', database };
}

interface Split {
  db: string;
  source: ServerAddress;
  targets: SplitTarget[];
  slot: string;
  publication: string;
}

function literal(v: string | number | boolean): string {
  return typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v);
}

/** A database on all three servers: the demo schema and rows on the source, nothing on the targets. */
async function freshSplit(db: string): Promise<Split> {
  for (const name of ['s0-primary', 't1', 't2']) await cluster.query(name, `CREATE DATABASE ${db}`);
  const source = address('s0-primary', db);
  await withClient(source, 'test', async (c) => {
    await c.query(demoSchemaSql());
    // Out-of-line storage without compression: big bodies are TOASTed, so an update that does not
    // touch them streams them as "unchanged" ('u').
    await c.query('ALTER TABLE posts ALTER COLUMN body SET STORAGE EXTERNAL');
    const byTable = new Map<string, string[]>();
    for (const r of demoRows(USERS)) {
      const cols = ['id', 'user_id', ...Object.keys(r.extra)];
      const values = [r.id, r.userId, ...Object.values(r.extra)].map(literal).join(', ');
      const key = `${r.table} (${cols.join(', ')})`;
      if (!byTable.has(key)) byTable.set(key, []);
      byTable.get(key)!.push(`(${values})`);
    }
    for (const [target, rows] of byTable) await c.query(`INSERT INTO ${target} VALUES ${rows.join(', ')}`);
    await c.query("INSERT INTO trending_topics (id, topic) VALUES (1, 'postgres'), (2, 'sharding')");
    // Two posts with big (TOASTed) bodies, one per half.
    await c.query(
      `INSERT INTO posts (id, user_id, title, body)
       SELECT 9000000 + n, u, 'big', (SELECT string_agg(md5(n::text || i::text), '') FROM generate_series(1, 300) i)
         FROM (VALUES (1, ${LOW_USERS[0]}), (2, ${HIGH_USERS[0]})) v(n, u)`,
    );
  });
  const targets: SplitTarget[] = [
    { shard: 's0a', server: address('t1', db), range: LOWER },
    { shard: 's0b', server: address('t2', db), range: UPPER },
  ];
  await copySchema({ source, targets: targets.map((t) => t.server), tables: TABLES.map((t) => t.name) });
  const slot = `slot_${db}`;
  const publication = `pub_${db}`;
  await ensurePublication(
    source,
    publication,
    TABLES.map((t) => t.name),
  );
  return { db, source, targets, slot, publication };
}

/** Random writes on the source: inserts, updates (some moving user_id or the key), deletes, transactions. */
class Workload {
  private seed = 7;
  private nextId = 20_000_000;
  private client: pg.Client | null = null;
  ops = 0;

  constructor(private readonly source: ServerAddress) {
    workloads.push(this);
  }

  async close(): Promise<void> {
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  private random(n: number): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2147483648;
    return this.seed % n;
  }

  private user(): number {
    return 1 + this.random(USERS);
  }

  async step(count = 4): Promise<void> {
    this.client ??= await openClient(this.source, 'test-writes');
    const c = this.client;
    for (let i = 0; i < count; i++) {
      this.ops++;
      switch (this.random(7)) {
        case 0:
          await c.query("INSERT INTO posts (id, user_id, title) VALUES ($1, $2, 'new')", [
            this.nextId++,
            this.user(),
          ]);
          break;
        case 1:
          await c.query(
            "UPDATE payments SET amount = amount + 1, status = 'settled' WHERE id IN (SELECT id FROM payments ORDER BY id OFFSET $1 LIMIT 2)",
            [this.random(250)],
          );
          break;
        case 2:
          await c.query(
            'DELETE FROM likes WHERE id IN (SELECT id FROM likes ORDER BY id OFFSET $1 LIMIT 1)',
            [this.random(250)],
          );
          break;
        case 3: // moves the row to whichever half owns the new user
          await c.query(
            'UPDATE recommendations SET user_id = $1 WHERE id IN (SELECT id FROM recommendations ORDER BY id OFFSET $2 LIMIT 1)',
            [this.user(), this.random(250)],
          );
          break;
        case 4: // changes the primary key itself
          await c.query(
            'UPDATE comments SET id = id + 50000000 WHERE id IN (SELECT id FROM comments WHERE id < 50000000 ORDER BY id OFFSET $1 LIMIT 1)',
            [this.random(250)],
          );
          break;
        case 5:
          await c.query('BEGIN');
          await c.query("INSERT INTO analytics_events (id, user_id, event) VALUES ($1, $2, 'txn')", [
            this.nextId++,
            this.user(),
          ]);
          await c.query('UPDATE balances SET balance = balance + 5 WHERE user_id = $1', [this.user()]);
          await c.query('DELETE FROM sessions WHERE user_id = $1', [this.user()]);
          await c.query('COMMIT');
          break;
        default:
          await c.query("UPDATE users SET name = name || '+' WHERE id = $1", [this.user()]);
      }
    }
  }
}

type TextRow = { id: string; user_id: string; r: string };

async function rowsOn(c: pg.Client, table: string): Promise<TextRow[]> {
  const r = await c.query<TextRow>(
    `SELECT id::text, user_id::text, t::text AS r FROM ${table} t ORDER BY id`,
  );
  return r.rows;
}

async function rowsOf(server: ServerAddress, table: string): Promise<TextRow[]> {
  return withClient(server, 'test-compare', (c) => rowsOn(c, table));
}

/** Each target holds exactly the source's rows whose shard key it owns, identical as row::text. */
async function expectExactSplit(split: Split): Promise<number> {
  let total = 0;
  const source = await openClient(split.source, 'test-compare');
  const targets = await Promise.all(split.targets.map((t) => openClient(t.server, 'test-compare')));
  try {
    for (const t of TABLES) {
      const rows = await rowsOn(source, t.name);
      total += rows.length;
      for (const [i, target] of targets.entries()) {
        const expected = rows.filter((row) => keyOwner(row.user_id, 'int', RANGES) === i).map((row) => row.r);
        const actual = (await rowsOn(target, t.name)).map((row) => row.r);
        expect(actual, `${t.name} on ${split.targets[i]!.server.name}`).toEqual(expected);
      }
    }
  } finally {
    await Promise.all([source, ...targets].map((c) => c.end()));
  }
  return total;
}

function throttle(batchRows: number): Throttle {
  return new Throttle({
    rowsPerSecond: 0,
    bytesPerSecond: 0,
    maintenanceWindow: null,
    maintenanceMultiplier: 1,
    batchRows,
  });
}

function forwardApplier(split: Split, states: TableCopyState[] | undefined, statuses: string[] = []) {
  return new ChangeApplier({
    source: split.source,
    slot: split.slot,
    publication: split.publication,
    destinations: split.targets.map((t) => t.server),
    tables: TABLES,
    route: ROUTE,
    ...(states ? { copyStates: states } : {}),
    backoff: { initialMs: 100, maxMs: 1_000 },
    onStatus: (s) => statuses.push(s),
  });
}

/** copyTables of the split's tables from its source to its targets, in batches of `batchRows`. */
function copySplit(
  split: Split,
  states: TableCopyState[],
  snapshotName: string,
  batchRows: number,
  more: Pick<CopyOptions, 'checkpoint'> & Partial<CopyOptions>,
): Promise<CopyResult> {
  return copyTables({
    source: split.source,
    targets: split.targets,
    tables: TABLES,
    states,
    snapshotName,
    throttle: throttle(batchRows),
    ...more,
  });
}

/** Runs `use` while the split's forward applier streams; stopped afterwards, also on a failure. */
async function withApplier<T>(
  split: Split,
  states: TableCopyState[] | undefined,
  use: (applier: ChangeApplier) => Promise<T>,
  statuses?: string[],
): Promise<T> {
  const applier = forwardApplier(split, states, statuses);
  await applier.start();
  try {
    return await use(applier);
  } finally {
    await applier.stop();
  }
}

/** Drops the split's slot(s) and its publication from the source. */
const dropSplitReplication = (split: Split, slots = [split.slot]) =>
  dropReplication(split.source, slots, [split.publication]);

describe('migration data plane', () => {
  let splitA: Split;
  /** verifySplit of split A over TABLES, 100 rows a chunk, with `more` options. */
  const verifyA = (more: Omit<VerifyOptions, 'source' | 'targets' | 'tables'> = {}) =>
    verifySplit({ source: splitA.source, targets: splitA.targets, tables: TABLES, chunkRows: 100, ...more });

  it('(a) copies under concurrent writes and catches up: each target holds exactly its rows', async () => {
    splitA = await freshSplit('mig_a');
    const work = new Workload(splitA.source);
    const snapshot = await createSlotWithSnapshot(splitA.source, splitA.slot);
    const states = await newCopyStates(splitA.source, TABLES, snapshot.consistentLsn);
    const progress: number[] = [];
    let checkpoints = 0;
    try {
      const result = await copySplit(splitA, states, snapshot.snapshotName, 150, {
        checkpoint: async () => {
          checkpoints++;
          await work.step(3);
        },
        onProgress: (p) => progress.push(p.rows),
      });
      expect(result.complete).toBe(true);
      expect(states.every((s) => s.done)).toBe(true);
      expect(result.rows).toBe(states.reduce((n, s) => n + s.rows, 0));
    } finally {
      await snapshot.release();
    }
    expect(checkpoints).toBeGreaterThan(TABLES.length);
    expect(progress.length).toBe(checkpoints);
    // The capture lag while the applier does not stream yet: the WAL the slot retains.
    expect(await slotLagBytes(splitA.source, splitA.slot)).toBeGreaterThan(0);

    const applier = forwardApplier(splitA, states);
    await applier.start();
    try {
      await work.step(20);
      // Source pressure while the capture streams: our logical walsender is not a replica.
      const monitor = new PressureMonitor(splitA.source, { setBackoff: () => undefined });
      const reading = await monitor.sampleOnce();
      await monitor.stop();
      expect(reading.error).toBeNull();
      expect(reading.sample).toMatchObject({ replicas: 0, replicaLagSeconds: 0 });
      expect(reading.sample!.latencyMs).toBeGreaterThan(0);
      expect(reading.factor).toBeGreaterThan(0);
      // A user moving across halves, and TOASTed bodies left unchanged by updates: one stays in
      // its half, one moves to the other half with its body.
      const low = LOW_USERS[1]!;
      const high = HIGH_USERS[1]!;
      await withClient(splitA.source, 'test', async (c) => {
        await c.query('UPDATE users SET user_id = $1 WHERE id = $2', [high, low]);
        await c.query("UPDATE posts SET title = 'retitled' WHERE id = 9000001");
        await c.query('UPDATE posts SET user_id = $1 WHERE id = 9000002', [low]);
      });
      const marker = await applier.catchUp(20_000);
      expect(requireLsn(applier.appliedLsn)).toBeGreaterThanOrEqual(requireLsn(marker));
      expect(applier.status).toBe('streaming');
      const rows = await expectExactSplit(splitA);
      expect(rows).toBeGreaterThan(2_000);
      const [moved] = await withClient(
        splitA.targets[1]!.server,
        'test',
        async (c) => (await c.query('SELECT user_id::text FROM users WHERE id = $1', [low])).rows,
      );
      expect(moved).toEqual({ user_id: String(high) });
      const [body] = await withClient(
        splitA.targets[0]!.server,
        'test',
        async (c) => (await c.query('SELECT length(body)::int AS n FROM posts WHERE id = 9000002')).rows,
      );
      expect(body).toEqual({ n: '9600' });
      const lag = await applier.lag();
      expect(lag.appliedLsn).toBe(applier.appliedLsn);
      expect(requireLsn(lag.sourceLsn)).toBeGreaterThanOrEqual(requireLsn(marker));
    } finally {
      await applier.stop();
    }
    expect(applier.status).toBe('stopped');
  });

  it('(b) resumes a crashed copy from a new snapshot segment: no lost or extra rows', async () => {
    const split = await freshSplit('mig_b');
    const work = new Workload(split.source);
    const first = await createSlotWithSnapshot(split.source, split.slot);
    let persisted: TableCopyState[] = await newCopyStates(split.source, TABLES, first.consistentLsn);
    let calls = 0;
    try {
      // The proxy dies at the third checkpoint: the third batch is on the targets, not in the state.
      await expect(
        copySplit(split, structuredClone(persisted), first.snapshotName, 40, {
          checkpoint: async (states) => {
            if (++calls === 3) throw new Error('proxy crashed');
            persisted = structuredClone(states);
            await work.step(2);
          },
        }),
      ).rejects.toThrow('proxy crashed');
    } finally {
      await first.release(); // the exported snapshot dies with its connection
    }
    const users = persisted.find((s) => s.table === 'users')!;
    expect(users.lastKey).toEqual(['80']);
    // Between the crash and the resume: a row of the unrecorded batch (81..120) disappears, others
    // change on both sides of the cursor, a new row appears past it.
    await withClient(split.source, 'test', async (c) => {
      await c.query('DELETE FROM users WHERE id IN (100, 10)');
      await c.query("UPDATE users SET name = 'changed' WHERE id IN (110, 5)");
      await c.query("INSERT INTO users (id, user_id, name) VALUES (5000, 7, 'late')");
    });
    await work.step(10);

    const states = persisted;
    const second = await createSlotWithSnapshot(split.source, `${split.slot}_r1`, { temporary: true });
    for (const s of states) if (!s.done) addResumeSegment(s, second.consistentLsn);
    expect(users.segments).toEqual([
      { after: null, lsn: first.consistentLsn },
      { after: ['80'], lsn: second.consistentLsn },
    ]);
    try {
      const result = await copySplit(split, states, second.snapshotName, 40, {
        checkpoint: async () => {
          await work.step(1);
        },
      });
      expect(result.complete).toBe(true);
    } finally {
      await second.release();
    }
    expect(await slotExists(split.source, `${split.slot}_r1`)).toBe(false);

    await withApplier(split, states, async (applier) => {
      await work.step(10);
      await applier.catchUp(20_000);
      await expectExactSplit(split);
    });
    await dropSplitReplication(split);
  });

  it('(c) pauses while a target is down and completes exactly once it is back', async () => {
    const split = await freshSplit('mig_c');
    const snapshot = await createSlotWithSnapshot(split.source, split.slot);
    const states = await newCopyStates(split.source, TABLES, snapshot.consistentLsn);
    const statuses: string[] = [];
    let restart: Promise<void> | null = null;
    let calls = 0;
    try {
      const result = await copySplit(split, states, snapshot.snapshotName, 100, {
        backoff: { initialMs: 100, maxMs: 500 },
        checkpoint: async () => {
          if (++calls === 2) await cluster.killServer('t2');
        },
        onStatus: (s) => {
          statuses.push(s);
          if (s.startsWith('paused') && !restart) restart = cluster.restartServer('t2');
        },
      });
      expect(result.complete).toBe(true);
    } finally {
      await snapshot.release();
      await restart;
    }
    const paused = statuses.find((s) => s.startsWith('paused'));
    expect(paused).toMatch(/^paused: target t2 unreachable \(.+\)$/);
    expect(statuses.at(-1)).toBe('copying');
    await expectExactSplit(split);

    // The change capture survives a destination restart too: it pauses, then replays from the
    // last acknowledged position.
    const captureStatuses: string[] = [];
    const work = new Workload(split.source);
    await withApplier(
      split,
      states,
      async (applier) => {
        await work.step(6);
        await applier.catchUp(20_000);
        await cluster.killServer('t1');
        await work.step(12);
        const restarted = cluster.restartServer('t1');
        await applier.catchUp(30_000);
        await restarted;
        expect(captureStatuses.some((s) => s.startsWith('paused: destination t1 unreachable'))).toBe(true);
        expect(applier.status).toBe('streaming');
        await expectExactSplit(split);
      },
      captureStatuses,
    );
    await dropSplitReplication(split);
  });

  it('(d) replaying the same changes a second time changes nothing; TRUNCATE is refused', async () => {
    const split = await freshSplit('mig_d');
    const snapshot = await createSlotWithSnapshot(split.source, split.slot);
    const states = await newCopyStates(split.source, TABLES, snapshot.consistentLsn);
    try {
      // A second slot at the same position streams the very same changes again.
      await withClient(split.source, 'test', (c) =>
        c.query('SELECT pg_copy_logical_replication_slot($1, $2)', [split.slot, `${split.slot}_again`]),
      );
      await copySplit(split, states, snapshot.snapshotName, 500, { checkpoint: async () => undefined });
    } finally {
      await snapshot.release();
    }
    const work = new Workload(split.source);
    await work.step(40);
    await withClient(split.source, 'test', async (c) => {
      await c.query('UPDATE users SET user_id = $1 WHERE id = $2', [LOW_USERS[2], HIGH_USERS[2]]);
      await c.query("UPDATE posts SET title = 'once' WHERE id = 9000002");
      await c.query('UPDATE posts SET user_id = $1 WHERE id = 9000001', [HIGH_USERS[3]]);
      await c.query('DELETE FROM posts WHERE id = 9000002');
    });
    const snapshotOf = async () => {
      const all: string[][] = [];
      for (const t of split.targets)
        await withClient(t.server, 'test', async (c) => {
          for (const table of TABLES) all.push((await rowsOn(c, table.name)).map((r) => r.r));
        });
      return all;
    };
    await withApplier(split, states, (once) => once.catchUp(20_000));
    await expectExactSplit(split);
    const afterOnce = await snapshotOf();
    await withApplier({ ...split, slot: `${split.slot}_again` }, states, (twice) => twice.catchUp(20_000));
    expect(await snapshotOf()).toEqual(afterOnce);

    // TRUNCATE cannot be applied row by row: the capture stops with an error naming it.
    await withApplier(split, states, async (third) => {
      await withClient(split.source, 'test', (c) => c.query('TRUNCATE temp_data'));
      await expect(third.catchUp(20_000)).rejects.toThrow(/TRUNCATE of public\.temp_data/);
      expect(third.status).toMatch(/^error: TRUNCATE of public\.temp_data during a split/);
    });
    expect(await snapshotOf()).toEqual(afterOnce);
    await dropSplitReplication(split, [split.slot, `${split.slot}_again`]);
  });

  it('(e) verification passes, then names the chunk of a row altered on a target', async () => {
    const clean = await verifyA();
    expect(clean.mismatches).toEqual([]);
    const sourceRows = clean.perTable.reduce((n, t) => n + t.sourceRows, 0);
    expect(clean.rowsChecked).toBe(sourceRows);
    expect(clean.perTable.every((t) => t.sourceRows === t.targetRows)).toBe(true);
    expect(sourceRows).toBeGreaterThan(2_000);

    const sampled = await verifyA({ mode: 'sample', sample: 3 });
    expect(sampled).toMatchObject({ mode: 'sample', chunksChecked: 3, mismatches: [] });

    // By hand on T2: a payment owned there gets another amount.
    const victim = (await rowsOf(splitA.source, 'payments')).find(
      (r) => keyOwner(r.user_id, 'int', RANGES) === 1,
    )!;
    await withClient(splitA.targets[1]!.server, 'test', (c) =>
      c.query('UPDATE payments SET amount = amount + 1000 WHERE id = $1', [victim.id]),
    );
    let settles = 0;
    const report = await verifyA({
      settle: async () => {
        settles++;
      },
    });
    // Three settle rounds, then one more for the check with the targets' rows held still.
    expect(settles).toBe(4);
    expect(report.mismatches).toHaveLength(1);
    const m = report.mismatches[0]!;
    expect(m.table).toBe('payments');
    expect(m.sourceRows).toBe(m.targetRows);
    const id = BigInt(victim.id);
    expect(m.fromKey === null || BigInt(m.fromKey[0]!) < id).toBe(true);
    expect(m.toKey === null || id <= BigInt(m.toKey[0]!)).toBe(true);
    // Narrowed to the row itself.
    expect(m.rows).toEqual([[String(victim.id)]]);
    await withClient(splitA.targets[1]!.server, 'test', (c) =>
      c.query('UPDATE payments SET amount = amount - 1000 WHERE id = $1', [victim.id]),
    );
  });

  it('(e2) a sampled verification still compares whole-table row counts', async () => {
    // The last payment goes missing on its target; the sample (one chunk of users) does not see it.
    const all = await rowsOf(splitA.source, 'payments');
    const victim = all.at(-1)!;
    const owner = splitA.targets[keyOwner(victim.user_id, 'int', RANGES)!]!.server;
    const saved = await withClient(owner, 'test', (c) =>
      c.query('DELETE FROM payments WHERE id = $1 RETURNING *', [victim.id]),
    );
    try {
      const report = await verifyA({
        mode: 'sample',
        sample: 1,
        random: () => 0,
        rounds: 1,
      });
      expect(report.chunksChecked).toBe(1);
      expect(report.mismatches).toEqual([
        expect.objectContaining({
          table: 'payments',
          wholeTable: true,
          sourceRows: all.length,
          targetRows: all.length - 1,
        }),
      ]);
      expect(report.perTable.find((t) => t.table === 'payments')).toEqual({
        table: 'payments',
        sourceRows: all.length,
        targetRows: all.length - 1,
      });
    } finally {
      const row = saved.rows[0] as Record<string, unknown>;
      const cols = Object.keys(row);
      await withClient(owner, 'test', (c) =>
        c.query(
          `INSERT INTO payments (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
          cols.map((k) => row[k]),
        ),
      );
    }
    const again = await verifyA({ mode: 'sample', sample: 1 });
    expect(again.mismatches).toEqual([]);
  });

  it('(e3) a row rewritten on a target right after every catch-up is no alarm: the last check holds it still', async () => {
    const victim = (await rowsOf(splitA.source, 'payments')).find(
      (r) => keyOwner(r.user_id, 'int', RANGES) === 1,
    )!;
    const target = splitA.targets[1]!.server;
    const bump = () =>
      withClient(target, 'test-writer', async (c) => {
        // A writer that gives up when the verifier holds the row (as a real one would wait).
        await c.query("SET lock_timeout = '200ms'");
        await c.query('UPDATE payments SET amount = amount + 1 WHERE id = $1', [victim.id]);
      }).then(
        () => true,
        () => false,
      );
    // A write on the target the (simulated) reverse capture has not brought to the source yet.
    expect(await bump()).toBe(true);
    let bumps = 0;
    const report = await verifyA({
      // A writer changes the row while the capture catches up (the source gets that version) and
      // at once again: the source's version is neither the one read before it nor the one after.
      settle: async () => {
        if (await bump()) bumps++;
        const amount = await withClient(
          target,
          'test',
          async (c) =>
            (await c.query('SELECT amount::text AS a FROM payments WHERE id = $1', [victim.id])).rows[0].a,
        );
        await withClient(splitA.source, 'test', (c) =>
          c.query('UPDATE payments SET amount = $2::numeric WHERE id = $1', [victim.id, amount]),
        );
        if (await bump()) bumps++;
      },
    });
    expect(bumps).toBe(6); // two writes in each plain round, none while the last check holds the row
    expect(report.mismatches).toEqual([]);
  });

  it('(f) cleanup deletes only the moved rows from the source, then the slot and publication', async () => {
    const before = new Map<string, Array<{ user_id: string }>>();
    for (const t of TABLES) before.set(t.name, await rowsOf(splitA.source, t.name));
    const progress: string[] = [];
    // First only the lower half, as if only T1's range had moved.
    const lower = await deleteMovedRows({
      source: splitA.source,
      tables: TABLES,
      ranges: [LOWER],
      batchRows: 50,
      onProgress: (p) => progress.push(`${p.table}:${p.deleted}`),
    });
    expect(lower.complete).toBe(true);
    for (const t of TABLES) {
      const left = await rowsOf(splitA.source, t.name);
      const expected = before.get(t.name)!.filter((r) => keyOwner(r.user_id, 'int', RANGES) === 1);
      expect(left.map((r) => r.user_id)).toEqual(expected.map((r) => r.user_id));
      expect(lower.perTable.find((p) => p.table === t.name)!.deleted).toBe(
        before.get(t.name)!.length - expected.length,
      );
    }
    expect(progress.length).toBeGreaterThan(TABLES.length);
    await deleteMovedRows({ source: splitA.source, tables: TABLES, ranges: RANGES });
    for (const t of TABLES) expect(await rowsOf(splitA.source, t.name)).toEqual([]);
    // Not a moved table: untouched. The targets keep everything.
    expect(await rowsOf(splitA.source, 'trending_topics')).toHaveLength(2);
    const onTargets = (await rowsOf(splitA.targets[0]!.server, 'users')).length;
    expect(onTargets).toBeGreaterThan(0);

    await dropSplitReplication(splitA);
    expect(await slotExists(splitA.source, splitA.slot)).toBe(false);
    const pubs = await withClient(
      splitA.source,
      'test',
      async (c) => (await c.query('SELECT pubname FROM pg_publication')).rows,
    );
    expect(pubs).toEqual([]);
  });
});
