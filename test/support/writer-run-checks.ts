// What the live split and merge tests check of a writer pool's run, and how they roll a switched
// migration back while writers go on: the run clean, every acknowledged write where it belongs.
import { expect } from 'vitest';
import type { Ledger } from '../../bench/lib/write-ledger.js';
import { expectLedgerHolds, sleep } from './migration-helpers.js';
import type { ProxyFixture } from './proxy-fixture.js';

/**
 * A run with no client error but 40001 retries, no failed read and no own write missed by a
 * read_your_writes read; every acknowledged write is on the shard owning its key (ids from `idBase`).
 */
export async function expectCleanRun(fx: ProxyFixture, ledger: Ledger, idBase: number): Promise<void> {
  expect(ledger.errors).toEqual([]);
  expect(ledger.readErrors).toEqual([]);
  expect(ledger.staleOwnReads).toBe(0);
  await expectLedgerHolds(fx, ledger, idBase);
}

/**
 * The inserts of an earlier run (ids from `idBase`) are still on the shards owning them; its titles
 * are not checked, a later run's writers overwrote them. Nothing to check without that run.
 */
export async function expectInsertsStillHold(
  fx: ProxyFixture,
  earlier: Ledger | null,
  idBase: number,
): Promise<void> {
  if (!earlier) return;
  earlier.titles.clear();
  await expectLedgerHolds(fx, earlier, idBase);
}

/**
 * `rollback` while `load`'s writers write (they run 800 ms before it and 500 ms after it), then
 * the writers stopped; what `rollback` returned.
 */
export async function rollbackUnderWriters<T>(
  load: { stop(): Promise<void> },
  rollback: () => Promise<T>,
): Promise<T> {
  await sleep(800);
  const result = await rollback();
  await sleep(500);
  await load.stop();
  return result;
}
