// What the live-migration integration tests share: driving a migration through the admin API as
// `shardgate migrate` does, waiting for an in-process proxy's migration to settle, and checking a
// writer pool's ledger against the servers of the topology the proxy routes to now.
import { expect } from 'vitest';
import {
  checkLedger,
  type Ledger,
  startWriterPool,
  type WriterPoolOptions,
} from '../../bench/lib/write-ledger.js';
import type { migrationSummary } from '../../src/admin/api-migrations.js';
import type { SplitPlan } from '../../src/migration/plan.js';
import type { MigrationState } from '../../src/migration/state-store.js';
import type { ProxyHandle } from '../../src/proxy.js';
import { type FixtureOptions, type ProxyFixture, startProxyFixture } from './proxy-fixture.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type MigrationSummary = ReturnType<typeof migrationSummary>;

export interface MigrationFixtureOptions extends Omit<FixtureOptions, 'overrides'> {
  /** The cutover block's deadline (the config's default when not given). */
  cutoverDeadlineMs?: number;
  batchRows?: number;
  /** Config sections besides admin and migration. */
  overrides?: Record<string, unknown>;
}

/**
 * The proxy fixture of a live-migration test: a copy at 50,000 rows/s in batches of `batchRows`
 * (500), 300 ms in-flight grace, and the admin API with the test token (at `adminUrl(fx)`).
 */
export function startMigrationFixture(o: MigrationFixtureOptions): Promise<ProxyFixture> {
  const { cutoverDeadlineMs, batchRows = 500, overrides = {}, ...options } = o;
  return startProxyFixture({
    ...options,
    overrides: {
      ...overrides,
      admin: { token: 'test-token' },
      migration: {
        rowsPerSecond: 50_000,
        batchRows,
        inflightGraceMs: 300,
        ...(cutoverDeadlineMs === undefined ? {} : { cutoverDeadlineMs }),
      },
    },
  });
}

/** The base URL of a fixture's admin API. */
export const adminUrl = (fx: ProxyFixture) => `http://127.0.0.1:${fx.proxy.admin!.port}`;

export interface MigrationReply {
  plan?: SplitPlan;
  migration?: MigrationSummary;
  error?: string;
}

/** POST to the admin API (`api` its base URL) with the test token, as the CLI does. */
export async function postAdmin(
  api: string,
  pathName: string,
  body?: unknown,
): Promise<{ status: number; json: MigrationReply }> {
  const r = await fetch(`${api}${pathName}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-token' },
    body: JSON.stringify(body ?? {}),
  });
  return { status: r.status, json: (await r.json()) as MigrationReply };
}

/** Waits until the proxy's migration `id` is in one of `phases` (a switch counts once verified). */
export async function waitForMigration(
  fx: ProxyFixture,
  id: string,
  phases: string[],
  timeoutMs: number,
): Promise<MigrationState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = fx.proxy.migrations!.get(id);
    const settled = s.phase !== 'switched' || (s.verify !== null && !fx.proxy.migrations!.verifying(id));
    if (phases.includes(s.phase) && settled) return s;
    if (Date.now() > deadline) throw new Error(`migration stuck in ${s.phase}: ${s.status}`);
    await sleep(100);
  }
}

/** The ledger against the servers of the proxy's current topology (see bench/lib/write-ledger.ts). */
export async function expectLedgerHolds(
  fx: { proxy: ProxyHandle },
  ledger: Ledger,
  idBase: number,
): Promise<void> {
  const shards = fx.proxy.topology.shardList().map((s) => ({
    shard: s.name,
    range: s.range,
    host: s.primary.host,
    port: s.primary.port,
  }));
  const report = await checkLedger(ledger, shards, idBase);
  expect(report.problems).toEqual([]);
  expect(report.checkedInserts).toBeGreaterThan(20);
}

/** How many writers and readers a migration's writer pool runs, and its writes a second. */
export type WriterPace = Pick<WriterPoolOptions, 'writers' | 'readers' | 'writesPerSecond'>;

/** The paced writers a live migration runs under, on `users`: by default 6, with 2 readers, 300 writes/s. */
export function migrationWriters(
  fx: ProxyFixture,
  users: number[],
  idBase: number,
  pace: WriterPace = { writers: 6, readers: 2, writesPerSecond: 300 },
) {
  return startWriterPool({ url: fx.url(), ...pace, users, idBase });
}

/**
 * Waits for migration `id` to settle (verified, switched or aborted), lets the writers run half a
 * second more, stops them and logs the writes and the last cutover's figures under `label`.
 */
export async function settleUnderWriters(
  fx: ProxyFixture,
  id: string,
  load: { ledger: Ledger; stop(): Promise<void> },
  label: string,
  timeoutMs: number,
): Promise<MigrationState> {
  const done = await waitForMigration(fx, id, ['verified', 'switched', 'aborted'], timeoutMs);
  await sleep(500);
  await load.stop();
  const { ledger } = load;
  const cutover = done.cutovers.at(-1)!;
  console.log(
    `${label}: ${ledger.writes} writes acked, ${ledger.retries} 40001 retries, block ${cutover.blockMs.toFixed(0)} ms (drain ${cutover.drainMs.toFixed(0)}, catch-up ${cutover.catchUpMs.toFixed(0)}), held ${cutover.heldStatements} (max ${cutover.maxHeldMs.toFixed(0)} ms)`,
  );
  return done;
}

/**
 * Verification again after the switch (`POST /api/migrations/<id>/verify`, what `shardgate migrate
 * verify` calls) while `load`'s writers keep inserting and updating: it must pass, writes must
 * have been acknowledged between its `verifying` and `verified` entries of the history (so it
 * really ran alongside them), and once the writers stop every acknowledged write is on the shard
 * owning its key exactly once (ids from `idBase`). The migration's state once verified again.
 */
export async function verifyWhileWriting(
  fx: ProxyFixture,
  api: string,
  id: string,
  load: { ledger: Ledger; stop(): Promise<void> },
  idBase: number,
): Promise<MigrationState> {
  const { ledger } = load;
  let verified: MigrationState;
  try {
    const runsBefore = fx.proxy.migrations!.get(id).history.filter((h) => h.phase === 'verifying').length;
    const r = await postAdmin(api, `/api/migrations/${id}/verify`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.migration!.phase).toBe('verifying');
    verified = await waitForMigration(fx, id, ['verified', 'switched'], 120_000);
    expect(verified.phase, verified.status).toBe('verified');
    expect(verified.verify!.mismatches).toEqual([]);
    const runs = verified.history.filter((h) => h.phase === 'verifying');
    expect(runs.length).toBe(runsBefore + 1);
    const from = Date.parse(runs.at(-1)!.at);
    const to = Date.parse(verified.history.filter((h) => h.phase === 'verified').at(-1)!.at);
    const during = ledger.writeTimes.filter((t) => t >= from && t <= to).length;
    console.log(`verify again: ${to - from} ms, ${during} writes acknowledged meanwhile`);
    expect(during, 'writes acknowledged while the verification ran').toBeGreaterThan(0);
  } finally {
    await load.stop();
  }
  expect(ledger.errors).toEqual([]);
  expect(ledger.readErrors).toEqual([]);
  expect(ledger.staleOwnReads).toBe(0);
  await expectLedgerHolds(fx, ledger, idBase);
  return verified;
}
