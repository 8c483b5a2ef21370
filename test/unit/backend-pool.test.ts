// The generic pool (src/backend/pool.ts) through a fake driver: no sockets, fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Pool } from '../../src/backend/pool.js';
import { type PoolConfig, poolSchema } from '../../src/config/schema.js';
import { ShardgateError } from '../../src/errors.js';
import { FakePoolDriver, FakePooledConnection } from '../support/fake-pooled-connection.js';

const address = { name: 's0-replica1', shard: 's0', role: 'replica' as const, user: 'u', database: 'd' };

function makePool(overrides: Partial<PoolConfig> = {}) {
  const driver = new FakePoolDriver((flavour: string) => new FakePooledConnection(flavour));
  const config = { ...poolSchema.parse({}), size: 2, connectBackoffMs: 1, ...overrides };
  const pool = new Pool(address, config, driver);
  const failed: string[] = [];
  let shunned = false;
  pool.serverEvents = {
    failed: (reason) => {
      failed.push(reason);
      shunned = true;
    },
    shunned: () => shunned,
  };
  return { pool, driver, failed };
}

/** A pool of one whose connection is checked out: the next checkout waits, 1 s at most. */
async function poolOfOneHeld() {
  const { pool } = makePool({ size: 1, checkoutTimeoutMs: 1_000 });
  return { pool, held: await pool.acquire('a') };
}

