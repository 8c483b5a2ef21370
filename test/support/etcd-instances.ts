// What the control-plane integration tests share: the proxy fixture started beside an etcd
// cluster, shardgate instances in this process on that etcd (each with its own EtcdControl),
// writer pools through several instances, and the check of their ledgers afterwards.
import pg from 'pg';
import { expect } from 'vitest';
import { checkLedger, startWriterPool } from '../../bench/lib/write-ledger.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { EtcdControl } from '../../src/control/etcd-control.js';
import { EtcdCluster } from '../../src/local/etcd-cluster.js';
import { silentLogger } from '../../src/log.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { sleep } from './migration-helpers.js';
import { type FixtureOptions, type ProxyFixture, startProxyFixture } from './proxy-fixture.js';

/** The app user's connection string through an instance's PostgreSQL port. */
export const instanceUrl = (p: ProxyHandle) => `postgres://app:app@127.0.0.1:${p.postgres.port}/shardgate`;

/** The proxy fixture (with the admin API's test token) and an etcd cluster of `members`, started together. */
export function startFixtureAndEtcd(
  options: FixtureOptions,
  members: 1 | 3,
): Promise<[ProxyFixture, EtcdCluster]> {
  return Promise.all([
    startProxyFixture({ ...options, overrides: { admin: { token: 'test-token' }, ...options.overrides } }),
    EtcdCluster.start({ members }),
  ]);
}

/** Stops what a test file started of these (what did start): its instances, then etcd, then the fixture. */
export async function stopInstancesAndEtcd(
  instances: Array<ProxyHandle | undefined>,
  etcd: EtcdCluster | undefined,
  fx: ProxyFixture | undefined,
): Promise<void> {
  for (const p of instances) await p?.close();
  await etcd?.stop();
  await fx?.stop();
}

/** Instance `id` in this process, on etcd `namespace` through `endpoints`; its admin API when `admin`. */
export function startInstance(
  config: ShardgateConfig,
  id: string,
  control: { endpoints: string[]; namespace: string },
  admin = false,
): Promise<ProxyHandle> {
  return startProxy(config, {
    log: silentLogger(),
    postgresPort: 0,
    adminPort: admin ? 0 : null,
    instanceId: id,
    control: new EtcdControl(control, silentLogger()),
  });
}

/**
 * Writer pools, the i-th through instances[i] on its share of `users` (dealt out in order), with
 * ids from (i + 1) x 1,000,000,000.
 */
export function poolsThrough(
  instances: ProxyHandle[],
  users: number[],
  o: { writers: number; readers: number; writesPerSecond: number },
) {
  const share = Math.ceil(users.length / instances.length);
  return instances.map((p, i) =>
    startWriterPool({
      url: instanceUrl(p),
      ...o,
      users: users.slice(i * share, (i + 1) * share),
      idBase: (i + 1) * 1_000_000_000,
    }),
  );
}

/**
 * Stops poolsThrough's pools 300 ms later; then none met an error, and every write each one
 * acknowledged is on the shard of `p`'s topology owning its key, exactly once.
 */
export async function expectPoolsHeld(p: ProxyHandle, pools: ReturnType<typeof poolsThrough>): Promise<void> {
  await sleep(300);
  await Promise.all(pools.map((pool) => pool.stop()));
  const shards = p.topology.shardList().map((s) => ({
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
}

/** `sql` run as postgres straight on each primary of `p`'s topology: the rows of each shard. */
export async function onEachPrimary<R>(
  p: ProxyHandle,
  sql: string,
  params: unknown[] = [],
): Promise<Array<{ shard: string; rows: R[] }>> {
  const out: Array<{ shard: string; rows: R[] }> = [];
  for (const s of p.topology.shardList()) {
    const direct = new pg.Client({
      host: s.primary.host,
      port: s.primary.port,
      user: 'postgres',
      database: 'shardgate',
    });
    await direct.connect();
    try {
      out.push({ shard: s.name, rows: (await direct.query(sql, params)).rows as R[] });
    } finally {
      await direct.end();
    }
  }
  return out;
}

/**
 * Starts a split through instance `p` with full verification whose block may start at a lag of
 * 256 KiB (the machine the tests run on is shared: a lag it can catch up on in the block).
 */
export function startFencedSplit(
  p: ProxyHandle,
  shard: string,
  at: string,
  targets: [string, string],
  cutoverAttempts: number,
): Promise<MigrationState> {
  return p.migrations!.start({
    shard,
    at,
    targets,
    verify: 'full',
    catchUpBytes: 256 * 1024,
    cutoverAttempts,
  });
}
