// The fenced cutover's bound and its abort path (docs/control-plane.md, F5 and F6), against real
// servers: a 3-member etcd cluster, PostgreSQL shards and spares from src/local, and three
// shardgate instances A (the controller), B and C in this process. B keeps a write transaction on
// s0 open, so it cannot acknowledge the hold within the fenced deadline: the attempt aborts, no
// instance keeps holding s0 (B releases while its transaction is still open), every write goes on
// on the old topology and nothing is lost. Once B's transaction has committed, the migration is
// resumed and switches; C's transaction left open on s0 across that switch gets 40001 and retries,
// and every instance keeps s0a's replica (held back) out of rotation until it has replayed the switch.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger, startWriterPool, usersIn } from '../../bench/lib/write-ledger.js';
import { EtcdControl } from '../../src/control/etcd-control.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';
import { silentLogger } from '../../src/log.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { sleep } from '../support/migration-helpers.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';
import { waitFor } from '../support/wait-for.js';

let fx: ProxyFixture;
let etcd: EtcdCluster;
let a: ProxyHandle;
let b: ProxyHandle;
let c: ProxyHandle;

const url = (p: ProxyHandle) => `postgres://app:app@127.0.0.1:${p.postgres.port}/shardgate`;

async function client(p: ProxyHandle): Promise<pg.Client> {
  const cl = new pg.Client({ connectionString: url(p) });
  cl.on('error', () => undefined);
  await cl.connect();
  return cl;
}

/** Until the migration switched and verified, or its cutover attempts all aborted. */
async function settled(p: ProxyHandle, id: string, timeoutMs: number): Promise<MigrationState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = p.migrations!.get(id);
    if (s.phase === 'verified' && !p.migrations!.verifying(id)) return s;
    if (s.phase === 'aborted' || (!p.migrations!.isRunning(id) && s.phase === 'catching_up')) return s;
    if (Date.now() > deadline) throw new Error(`migration stuck in ${s.phase}: ${s.status}`);
    await sleep(100);
  }
}

const sqlstate = (err: unknown) => (err as { code?: string }).code;

beforeAll(async () => {
  [fx, etcd] = await Promise.all([
    startProxyFixture({
      shards: 2,
      replicas: 0,
      spares: 2,
      spareReplicas: 1,
      overrides: {
        admin: { token: 'test-token' },
        // The fenced deadline is the default (250 ms); the grace is long so that B's open
        // transaction outlives the deadline instead of being cut at the grace.
        migration: { rowsPerSecond: 5_000, batchRows: 500, inflightGraceMs: 60_000 },
      },
    }),
    EtcdCluster.start({ members: 3 }),
  ]);
  const start = (id: string) =>
    startProxy(fx.config, {
      log: silentLogger(),
      postgresPort: 0,
      adminPort: id === 'A' ? 0 : null,
      instanceId: id,
      control: new EtcdControl({ endpoints: etcd.endpoints, namespace: 'abort' }, silentLogger()),
    });
  a = await start('A');
  b = await start('B');
  c = await start('C');
}, 240_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), c?.close()]);
  await etcd?.stop();
  await fx?.stop();
});