describe('Pool', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('tryAcquire hands out an idle connection synchronously, and nothing when none is idle', async () => {
    const { pool, driver } = makePool();
    expect(pool.tryAcquire('a')).toBeNull();
    const conn = await pool.acquire('a');
    expect(driver.opened).toHaveLength(1);
    pool.release(conn);
    expect(pool.tryAcquire('a')).toBe(conn);
    expect(pool.tryAcquire('a')).toBeNull();
    expect(pool.stats()).toMatchObject({ active: 1, idle: 0, total: 1, checkoutsTotal: 2 });
    await pool.close();
  });

  it('a checkout at the bound waits, gets the next released connection, and times out when none comes', async () => {
    const { pool, held } = await poolOfOneHeld();
    const waiting = pool.acquire('a');
    vi.advanceTimersByTime(200);
    pool.release(held);
    expect(await waiting).toBe(held);
    const late = pool.acquire('a').catch((e: unknown) => e);
    vi.advanceTimersByTime(1_000);
    const err = await late;
    expect(err).toBeInstanceOf(ShardgateError);
    expect((err as ShardgateError).code).toBe('POOL_TIMEOUT');
    expect(pool.stats()).toMatchObject({ waitedTotal: 2, timeoutsTotal: 1, waiting: 0 });
    expect(pool.stats().waitSecondsTotal).toBeCloseTo(0.2, 5);
    await pool.close();
  });

  it('a checkout that began waiting elsewhere (a lane) times out checkoutTimeoutMs after it began', async () => {
    const { pool } = await poolOfOneHeld();
    const late = pool.acquire('a', false, Date.now() - 700).catch((e: unknown) => e);
    vi.advanceTimersByTime(299);
    expect(pool.stats()).toMatchObject({ waiting: 1, timeoutsTotal: 0 });
    vi.advanceTimersByTime(1);
    const err = (await late) as ShardgateError;
    expect(err.code).toBe('POOL_TIMEOUT');
    // The message names the whole wait, not the part in the pool's queue.
    expect(err.message).toContain('1000');
    await pool.close();
  });

  it('waiters share one timer: each times out at its own deadline, and one served early leaves the others theirs', async () => {
    const { pool, held } = await poolOfOneHeld();
    const first = pool.acquire('a');
    vi.advanceTimersByTime(300);
    const second = pool.acquire('a').catch((e: unknown) => e);
    vi.advanceTimersByTime(300);
    const third = pool.acquire('a').catch((e: unknown) => e);
    // The first waiter is served: the timer armed for its deadline must not fail the others then.
    pool.release(held);
    expect(await first).toBe(held);
    vi.advanceTimersByTime(400);
    expect(pool.stats()).toMatchObject({ waiting: 2, timeoutsTotal: 0 });
    vi.advanceTimersByTime(300);
    expect(((await second) as ShardgateError).code).toBe('POOL_TIMEOUT');
    expect(pool.stats()).toMatchObject({ waiting: 1, timeoutsTotal: 1 });
    vi.advanceTimersByTime(299);
    expect(pool.stats()).toMatchObject({ waiting: 1 });
    vi.advanceTimersByTime(1);
    expect(((await third) as ShardgateError).code).toBe('POOL_TIMEOUT');
    expect(pool.stats()).toMatchObject({ waiting: 0, timeoutsTotal: 2 });
    await pool.close();
  });

  it('openConnections: idle and checked out, most recently used first, closed ones left out', async () => {
    const { pool } = makePool({ size: 3 });
    expect(pool.openConnections()).toEqual([]);
    const a = await pool.acquire('a');
    const b = await pool.acquire('a');
    vi.advanceTimersByTime(10);
    pool.release(a);
    expect(pool.openConnections()).toEqual([a, b]);
    vi.advanceTimersByTime(10);
    b.lastUsedAt = Date.now();
    expect(pool.openConnections()).toEqual([b, a]);
    b.serverClose();
    expect(pool.openConnections()).toEqual([a]);
    await pool.close();
  });

  it('flavours: no cross-flavour checkout; at the bound an idle one of the other flavour makes room', async () => {
    const { pool, driver } = makePool({ size: 1 });
    const a = await pool.acquire('a');
    pool.release(a);
    expect(pool.tryAcquire('b')).toBeNull();
    const b = await pool.acquire('b');
    expect(b.flavour).toBe('b');
    expect(a.ended).toBe('terminate');
    expect(driver.opened).toHaveLength(2);
    // A waiter of flavour a, a release of flavour b: the slot goes to a new connection of a.
    const waiting = pool.acquire('a');
    pool.release(b);
    expect(b.closed).toBe(true);
    expect((await waiting).flavour).toBe('a');
    await pool.close();
  });

  it('a connection idle past validateAfterMs is not handed out by tryAcquire; acquire validates it, and replaces it when it fails', async () => {
    const { pool, driver } = makePool({ validateAfterMs: 1_000 });
    const conn = await pool.acquire('a');
    pool.release(conn);
    vi.advanceTimersByTime(1_000);
    expect(pool.tryAcquire('a')).toBeNull();
    expect(pool.stats().idle).toBe(1);
    expect(await pool.acquire('a')).toBe(conn);
    expect(driver.validations).toBe(1);
    pool.release(conn);
    conn.healthy = false;
    vi.advanceTimersByTime(1_000);
    const fresh = await pool.acquire('a');
    expect(fresh).not.toBe(conn);
    expect(conn.ended).toBe('destroy');
    // validate=true: checked however recently used.
    pool.release(fresh);
    await pool.acquire('a', true);
    expect(driver.validations).toBe(3);
    await pool.close();
  });

  it('a connection the driver cannot reset is closed on release, not kept', async () => {
    const { pool } = makePool();
    const conn = await pool.acquire('a');
    conn.busy = true;
    pool.release(conn);
    expect(conn.ended).toBe('destroy');
    expect(pool.stats()).toMatchObject({ idle: 0, total: 0 });
    await pool.close();
  });

  it('retires connections past maxLifetimeMs at checkout', async () => {
    const { pool, driver } = makePool({ maxLifetimeMs: 5_000, validateAfterMs: 0 });
    const conn = await pool.acquire('a');
    pool.release(conn);
    vi.advanceTimersByTime(5_001);
    expect(pool.tryAcquire('a')).toBeNull();
    expect(conn.ended).toBe('terminate');
    expect(await pool.acquire('a')).not.toBe(conn);
    expect(driver.opened).toHaveLength(2);
    await pool.close();
  });

  it('tells the shunning of connect failures and of the server closing a pooled connection, not of its own closes', async () => {
    const { pool, driver, failed } = makePool({ connectRetries: 3 });
    driver.failures.push(new Error('ECONNREFUSED'));
    // A replica: once shunned, the first failure ends the checkout (the read is planned elsewhere).
    const err = await pool.acquire('a').catch((e: unknown) => e);
    expect((err as ShardgateError).code).toBe('BACKEND_UNAVAILABLE');
    expect(failed).toEqual(['ECONNREFUSED']);
    const conn = await pool.acquire('a');
    const other = await pool.acquire('a');
    pool.release(conn);
    conn.serverClose();
    expect(failed).toHaveLength(2);
    expect(pool.stats().idle).toBe(0);
    pool.discard(other);
    expect(failed).toHaveLength(2);
    await pool.close();
  });

  it('a refused login is not the server failing: no shun, no retry', async () => {
    const { pool, driver, failed } = makePool();
    driver.failures.push(new ShardgateError('BACKEND_LOGIN_REFUSED', { detail: 'no such role' }));
    const err = await pool.acquire('a').catch((e: unknown) => e);
    expect((err as ShardgateError).code).toBe('BACKEND_LOGIN_REFUSED');
    expect(failed).toEqual([]);
    await pool.close();
  });

  it('close fails waiters with ADMIN_SHUTDOWN and closes every connection', async () => {
    const { pool } = makePool({ size: 1 });
    const conn = await pool.acquire('a');
    const waiting = pool.acquire('a').catch((e: unknown) => e);
    await pool.close();
    expect(((await waiting) as ShardgateError).code).toBe('ADMIN_SHUTDOWN');
    expect(conn.closed).toBe(true);
    expect(pool.tryAcquire('a')).toBeNull();
  });

  it('retire refuses checkouts now and ends the connections after the linger, one per step, busy ones last', async () => {
    const { pool, failed } = makePool({ size: 4 });
    const conns = await Promise.all([pool.acquire('a'), pool.acquire('a'), pool.acquire('a')]);
    const busy = await pool.acquire('a');
    for (const c of conns) pool.release(c);
    let done = false;
    pool.retire(1_000, () => {
      done = true;
    });
    expect(pool.tryAcquire('a')).toBeNull();
    expect(((await pool.acquire('a').catch((e: unknown) => e)) as ShardgateError).code).toBe(
      'BACKEND_UNAVAILABLE',
    );
    vi.advanceTimersByTime(999);
    expect(conns.filter((c) => c.closed)).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(conns.filter((c) => c.closed)).toHaveLength(1);
    vi.advanceTimersByTime(20);
    expect(conns.filter((c) => c.closed)).toHaveLength(3);
    expect(busy.closed).toBe(false);
    vi.advanceTimersByTime(10);
    expect(busy.ended).toBe('terminate');
    expect(done).toBe(false);
    vi.advanceTimersByTime(10);
    expect(done).toBe(true);
    expect(failed).toEqual([]);
  });

  it('retire fails waiters, a connection released after it closes, and close() after it ends the rest at once', async () => {
    const { pool } = makePool({ size: 3 });
    const [a, b, c] = await Promise.all([pool.acquire('a'), pool.acquire('a'), pool.acquire('a')]);
    const waiting = pool.acquire('a').catch((e: unknown) => e);
    pool.retire(5_000);
    // A read planned against the old topology: BACKEND_UNAVAILABLE lets it be planned again.
    expect(((await waiting) as ShardgateError).code).toBe('BACKEND_UNAVAILABLE');
    pool.release(b);
    expect(b.closed).toBe(true);
    expect(a.closed).toBe(false);
    await pool.close();
    expect([a.closed, c.closed]).toEqual([true, true]);
    vi.advanceTimersByTime(10_000);
  });
});
