// What the MySQL split tests that call the data plane directly (runMysqlSplit, the copier, the
// binlog capture) share: launcher servers as migration addresses, two spares as the halves of a
// split, the copy pace they run at, and a whole split of s0 through a MySQL proxy fixture.
import { expect } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import type { MariadbCluster, MariadbServer } from '../../src/local/mariadb-cluster.js';
import type { CutoverGate } from '../../src/migration/cutover-gate.js';
import { type MysqlSplitResult, runMysqlSplit } from '../../src/migration/mysql-split.js';
import { movedTables } from '../../src/migration/plan.js';
import { Throttle } from '../../src/migration/throttle.js';
import type { ServerAddress, SplitTarget } from '../../src/migration/types.js';
import type { MysqlProxyFixture } from './mysql-proxy-fixture.js';

/** A launcher-started MariaDB server as the migration code addresses it. */
export const serverAddress = (s: { name: string; host: string; port: number }): ServerAddress => ({
  name: s.name,
  host: s.host,
  port: s.port,
  user: 'root',
  database: 'shardgate',
});

/** A copy at 20,000 rows/s, fast enough for the tests' tables, in batches of `batchRows`. */
export const testThrottle = (batchRows = 500): Throttle =>
  new Throttle({
    rowsPerSecond: 20_000,
    bytesPerSecond: 0,
    maintenanceWindow: null,
    maintenanceMultiplier: 1,
    batchRows,
  });

/** Two new spares (spare1, spare2) as the halves s0a and s0b of s0, owning `ranges`. */
export async function spareHalves(
  cluster: MariadbCluster,
  ranges: readonly [string, string],
): Promise<{ spares: MariadbServer[]; targets: SplitTarget[] }> {
  const spares = [await cluster.addSpare('spare1'), await cluster.addSpare('spare2')];
  const targets: SplitTarget[] = ['s0a', 's0b'].map((shard, i) => ({
    shard,
    server: serverAddress(spares[i]!),
    range: parseKeyRange(ranges[i]!),
  }));
  return { spares, targets };
}

/** The primary of s0 in a MySQL proxy fixture. */
export const s0Primary = (fx: MysqlProxyFixture): MariadbServer =>
  fx.cluster.shards.find((s) => s.name === 's0')!.primary as MariadbServer;

export interface S0SplitOptions {
  migrationId: string;
  serverId: number;
  deadlineMs: number;
  catchUpTimeoutMs: number;
  /** The cutover gate; the proxy's own by default. */
  gate?: Pick<CutoverGate, 'block'>;
}

/** runMysqlSplit of s0 onto `targets` with the fixture's topology (its moved tables, 200 ms grace). */
export function splitS0(
  fx: MysqlProxyFixture,
  targets: readonly SplitTarget[],
  o: S0SplitOptions,
): Promise<MysqlSplitResult> {
  return runMysqlSplit({
    migrationId: o.migrationId,
    sourceShard: 's0',
    source: serverAddress(s0Primary(fx)),
    targets,
    tables: movedTables(fx.config, 's0', { sizes: new Map() }),
    throttle: testThrottle(),
    topology: fx.proxy.topology,
    gate: o.gate ?? fx.proxy.cutover,
    serverId: o.serverId,
    graceMs: 200,
    deadlineMs: o.deadlineMs,
    catchUpTimeoutMs: o.catchUpTimeoutMs,
  });
}

/** The split switched in its block, verified clean, and the MySQL routing has the halves, not s0. */
export function expectSwitchedToHalves(fx: MysqlProxyFixture, result: MysqlSplitResult): void {
  expect(result.cutover.reason).toBeNull();
  expect(result.cutover.outcome).toBe('switched');
  expect(result.verify?.mismatches).toEqual([]);
  expect(
    fx.proxy
      .mysql!.topology.shardList()
      .map((s) => s.name)
      .sort(),
  ).toEqual(['s0a', 's0b', 's1']);
}
