// postgres.js cancels a query queued behind another (pipelined) by sending its CancelRequest as
// soon as the query before it ends: the cancel must stop that query, not the one ahead, an idle
// connection or a later statement (postgres.js's own "Cancel running query" then "Cancel piped
// query"). The connection is opened first: postgres.js itself hangs (against PostgreSQL directly
// too) when a query is cancelled before its connection is ready, which is what issue #13's
// session-mode hang under load was (a connect through shardgate slower than the test's 500 ms).
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture({
  shards: 1,
  replicas: 0,
  demoData: false,
  overrides: { pool: { mode: 'session' } },
});

let transactionProxy: ProxyHandle;

beforeAll(async () => {
  transactionProxy = await startProxy(
    { ...fx.config, pool: { ...fx.config.pool, mode: 'transaction' } },
    { log: silentLogger(), postgresPort: 0, adminPort: null },
  );
});

afterAll(async () => {
  await transactionProxy?.close();
});

function pgjs(port: number) {
  return postgres({ host: '127.0.0.1', port, user: 'app', pass: 'app', db: 'shardgate', max: 1 });
}

async function cancelPiped(port: number): Promise<void> {
  const sql = pgjs(port);
  try {
    // Connected before any cancel (see above).
    expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    // A few rounds: each round's cancels must land on their own statements only.
    for (let round = 0; round < 3; round++) {
      // As in postgres.js's own suite: a cancelled running query first, then the piped one.
      // The cancelled statements sleep 20 s, not the suite's 2 s: a timer that fires late under load
      // still finds them running (or queued), so the outcome does not depend on the machine's speed.
      const running = sql`select pg_sleep(20)`;
      setTimeout(() => running.cancel(), 500);
      expect(await running.catch((e: { code?: string }) => e.code)).toBe('57014');
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      const first = sql`select pg_sleep(1)`.execute();
      const piped = sql`select pg_sleep(20) as dig`;
      setTimeout(() => piped.cancel(), 500);
      expect(await piped.catch((e: { code?: string }) => e.code)).toBe('57014');
      expect(await first).toHaveLength(1);
      // The session is usable afterwards, and no late cancel hits this statement.
      expect(await sql`select pg_sleep(0.3), 2 as two`).toEqual([{ pg_sleep: '', two: 2 }]);
    }
  } finally {
    await sql.end({ timeout: 1 });
  }
}

describe('cancelling a pipelined query (postgres.js)', () => {
  it('session pooling: the queued query is cancelled, the session goes on', async () => {
    await cancelPiped(fx.port);
  });

  it('transaction pooling: the same', async () => {
    await cancelPiped(transactionProxy.postgres.port);
  });
});
