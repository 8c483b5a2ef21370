// A cancel that finds none of the session's statements on a server is for the statement the
// session runs next: here one waiting for the pool's only connection. PostgreSQL would be running
// it already (its client sent it), so the cancel must stop it once it reaches the server, not be
// dropped and let it run its 20 s. And a cancel never reaches the statement after the cancelled one.
import { expect, it } from 'vitest';
import { cancelKeyOf, sendCancelRequest } from '../support/pg-cancel-request.js';
import { useProxyFixture } from '../support/use-fixture.js';
import { waitFor } from '../support/wait-for.js';

const fx = useProxyFixture({
  shards: 1,
  replicas: 0,
  demoData: false,
  overrides: { pool: { size: 1, checkoutTimeoutMs: 60_000 } },
});

const waitingForConnection = () =>
  fx.proxy.topology
    .allServers()
    .flatMap((s) => s.pools.all())
    .some((p) => p.stats().waiting > 0);

it('cancels a statement that waits for a server connection when it reaches the server', async () => {
  const holder = await fx.client();
  const waiter = await fx.client();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1');
    // The pool's only connection is the holder's until it commits: the waiter's statement waits.
    const sleeping = waiter.query('SELECT pg_sleep(20)').then(
      () => 'ran',
      (e: { code?: string }) => e.code,
    );
    await waitFor('the statement waiting for the connection', waitingForConnection);
    const { processID, secretKey } = cancelKeyOf(waiter);
    await sendCancelRequest(fx.port, processID, secretKey);
    await holder.query('COMMIT');
    expect(await sleeping).toBe('57014');
    // Neither session's next statement hears that cancel.
    expect((await waiter.query('SELECT pg_sleep(0.2), 2 AS two')).rows).toEqual([{ pg_sleep: '', two: 2 }]);
    expect((await holder.query('SELECT pg_sleep(0.2), 3 AS three')).rows).toEqual([
      { pg_sleep: '', three: 3 },
    ]);
  } finally {
    await holder.end();
    await waiter.end();
  }
});
