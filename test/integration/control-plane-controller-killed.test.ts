// The controller SIGKILLed in the middle of a fenced cutover block (docs/control-plane.md, failure
// cases), against real servers: a 3-member etcd, PostgreSQL shards and spares from src/local, the
// controller K as a `shardgate start --control etcd://...` process, and two instances B and C in
// this process. K splits s0; B keeps a write transaction on s0 open, so K's hold waits for B's
// ack (K's fenced deadline is long here); K is killed while every instance holds s0. Then: B and C
// release s0 once K's lease has ended (cutover/hold goes with it and no switch v+1 exists), B's
// transaction commits on s0, every write acknowledged through B and C is where it belongs, and K
// started again over the same state files resumes the migration to a verified switch.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usersIn } from '../../bench/lib/write-ledger.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import type { EtcdCluster } from '../../src/local/etcd-cluster.js';
import type { ProxyHandle } from '../../src/proxy.js';
import {
  expectPoolsHeld,
  instanceUrl,
  onEachPrimary,
  poolsThrough,
  startFixtureAndEtcd,
  startInstance,
} from '../support/etcd-instances.js';
import type { ProxyFixture } from '../support/proxy-fixture.js';
import { processApi, type StartedProcess, startShardgateProcess } from '../support/start-process.js';
import { waitFor } from '../support/wait-for.js';

let fx: ProxyFixture;
let etcd: EtcdCluster;
let b: ProxyHandle;
let c: ProxyHandle;
let controllerConfig: ShardgateConfig;
const controllers: StartedProcess[] = [];

const phaseOf = async (k: StartedProcess, id: string) =>
  ((await processApi(k, `/api/migrations/${id}`)).state as { phase: string; status: string }) ?? {
    phase: '?',
    status: '?',
  };

const startController = () =>
  startShardgateProcess(controllerConfig, 60_000, {}, [
    '--control',
    `${etcd.url}/killed`,
    '--instance-id',
    'K',
  ]);

beforeAll(async () => {
  [fx, etcd] = await startFixtureAndEtcd(
    {
      shards: 2,
      replicas: 0,
      spares: 2,
      overrides: { migration: { rowsPerSecond: 5_000, batchRows: 500, inflightGraceMs: 120_000 } },
    },
    3,
  );
  controllerConfig = {
    ...fx.config,
    listen: {
      ...fx.config.listen,
      postgres: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
    },
    // K waits for B's ack far longer than the test takes to kill it.
    migration: { ...fx.config.migration, fencedCutoverDeadlineMs: 120_000 },
  };
  controllers.push(await startController());
  const start = (id: string) =>
    startInstance(fx.config, id, { endpoints: etcd.endpoints, namespace: 'killed' });
  b = await start('B');
  c = await start('C');
}, 240_000);

afterAll(async () => {
  for (const k of controllers) await k.stop().catch(() => undefined);
  await Promise.all([b?.close(), c?.close()]);
  await etcd?.stop();
  await fx?.stop();
});

describe('the controller killed mid-block', () => {
  it('the others release, nothing acknowledged is lost, the migration resumes', async () => {
    const k = controllers[0]!;
    await waitFor('K, B and C are members', async () => (await b.control.members()).length === 3, 20_000);
    const users = usersIn(parseKeyRange('-80'), 60, 1, 50);
    const pools = poolsThrough([b, c], users, { writers: 2, readers: 0, writesPerSecond: 30 });
    const [userB] = usersIn(parseKeyRange('-80'), 1, 51, 100);
    const started = (
      await processApi(k, '/api/migrations', {
        shard: 's0',
        at: 'auto',
        targets: ['spare1', 'spare2'],
        verify: 'full',
      })
    ).migration as { id: string };
    // Once the copy runs (the slot exists), B opens a write transaction on s0 and leaves it open.
    await waitFor(
      'the copy runs',
      async () => ['copying', 'catching_up'].includes((await phaseOf(k, started.id)).phase),
      120_000,
      20,
    );
    const inB = new pg.Client({ connectionString: instanceUrl(b) });
    inB.on('error', () => undefined);
    await inB.connect();
    await inB.query('BEGIN');
    await inB.query('INSERT INTO likes (id, user_id, post_id) VALUES ($1, $2, 1)', [4_000_000_001, userB]);
    await waitFor(
      'B and C hold s0 for K',
      () => b.cutover.isHeld('s0') && c.cutover.isHeld('s0'),
      120_000,
      5,
    );
    k.child.kill('SIGKILL');
    await waitFor('K exited', () => k.exited() !== null, 10_000);

    // K's lease ends, cutover/hold with it; no switch was committed: both release against v.
    await waitFor('B and C released s0', () => !b.cutover.isHeld('s0') && !c.cutover.isHeld('s0'), 30_000);
    for (const p of [b, c]) expect(p.topology.shardNames()).toEqual(['s0', 's1']);
    await inB.query('COMMIT');
    await inB.end();
    const before = pools.map((pool) => pool.ledger.writes);
    await waitFor(
      'writes acknowledged through B and C after the release',
      () => pools.every((pool, i) => pool.ledger.writes > before[i]! + 3),
      20_000,
    );

    // K again, over the same state files: the migration stopped in its block; resume finishes it.
    const again = await startController();
    controllers.push(again);
    expect((await phaseOf(again, started.id)).phase).toBe('blocking');
    await processApi(again, `/api/migrations/${started.id}/resume`, {});
    await waitFor(
      'the resumed migration verified',
      async () => (await phaseOf(again, started.id)).phase === 'verified',
      180_000,
      200,
    );
    await waitFor(
      'B and C route by the new topology',
      () => [b, c].every((p) => p.topology.shardNames().join() === 's0a,s0b,s1'),
      10_000,
    );
    await expectPoolsHeld(b, pools);
    // B's transaction, committed on s0 after the kill, was carried to the new shard once.
    const counts = await onEachPrimary<{ n: number }>(
      b,
      'SELECT count(*)::int AS n FROM likes WHERE id = 4000000001',
    );
    expect(counts.reduce((n, x) => n + x.rows[0]!.n, 0)).toBe(1);
  }, 400_000);
});
