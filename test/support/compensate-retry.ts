// The retry of a compensation that could not run, the same on both ports: shard 0 refuses its
// COMMIT after shard 1 committed, and shard 1's compensation is held on a lock until the test
// kills shard 1's server. The record stays 'compensating' (tries, last error, no event); a
// shardgate started afterwards retries it from the log while the server is down, then applies it
// once when the server is back, and one event goes out. An operator can end one by hand
// (`resolve --repaired`): no compensation runs after that, one event. Shard 1 is not the default
// shard, so the compensation log stays reachable.
import { describe, expect, it } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import type { CompensationRecord, CompensationRecovery } from '../../src/transactions/compensating.js';
import { waitFor } from './wait-for.js';

export interface CompensateRetryCase {
  title: string;
  /** Ids used: id, id + 1 (test one), id + 10, id + 11 (test two). */
  id: number;
  token: string;
  config(): ShardgateConfig;
  /** The name of shard 1's primary; stopped and started again by the tests. */
  shard1Server(): string;
  killShard1(): Promise<void>;
  restartShard1(): Promise<void>;
  /**
   * BEGIN; a row `id` on shard 0 that its COMMIT refuses; a row `id + 1` on shard 1; COMMIT.
   * Resolves with the COMMIT's error (null when it succeeded).
   */
  transferFailingOnShard0(id: number): Promise<{ code: string; message: string } | null>;
  /** Takes a lock on shard 1 that the compensation will wait for (until the server dies). */
  lockCompensationOnShard1(): Promise<void>;
  /** Whether a statement waits for that lock on shard 1. */
  compensationWaitsOnShard1(): Promise<boolean>;
  rowsOnShard1(id: number): Promise<number>;
  runsOnShard1(id: number): Promise<number>;
  /** The in-process fixture's admin port, recovery and alert flush. */
  fixtureAdminPort(): number;
  fixtureRecovery(): CompensationRecovery;
  flushFixtureAlerts(): Promise<void>;
  eventsFor(id: string): number;
  proxyPorts: { mysqlPort?: number };
  recoveryOf(proxy: ProxyHandle): CompensationRecovery;
  /** What the client hears when the compensation is still to run. */
  incompleteCode: string;
}

const wait = (what: string, check: () => Promise<boolean>) => waitFor(what, check, 60_000, 200);

export function describeCompensateRetry(c: CompensateRetryCase): void {
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`http://127.0.0.1:${c.fixtureAdminPort()}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const records = async () => (await api('/api/transactions')).body.compensations as CompensationRecord[];
  /** The record of the transaction whose shard-1 row is `id + 1` (participants name no ids: the newest). */
  const newest = async () => (await records())[0]!;
  const otherProxy = () =>
    startProxy(c.config(), { log: silentLogger(), postgresPort: 0, adminPort: 0, ...c.proxyPorts });

  /** The failed transfer, its compensation cut off by shard 1's death: the record, compensating. */
  async function leaveCompensationPending(id: number): Promise<CompensationRecord> {
    await c.lockCompensationOnShard1();
    const commit = c.transferFailingOnShard0(id);
    await wait('the compensation to wait on the lock', () => c.compensationWaitsOnShard1());
    // Killing the server ends the lock and the compensation's connection: a transient error.
    await c.killShard1();
    const err = await commit;
    expect(err?.code).toBe(c.incompleteCode);
    expect(err?.message).toMatch(/recovery retries it/);
    const record = await newest();
    expect(record).toMatchObject({
      state: 'compensating',
      compensate: [c.shard1Server()],
      attempts: 1,
      announced: false,
    });
    expect(record.lastError).toContain(c.shard1Server());
    return record;
  }

  describe(c.title, () => {
    it('a compensation cut off by its server going down is retried, also by a restarted shardgate, and applied once', async () => {
      const record = await leaveCompensationPending(c.id);
      // A shardgate started now (a restart) retries it from the log, while the server is still down.
      const second = await otherProxy();
      try {
        await wait('a second try', async () => {
          await c.recoveryOf(second).pass();
          return (await newest()).attempts >= 2;
        });
      } finally {
        await second.close();
      }
      expect(await newest()).toMatchObject({ id: record.id, state: 'compensating', announced: false });
      expect(c.eventsFor(record.id)).toBe(0);

      await c.restartShard1();
      const third = await otherProxy();
      try {
        await wait('the compensation', async () => {
          await c.recoveryOf(third).pass();
          return (await newest()).state === 'compensated';
        });
        await third.observability?.alerts.flush();
      } finally {
        await third.close();
      }
      expect(await newest()).toMatchObject({ id: record.id, state: 'compensated', announced: true });
      expect(await c.rowsOnShard1(c.id + 1)).toBe(0);
      expect(await c.runsOnShard1(c.id + 1)).toBe(1);
      await wait('the one event', async () => c.eventsFor(record.id) === 1);
      // Further passes (the fixture's own shardgate) find it finished: nothing runs, no second event.
      await c.fixtureRecovery().pass();
      await c.fixtureRecovery().pass();
      await c.flushFixtureAlerts();
      expect(await c.runsOnShard1(c.id + 1)).toBe(1);
      expect(c.eventsFor(record.id)).toBe(1);
    }, 240_000);

    it('an operator resolves one: --repaired ends the retries (one event), nothing runs after the server is back', async () => {
      const id = c.id + 10;
      const record = await leaveCompensationPending(id);
      const resolve = (action: string) =>
        api(`/api/transactions/${record.id}/resolve`, { method: 'POST', body: JSON.stringify({ action }) });
      // Run now, whatever the backoff: the server is still down.
      const now = await resolve('auto');
      expect(now.status).toBe(200);
      expect(now.body.compensation).toMatchObject({ state: 'compensating', attempts: 2 });
      expect((await resolve('commit')).status).toBe(400);
      const repaired = await resolve('repaired');
      expect(repaired.status).toBe(200);
      expect(repaired.body.compensation).toMatchObject({ state: 'resolved', announced: true });
      expect((await resolve('repaired')).status).toBe(409);
      await c.flushFixtureAlerts();
      await wait('the one event', async () => c.eventsFor(record.id) === 1);

      await c.restartShard1();
      await c.fixtureRecovery().pass();
      await c.flushFixtureAlerts();
      // The operator's word stands: the committed row stays, the compensation never ran.
      expect(await c.rowsOnShard1(id + 1)).toBe(1);
      expect(await c.runsOnShard1(id + 1)).toBe(0);
      expect(c.eventsFor(record.id)).toBe(1);
      expect(await newest()).toMatchObject({ id: record.id, state: 'resolved' });
    }, 240_000);
  });
}
