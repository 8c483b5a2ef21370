// A test of compensate mode the same on both ports: another proxy's recovery, run while shard 1's
// COMMIT is still on its way, must not compensate shard 0. It decides the record at once (shard 0
// is marked, shard 1's mark not committed yet); its fence waits for shard 1, which then commits.
import { expect } from 'vitest';
import type { ProxyHandle } from '../../src/proxy.js';
import type { CompensationRecovery } from '../../src/transactions/compensating.js';
import type { CompensateSide, StatementError } from './compensate-setup.js';
import { recoveryPassesOfAnotherProxy } from './compensation-passes.js';
import { waitFor } from './wait-for.js';

export interface InFlightCommitCase {
  /** Ids used: id (shard 0) and id + 1 (shard 1). */
  id: number;
  side: CompensateSide;
  /**
   * Starts the transfer of `id` whose shard-1 COMMIT takes seconds, then succeeds; `commit` is what
   * it ends with, `finish` what the port does once it is checked (its client closed, its slow row
   * removed).
   */
  slowTransfer(id: number): Promise<{ commit: Promise<StatementError | null>; finish(): Promise<unknown> }>;
  /** Whether shard 1 is inside that COMMIT. */
  commitRunning(): Promise<boolean>;
  proxyPorts: { mysqlPort?: number };
  recoveryOf(proxy: ProxyHandle): CompensationRecovery;
}

export async function expectInFlightCommitSpared(t: InFlightCommitCase): Promise<void> {
  const { commit, finish } = await t.slowTransfer(t.id);
  await waitFor('shard 1 to be inside its COMMIT', () => t.commitRunning(), 30_000, 100);
  // A second proxy (its own process state) that decides every record, however young.
  const config = structuredClone(t.side.config());
  config.transactions.recoveryMinAgeMs = 0;
  await recoveryPassesOfAnotherProxy(config, t.proxyPorts, t.recoveryOf, 1);
  expect(await commit).toBeNull();
  expect(await t.side.outcome(t.id)).toEqual({ shard0Row: 1, shard1Row: 1, runs: 0 });
  await finish();
}
