// A KILL QUERY that finds none of the session's statements on a server is for the statement it
// runs next: here one waiting for the pool's only connection. A server would be running it
// already (its client sent it), so the KILL must stop it once it reaches the server, not be
// dropped and let it sleep its 20 s. And the KILL never reaches the statement after it.
import type { RowDataPacket } from 'mysql2/promise';
import { expect, it } from 'vitest';
import { useMysqlProxyFixture } from '../support/use-fixture.js';
import { waitFor } from '../support/wait-for.js';

const fx = useMysqlProxyFixture({
  shards: 1,
  replicas: 0,
  overrides: { pool: { size: 1, checkoutTimeoutMs: 60_000 } },
});

const waitingForConnection = () =>
  fx.proxy
    .mysql!.topology.allServers()
    .flatMap((s) => s.pools.all())
    .some((p) => p.stats().waiting > 0);

it('kills a statement that waits for a server connection when it reaches the server', async () => {
  const holder = await fx.connect();
  const waiter = await fx.connect();
  const killer = await fx.connect();
  await holder.query('BEGIN');
  await holder.query('SELECT 1');
  // The pool's only connection is the holder's until it commits: the waiter's statement waits.
  const sleeping = waiter.query<RowDataPacket[]>('SELECT SLEEP(20) AS slept').then(
    ([rows]) => Number(rows[0]!.slept),
    (e: { errno?: number }) => e.errno,
  );
  await waitFor('the statement waiting for the connection', waitingForConnection);
  // KILL QUERY is answered by shardgate itself (no server connection needed).
  await killer.query(`KILL QUERY ${waiter.threadId}`);
  await holder.query('COMMIT');
  // MariaDB ends a killed SLEEP early, as the result 1 or as error 1317; unkilled it returns 0.
  expect([1, 1317]).toContain(await sleeping);
  // Neither session's next statement hears that KILL.
  const [rows] = await waiter.query<RowDataPacket[]>('SELECT SLEEP(0.2) AS slept, 2 AS two');
  expect(rows).toEqual([{ slept: 0, two: 2 }]);
  const [more] = await holder.query<RowDataPacket[]>('SELECT SLEEP(0.2) AS slept, 3 AS three');
  expect(more).toEqual([{ slept: 0, three: 3 }]);
});