describe('fenced cutover past its bound, three instances', () => {
  it('aborts cleanly: no instance stays held, writes go on on the old shards, nothing lost; resumed, it switches', async () => {
    expect(fx.config.migration.fencedCutoverDeadlineMs).toBe(250);
    expect((await a.control.members()).map((m) => m.id)).toEqual(['A', 'B', 'C']);
    const users = usersIn(parseKeyRange('-80'), 90, 1, 50);
    const third = Math.ceil(users.length / 3);
    const pools = [a, b, c].map((p, i) =>
      startWriterPool({
        url: url(p),
        writers: 2,
        readers: 0,
        writesPerSecond: 30,
        users: users.slice(i * third, (i + 1) * third),
        idBase: (i + 1) * 1_000_000_000,
      }),
    );
    const [userB, userC] = usersIn(parseKeyRange('-80'), 2, 51, 100);
    const started = await a.migrations!.start({
      shard: 's0',
      at: 'auto',
      targets: ['spare1', 'spare2'],
      verify: 'full',
      catchUpBytes: 256 * 1024,
      cutoverAttempts: 1,
    });
    // B: a write transaction on s0, left open. B's drain cannot end, so B cannot acknowledge. It
    // opens once the copy runs (the slot's creation waits for transactions that hold an xid); the
    // copy and the catch-up samples leave it time to be open before the block.
    await waitFor(
      'the copy runs',
      () => ['copying', 'catching_up'].includes(a.migrations!.get(started.id).phase),
      120_000,
      10,
    );
    const inB = await client(b);
    await inB.query('BEGIN');
    await inB.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [4_000_000_001, userB]);
    const failed = await settled(a, started.id, 180_000);
    expect(failed.phase, failed.status).toBe('catching_up');
    const attempt = failed.cutovers.at(-1)!;
    expect(attempt.outcome).toBe('aborted');
    // B never acknowledged (whichever timer of the block fired first is the reason given).
    expect(attempt.fence?.members).toEqual(['B', 'C']);
    expect(attempt.fence?.acksMs).toBeNull();
    // Every instance released s0 while B's transaction is still open (B's hold ended at the abort,
    // not at its drain), and all of them route by the old topology.
    await waitFor('no instance holds s0', () => [a, b, c].every((p) => !p.cutover.isHeld('s0')), 10_000);
    for (const p of [a, b, c]) expect(p.topology.shardNames()).toEqual(['s0', 's1']);
    // B's transaction goes on where it was, and commits.
    await inB.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [4_000_000_002, userB]);
    await inB.query('COMMIT');
    const writesAfterAbort = pools.map((pool) => pool.ledger.writes);
    await waitFor(
      'writes acknowledged through A, B and C after the abort',
      () => pools.every((pool, i) => pool.ledger.writes > writesAfterAbort[i]! + 3),
      20_000,
    );

    // C: a transaction open on s0 (not writing yet) across the switch that follows.
    const inC = await client(c);
    await inC.query('BEGIN');
    await inC.query('SELECT count(*) FROM likes WHERE user_id = $1', [userC]);

    // spare1's replica (s0a's after the switch) replays nothing more until lifted below.
    await fx.cluster.setReplayDelay('spare1-replica1', 24 * 3_600_000);
    a.migrations!.resume(started.id, { cutoverAttempts: 5 });
    const done = await settled(a, started.id, 180_000);
    expect(done.phase, done.status).toBe('verified');
    await waitFor(
      'B and C route by the new topology',
      () => [b, c].every((p) => p.topology.shardNames().join() === 's0a,s0b,s1'),
      10_000,
    );
    // Every instance, members too, keeps s0a's replica out of rotation until it has replayed the
    // switch position (it lacks rows s0a's reads expect); once it has, it serves again.
    const fenceOf = (p: ProxyHandle) =>
      p.topology.view().shards.find((s) => s.name === 's0a')!.replicas[0]!.catchUpTo ?? null;
    for (const p of [a, b, c]) expect(fenceOf(p)).toBe(done.switchPositions!.s0a);
    await fx.cluster.setReplayDelay('spare1-replica1', 0);
    await fx.cluster.waitForReplay('spare1-replica1', 60_000);
    await waitFor(
      'the replica back in rotation everywhere',
      () => [a, b, c].every((p) => fenceOf(p) === null),
      20_000,
    );
    // C's transaction was on s0, which C switched away: its write is refused with 40001 ...
    const refused = await inC
      .query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [4_000_000_003, userC])
      .then(
        () => null,
        (err: unknown) => sqlstate(err),
      );
    expect(refused).toBe('40001');
    await inC.query('ROLLBACK');
    // ... and the retry, in a new transaction, is planned on the new shards.
    await inC.query('BEGIN');
    await inC.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [4_000_000_003, userC]);
    await inC.query('COMMIT');
    await Promise.all([inB.end(), inC.end()]);

    await sleep(300);
    await Promise.all(pools.map((pool) => pool.stop()));
    const shards = a.topology.shardList().map((s) => ({
      shard: s.name,
      range: s.range,
      host: s.primary.host,
      port: s.primary.port,
    }));
    for (const [i, pool] of pools.entries()) {
      expect(pool.ledger.errors).toEqual([]);
      const report = await checkLedger(pool.ledger, shards, (i + 1) * 1_000_000_000);
      expect(report.problems).toEqual([]);
    }
    // B's and C's committed rows, each once, read through A.
    const reader = await client(a);
    const found = await reader.query(
      'SELECT id::text FROM likes WHERE user_id = ANY($1::int8[]) AND id >= 4000000001 ORDER BY id',
      [[userB, userC]],
    );
    await reader.end();
    expect(found.rows.map((r: { id: string }) => r.id)).toEqual(['4000000001', '4000000002', '4000000003']);
  }, 400_000);
});
