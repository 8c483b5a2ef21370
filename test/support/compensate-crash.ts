// The crash-and-restart test of compensate mode, the same on both ports: a proxy killed after the
// first shard committed, the next proxy compensates that shard once (record, run, one event), a
// later one finds nothing left to do. Each port's test gives its client and its direct reads.
import { afterAll, describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import type { ProxyHandle } from '../../src/proxy.js';
import type { CompensationRecovery } from '../../src/transactions/compensating.js';
import { recoveryPassesOfAnotherProxy } from './compensation-passes.js';
import { type StartedProcess, startShardgateProcess } from './start-process.js';
import { waitFor } from './wait-for.js';

export interface CompensateCrashCase {
  title: string;
  /** Ids used: id (shard 0) and id + 1 (shard 1). */
  id: number;
  /** An id an earlier test compensated (its run stays the one run). */
  earlierId: number;
  config(): ShardgateConfig;
  fixtureAdminPort(): number;
  flushFixtureAlerts(): Promise<void>;
  /** A client of `proc`'s port (the crash is its failing transfer). */
  connect(
    proc: StartedProcess,
  ): Promise<{ failingTransfer(id: number): Promise<unknown>; close(): Promise<void> }>;
  rowsOnShard0(id: number): Promise<number>;
  rowsOnShard1(id: number): Promise<number>;
  runsOnShard0(id: number): Promise<number>;
  /** Compensated and announced records /api/transactions on `adminPort` lists. */
  compensated(adminPort: number): Promise<number>;
  eventCount(): number;
  /** The in-process proxy's options for this port, and its compensation recovery. */
  proxyPorts: { mysqlPort?: number };
  recoveryOf(proxy: ProxyHandle): CompensationRecovery;
}

const wait = (what: string, check: () => Promise<boolean>) => waitFor(what, check, 30_000, 100);

export function describeCompensateCrash(c: CompensateCrashCase): void {
  describe(c.title, () => {
    let proc: StartedProcess | null = null;

    const childConfig = (): ShardgateConfig => ({
      ...c.config(),
      transactions: { ...c.config().transactions, recoveryIntervalMs: 300, recoveryMinAgeMs: 300 },
    });

    afterAll(async () => {
      await proc?.stop();
    });

    it('killed after the first shard committed: the next proxy compensates it once; a later one runs nothing', async () => {
      const id = c.id;
      const eventsBefore = c.eventCount();
      proc = await startShardgateProcess(childConfig(), 60_000, {
        SHARDGATE_FAILPOINT: 'compensate-after-first-commit',
      });
      const client = await c.connect(proc);
      expect(await client.failingTransfer(id)).toBeTruthy();
      await wait('the proxy to die', async () => proc!.exited() !== null);
      expect(proc.exited()).toBe('SIGKILL');
      await client.close();
      // Shard 0 committed (its row is there); shard 1 did not (its transaction died with its
      // connection on PostgreSQL, its COMMIT was refused on MariaDB).
      expect(await c.rowsOnShard0(id)).toBe(1);
      expect(await c.rowsOnShard1(id + 1)).toBe(0);

      // Earlier tests' records are compensated too: wait for one more (this transaction's).
      const before = await c.compensated(c.fixtureAdminPort());
      proc = await startShardgateProcess(childConfig());
      const admin = proc.adminPort;
      await wait('recovery to compensate', async () => (await c.compensated(admin)) > before);
      expect(await c.rowsOnShard0(id)).toBe(0);
      expect(await c.runsOnShard0(id)).toBe(1);
      await wait('the webhook event', async () => c.eventCount() > eventsBefore);
      await proc.stop();
      proc = null;

      // A proxy on the same state: its recovery passes find everything finished.
      await recoveryPassesOfAnotherProxy(c.config(), c.proxyPorts, c.recoveryOf, 2);
      expect(await c.runsOnShard0(id)).toBe(1);
      expect(await c.runsOnShard0(c.earlierId)).toBe(1);
      await c.flushFixtureAlerts();
      expect(c.eventCount()).toBe(eventsBefore + 1);
    }, 180_000);
  });
}
