// Live splits with `workers: 2` and the embedded control plane (docs/control-plane.md, "Workers"),
// against real servers from src/local and `shardgate start` as a process: the two workers fence
// each other through the primary. (1) A split of s0 while a write ledger's connections land on
// both workers: both switch, every acknowledged write is found once where its key lives now, and
// nothing unacknowledged is present. (2) Worker 1 SIGKILLed while it holds s1 for the block of a
// second split (a write transaction left open on it, opened once the split's slot exists, keeps
// it from acknowledging for the in-flight grace; grace and deadline are long here): the attempt aborts, nothing acknowledged is lost, and the split then switches (with worker 0, or
// with the restarted worker 1 too).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger, type ShardServer, startWriterPool, usersIn } from '../../bench/lib/write-ledger.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { parseKeyRange, rangeContains } from '../../src/domain/keyspace.js';
import { keyspaceIdFor } from '../../src/router/sharding/hash.js';
import { sleep, startMigrationFixture } from '../support/migration-helpers.js';
import type { ProxyFixture } from '../support/proxy-fixture.js';
import { processApi, type StartedProcess, startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

let fx: ProxyFixture;
let base: ShardgateConfig;
let proc: StartedProcess | null = null;

const api = (path: string, body?: unknown) => processApi(proc!, path, body);

interface Cutover {
  outcome: string;
  reason?: string;
  blockMs: number;
  drainMs: number;
  catchUpMs: number;
  heldStatements: number;
  fence?: { members: string[]; acksMs: number | null };
}
interface State {
  phase: string;
  status: string;
  cutovers: Cutover[];
}
const stateOf = async (id: string) => (await api(`/api/migrations/${id}`)).state as State;

async function settled(id: string, timeoutMs: number): Promise<State> {
  let s: State = { phase: '?', status: '?', cutovers: [] };
  await waitFor(
    'the split settles',
    async () => {
      s = await stateOf(id);
      return ['verified', 'aborted'].includes(s.phase) || s.status.includes('cutover attempts aborted');
    },
    timeoutMs,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${s.phase} ${s.status}\n${cutoverLines()}`);
  });
  return s;
}

/** Starts a split with full verification through the admin API. */
async function startSplit(shard: string, at: string, targets: string[]): Promise<{ id: string }> {
  const body = {
    shard,
    at,
    targets,
    verify: 'full',
    // A shared, loaded machine: let the block start at a lag it can catch up on.
    catchUpBytes: 1024 * 1024,
    cutoverAttempts: 10,
  };
  return (await api('/api/migrations', body)).migration as { id: string };
}

/** The shards worker 0 routes to now, as checkLedger wants them. */
async function shardsNow(): Promise<ShardServer[]> {
  const topo = (await api('/api/topology')) as {
    shards: Array<{ name: string; keyRange: string; primary: { host: string; port: number } }>;
  };
  return topo.shards.map((s) => ({
    shard: s.name,
    range: parseKeyRange(s.keyRange),
    host: s.primary.host,
    port: s.primary.port,
  }));
}

/** Each worker's open client connections, from worker 0's cluster view. */
async function connectionsPerWorker(): Promise<Record<string, number>> {
  const members = (await api('/api/cluster')).members as Array<{
    id: string;
    traffic: { clientConnections: number } | null;
  }>;
  return Object.fromEntries(members.map((m) => [m.id, m.traffic?.clientConnections ?? 0]));
}

async function startInstance(migration: Partial<ShardgateConfig['migration']>): Promise<StartedProcess> {
  const p = await startShardgateProcess(
    { ...base, migration: { ...base.migration, ...migration } },
    90_000,
    {},
    ['--instance-id', 'sgw'],
  );
  await waitFor(
    'both workers listen',
    () => (p.output().match(/postgres front end listening/g) ?? []).length >= 2,
    60_000,
  );
  return p;
}

/** The process's log lines about cutovers and migrations (for a failure's message). */
const cutoverLines = () =>
  proc!
    .output()
    .split('\n')
    .filter((l) => /cutover|migration|worker/i.test(l))
    .slice(-40)
    .join('\n');

const pgUrl = () => `postgres://app:app@127.0.0.1:${proc!.postgresPort}/shardgate`;

beforeAll(async () => {
  fx = await startMigrationFixture({ shards: 2, replicas: 0, spares: 4 });
  base = {
    ...fx.config,
    workers: 2,
    listen: {
      ...fx.config.listen,
      postgres: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
    },
    // Its own state files: the fixture's in-process proxy must not see these migrations.
    migration: { ...fx.config.migration, stateDir: mkdtempSync(join(tmpdir(), 'sg-workers-')) },
    observability: {
      ...fx.config.observability,
      history: { ...fx.config.observability.history, enabled: false },
    },
  };
}, 240_000);

afterAll(async () => {
  await proc?.stop();
  await fx?.stop();
});

describe('live splits with workers: 2', () => {
  it('splits s0 while writes land on both workers: both switch, no write lost', async () => {
    proc = await startInstance({});
    const users = usersIn(parseKeyRange('-80'), 100, 1, 50);
    const pool = startWriterPool({
      url: pgUrl(),
      writers: 6,
      readers: 2,
      writesPerSecond: 40,
      users,
      idBase: 1_000_000_000,
    });
    // The cluster module hands the pool's connections to both workers.
    let held: Record<string, number> = {};
    await waitFor('the pool connected', async () => {
      held = await connectionsPerWorker();
      return Object.values(held).reduce((a, b) => a + b, 0) === 8;
    });
    expect(held.sgw).toBeGreaterThan(0);
    expect(held['sgw.w1']).toBeGreaterThan(0);
    await sleep(300);
    const started = await startSplit('s0', 'auto', ['spare1', 'spare2']);
    const done = await settled(started.id, 300_000);
    await sleep(500);
    await pool.stop();
    expect(done.phase, done.status).toBe('verified');
    const cutover = done.cutovers.at(-1)!;
    expect(cutover.outcome).toBe('switched');
    expect(cutover.fence?.members).toEqual(['sgw.w1']);
    console.log(
      `split with 2 workers: ${done.cutovers.length} attempt(s) (${done.cutovers
        .filter((c) => c.outcome !== 'switched')
        .map((c) => c.reason)
        .join(
          '; ',
        )}); block ${cutover.blockMs.toFixed(0)} ms (drain ${cutover.drainMs.toFixed(0)}, catch-up ${cutover.catchUpMs.toFixed(0)}, worker 1 acked ${cutover.fence?.acksMs?.toFixed(0)} ms after the hold); held on worker 0 ${cutover.heldStatements}; ${pool.ledger.writes} writes acked, ${pool.ledger.retries} 40001 retries, connections ${JSON.stringify(held)}`,
    );
    expect(pool.ledger.errors).toEqual([]);
    expect(pool.ledger.readErrors).toEqual([]);
    const shards = await shardsNow();
    expect(shards.map((s) => s.shard)).toEqual(['s0a', 's0b', 's1']);
    const report = await checkLedger(pool.ledger, shards, 1_000_000_000);
    expect(report.problems).toEqual([]);
    expect(report.checkedInserts).toBeGreaterThan(20);
  }, 420_000);

  it('a worker SIGKILLed while it holds for the block: the attempt aborts, nothing is lost', async () => {
    await proc?.stop();
    // The controller waits for worker 1's ack far longer than the test takes to kill it.
    proc = await startInstance({ fencedCutoverDeadlineMs: 120_000, inflightGraceMs: 120_000 });
    const users = usersIn(parseKeyRange('80-'), 60, 1, 50);
    const ledger = startLedgerWriters(pgUrl(), 4, users, 2_000_000_000);
    // A write transaction on s1 through worker 1, left open: worker 1 cannot acknowledge the hold.
    const [userTx] = usersIn(parseKeyRange('80-'), 1, 51, 100);
    let open: pg.Client | null = null;
    const spare: pg.Client[] = [];
    while (!open) {
      const c = new pg.Client({ connectionString: pgUrl() });
      c.on('error', () => undefined);
      await c.connect();
      const worker = (c as unknown as { processID: number }).processID >>> 25;
      if (worker === 1) open = c;
      else spare.push(c);
    }
    await Promise.all(spare.map((c) => c.end()));
    const started = await startSplit('s1', 'c0', ['spare3', 'spare4']);
    // Only once the split's slot on s1 exists: creating it waits for every write transaction
    // running on s1 to end, so one opened earlier would keep the split in its setup. The block
    // comes after the copy and a few readiness samples, well after this.
    let phase = '';
    await waitFor(
      'the split created its slot',
      async () => {
        phase = (await stateOf(started.id)).phase;
        return !['planned', 'schema'].includes(phase);
      },
      120_000,
      5,
    );
    expect(['copying', 'catching_up']).toContain(phase);
    await open.query('BEGIN');
    await open.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [3_000_000_001, userTx]);
    // Not yet holding: nothing may have been held before the transaction was open.
    expect(proc!.output()).not.toContain('worker holds for a cutover');
    // Worker 1 logs when it starts holding (its pid is in the line): kill it then.
    let pid = 0;
    await waitFor(
      'worker 1 holds s1',
      () => {
        const line = proc!
          .output()
          .split('\n')
          .find((l) => l.includes('worker holds for a cutover') && l.includes('"worker":1'));
        if (line) pid = Number(JSON.parse(line).pid);
        return pid > 0;
      },
      300_000,
      5,
    ).catch(async (err: Error) => {
      const st = await stateOf(started.id);
      throw new Error(`${err.message}: ${st.phase} ${st.status}\n${cutoverLines()}`);
    });
    process.kill(pid, 'SIGKILL');
    const done = await settled(started.id, 300_000);
    await sleep(300);
    await ledger.stop();
    expect(done.phase, done.status).toBe('verified');
    const first = done.cutovers[0]!;
    expect(first.outcome).toBe('aborted');
    expect(first.reason).toContain('worker 1 exited before acknowledging');
    const last = done.cutovers.at(-1)!;
    expect(last.outcome).toBe('switched');
    // Worker 1 is restarted by the primary: the switching attempt ran without it, or with the
    // restarted worker 1 as a member (it joins the fence like the first one did).
    expect([[], ['sgw.w1']]).toContainEqual(last.fence?.members);
    console.log(
      `worker 1 killed in the block: ${done.cutovers.length} attempts (${done.cutovers.map((c) => `${c.outcome}${c.reason ? `: ${c.reason}` : ''}`).join('; ')}); ${ledger.acked.size} inserts acked, ${ledger.failed.size} failed, ${ledger.inDoubt.size} in doubt`,
    );
    const shards = await shardsNow();
    expect(shards.map((s) => s.shard)).toEqual(['s0a', 's0b', 's1a', 's1b']);
    expect(await ledger.check(shards)).toEqual([]);
    expect(ledger.acked.size).toBeGreaterThan(20);
    // The open transaction died with worker 1: its insert is nowhere.
    expect(await holders(shards, 3_000_000_001)).toEqual([]);
  }, 700_000);
});

async function holders(shards: ShardServer[], id: number): Promise<string[]> {
  const out: string[] = [];
  for (const s of shards) {
    const c = new pg.Client({ host: s.host, port: s.port, user: 'postgres', database: 'shardgate' });
    await c.connect();
    const r = await c.query('SELECT 1 FROM likes WHERE id = $1', [id]);
    await c.end();
    if (r.rows.length > 0) out.push(s.shard);
  }
  return out;
}

/**
 * Inserting writers that survive a worker's death: an error with a SQLSTATE failed for sure; a
 * lost connection leaves its insert in doubt (committed or not), and the writer reconnects.
 */
function startLedgerWriters(url: string, writers: number, users: number[], idBase: number) {
  const acked = new Map<number, number>();
  const failed = new Set<number>();
  const inDoubt = new Map<number, number>();
  let next = idBase;
  let stopped = false;
  const loop = async (w: number) => {
    let c: pg.Client | null = null;
    let n = w;
    while (!stopped) {
      if (!c) {
        c = new pg.Client({ connectionString: url });
        c.on('error', () => undefined);
        try {
          await c.connect();
        } catch {
          c = null;
          await sleep(50);
          continue;
        }
      }
      const id = next++;
      const user = users[n++ % users.length]!;
      try {
        await c.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [id, user]);
        acked.set(id, user);
      } catch (err) {
        if ((err as { code?: string }).code) failed.add(id);
        else {
          inDoubt.set(id, user);
          await c.end().catch(() => undefined);
          c = null;
        }
      }
      await sleep(100);
    }
    await c?.end().catch(() => undefined);
  };
  const loops = Array.from({ length: writers }, (_, w) => loop(w));
  return {
    acked,
    failed,
    inDoubt,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
    /** Acked: once, on its owner; failed: nowhere; in doubt: at most once, on its owner; nothing else. */
    async check(shards: ShardServer[]): Promise<string[]> {
      const problems: string[] = [];
      const seen = new Map<number, string[]>();
      for (const s of shards) {
        const c = new pg.Client({ host: s.host, port: s.port, user: 'postgres', database: 'shardgate' });
        await c.connect();
        const r = await c.query('SELECT id::text FROM likes WHERE id >= $1 AND id < $2', [idBase, next]);
        await c.end();
        for (const row of r.rows as Array<{ id: string }>)
          seen.set(Number(row.id), [...(seen.get(Number(row.id)) ?? []), s.shard]);
      }
      const owner = (user: number) =>
        shards.find((s) => rangeContains(s.range, keyspaceIdFor(String(user), 'int')!))!.shard;
      for (const [id, user] of acked) {
        const on = seen.get(id) ?? [];
        if (on.length !== 1 || on[0] !== owner(user))
          problems.push(`acked ${id} on [${on}], want ${owner(user)}`);
      }
      for (const id of failed) if (seen.has(id)) problems.push(`failed ${id} on [${seen.get(id)}]`);
      for (const [id, user] of inDoubt) {
        const on = seen.get(id) ?? [];
        if (on.length > 1 || (on.length === 1 && on[0] !== owner(user)))
          problems.push(`in-doubt ${id} on [${on}], want at most ${owner(user)}`);
      }
      for (const id of seen.keys())
        if (!acked.has(id) && !failed.has(id) && !inDoubt.has(id)) problems.push(`${id} nobody wrote`);
      return problems;
    },
  };
}
