// The quota suites of both front ends (pg-quotas, mysql-quotas) run the same two scenarios on the
// settings of quota-config.ts: `app` at its server connection limit waits, then fails, while
// another user is served; and a session idle inside a transaction is closed and rolled back. What
// differs per protocol (driver, how a session pins a server connection, error codes, SQL) is a
// `QuotaSide`; describeQuotas makes both scenarios a file's tests.
import { describe, expect, it } from 'vitest';
import { waitForQuota } from './quota-config.js';

/** The parts of both drivers' connections the scenarios use. */
interface Session {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface QuotaSide<C extends Session> {
  /** A session through shardgate as `app` (limited to two server connections), or as another user. */
  connect(as: 'app' | 'other'): Promise<C>;
  /** Makes the session hold a server connection (a lock of its own, numbered `n`). */
  pin(c: C, n: number): Promise<unknown>;
  /** The single value (as a number) of a one-row, one-column query. */
  value(c: C, sql: string): Promise<number>;
  /** The server connections `app` holds now, by the proxy's count. */
  slotsHeld(): number;
  /** What the query of a session over its limit is rejected with. */
  overLimit: Record<string, unknown>;
  /** Checks the error a session closed for idling inside its transaction is given. */
  expectIdleClosed(err: Error): void;
  sql: {
    /** Inserts a row of trending_topics with id 777001. */
    insertIdle: string;
    /** The count of rows of trending_topics with id 777001, as `n`. */
    countIdle: string;
    /** Sleeps half a second. */
    sleep: string;
  };
}

/** Two sessions of `app` hold its two slots: a third waits and fails, another user is served. */
async function expectPerUserLimit<C extends Session>(s: QuotaSide<C>): Promise<void> {
  const c1 = await s.connect('app');
  const c2 = await s.connect('app');
  await s.pin(c1, 1);
  await s.pin(c2, 2);
  expect(s.slotsHeld()).toBe(2);
  const c3 = await s.connect('app');
  await expect(s.value(c3, 'SELECT 1 AS one')).rejects.toMatchObject(s.overLimit);
  const other = await s.connect('other');
  expect(await s.value(other, 'SELECT 2 AS two')).toBe(2);
  // A freed slot goes to the waiter.
  const waiting = s.value(c3, 'SELECT 3 AS three');
  await c1.end();
  expect(await waiting).toBe(3);
  await c2.end();
  await c3.end();
  await other.end();
  await waitForQuota('every slot to be given back', () => s.slotsHeld() === 0);
}

/** A session idle inside its transaction is closed and its insert rolled back; a busy one is not. */
async function expectIdleTransactionClosed<C extends Session>(s: QuotaSide<C>): Promise<void> {
  const c = await s.connect('other');
  const errors: Error[] = [];
  c.on('error', (e) => errors.push(e));
  await c.query('BEGIN');
  await c.query(s.sql.insertIdle);
  await waitForQuota('the session to be closed', () => errors.length > 0);
  s.expectIdleClosed(errors[0]!);
  const check = await s.connect('other');
  expect(await s.value(check, s.sql.countIdle)).toBe(0);
  // A session that keeps working inside its transaction is not closed.
  await check.query('BEGIN');
  for (let i = 0; i < 3; i++) await check.query(s.sql.sleep);
  await check.query('COMMIT');
  await check.end();
}

/** How a front end's suite names itself and the errors its scenarios expect, in the test titles. */
export interface QuotaTitles {
  front: string;
  /** The code a query over the limit is rejected with. */
  overLimit: string;
  /** The code a session closed for idling inside its transaction is given. */
  idleClosed: string;
}

/** Both scenarios as the tests of a front end's quota file. */
export function describeQuotas<C extends Session>(side: QuotaSide<C>, t: QuotaTitles): void {
  describe(`per-user server connection limit (${t.front})`, () => {
    it(`a user at its limit waits, then gets ${t.overLimit}; other users are served; a freed slot goes to the waiter`, () =>
      expectPerUserLimit(side));
  });

  describe(`idle in transaction timeout (${t.front})`, () => {
    it(`closes the session with ${t.idleClosed} and rolls its transaction back`, () =>
      expectIdleTransactionClosed(side));
  });
}
