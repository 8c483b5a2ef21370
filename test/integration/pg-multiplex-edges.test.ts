// Multiplexing's edge cases, on one server connection (pool.size 1) so that every pipelineable
// unit shares it: a client that stops reading must not hold the units behind its own for longer
// than a checkout would wait (it is closed instead); a statement name two clients give different
// texts (one of them failing to parse) runs each client's own text; a cancel reaches its own
// statement only, never one pipelined behind it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiplexCounters } from '../../src/protocol/postgres/mux-lane.js';
import type { ProxyHandle } from '../../src/proxy.js';
import { appLogin } from '../support/app-login.js';
import { startMultiplexedProxy } from '../support/multiplexed-proxy.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

/** How long units behind a client that reads nothing wait for it (pool.checkoutTimeoutMs). */
const STALL_MS = 2_000;

let fx: ProxyFixture;
let proxy: ProxyHandle;

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 1, replicas: 0, demoData: false });
  proxy = await startMultiplexedProxy(fx, { size: 1, checkoutTimeoutMs: STALL_MS });
});

afterAll(async () => {
  await proxy?.close();
  await fx?.stop();
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client(appLogin(proxy));
  c.on('error', () => {});
  await c.connect();
  return c;
}

function outcome(q: Promise<unknown>): Promise<string> {
  return q.then(
    () => 'finished',
    (err: { code?: string }) => err.code ?? 'no code',
  );
}

/** Cancels the client's running statement with the key shardgate gave it (node-postgres's way). */
function cancel(c: pg.Client): void {
  const active = (c as unknown as { activeQuery: unknown }).activeQuery;
  const canceller = new pg.Client(appLogin(proxy));
  (canceller as unknown as { cancel(client: pg.Client, query: unknown): void }).cancel(c, active);
}

/** Until the server runs a statement containing `text` (a cancel before that is a no-op). */
async function untilRunning(text: string): Promise<void> {
  const direct = await fx.direct('s0-primary');
  try {
    for (;;) {
      const r = await direct.query(
        "select count(*)::int as n from pg_stat_activity where state = 'active' and query like $1",
        [`%${text}%`],
      );
      if (r.rows[0].n > 0) return;
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    await direct.end();
  }
}

/** The socket under a node-postgres client (to stop reading it). */
function socketOf(c: pg.Client): import('node:net').Socket {
  return (c as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
}

// The first rows come after two seconds: the other clients' units are written behind it by then.
const SLOW_FIRST =
  'select repeat($1::text, 100000) || (select pg_sleep(2))::text from generate_series(1, 300)';

describe('pool.multiplex edge cases (one shared server connection)', () => {
  it('a client that stops reading is closed after checkoutTimeoutMs; the units behind its own all finish', async () => {
    const slow = await client();
    const others = await Promise.all(Array.from({ length: 5 }, () => client()));
    try {
      const closedBefore = multiplexCounters.stalledClientsClosed;
      const pipelinedBefore = multiplexCounters.pipelined;
      socketOf(slow).pause();
      const slowQuery = slow.query(SLOW_FIRST, ['x']).then(
        () => 'answered',
        (err: Error & { code?: string }) => `failed ${err.code ?? err.message}`,
      );
      // 30 MB the client never reads: without a bound, the units behind it wait forever. They
      // are sent while it sleeps, so they are written behind it on the one connection.
      await untilRunning('pg_sleep(2)');
      const answers = await Promise.all(
        others.map(async (c, i) => (await c.query('select $1::int * 2 as v', [i])).rows[0].v),
      );
      expect(answers).toEqual([0, 2, 4, 6, 8]);
      expect(multiplexCounters.pipelined).toBeGreaterThan(pipelinedBefore);
      expect(multiplexCounters.stalledClientsClosed).toBe(closedBefore + 1);
      socketOf(slow).resume();
      // Whatever reached its socket before the close, the query does not complete.
      expect(await slowQuery).not.toBe('answered');
      // The shared connection goes on serving.
      expect((await others[0]!.query('select 42 as v')).rows[0].v).toBe(42);
    } finally {
      await Promise.all([slow, ...others].map((c) => c.end().catch(() => {})));
    }
  });

  it('a statement name two clients give different texts (one failing to parse) runs each its own', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => client()));
    try {
      const rounds = await Promise.all(
        clients.map(async (c, i) => {
          const out: string[] = [];
          for (let r = 0; r < 10; r++) {
            const text = i === 5 ? 'select from_nowhere($1::int)' : `select $1::int + ${i} as v`;
            try {
              const res = await c.query({ name: 'shared_name', text, values: [r] });
              out.push(String(res.rows[0].v));
            } catch (err) {
              out.push((err as { code?: string }).code ?? 'no code');
            }
          }
          return out;
        }),
      );
      for (let i = 0; i < 5; i++)
        expect(rounds[i]).toEqual(Array.from({ length: 10 }, (_, r) => String(r + i)));
      // The failing Parse is this client's alone (undefined_function), every time.
      expect(rounds[5]).toEqual(Array.from({ length: 10 }, () => '42883'));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('a cancel stops its own statement, never the units pipelined behind it', async () => {
    const victim = await client();
    const others = await Promise.all(Array.from({ length: 4 }, () => client()));
    try {
      const sleeping = outcome(victim.query('select pg_sleep(1.5) as s'));
      await untilRunning('pg_sleep(1.5)');
      const behind = Promise.all(
        others.map(async (c, i) => (await c.query('select $1::int + 1 as v', [i])).rows[0].v),
      );
      await new Promise((r) => setTimeout(r, 100));
      cancel(victim);
      // Not alone on the connection, the cancel is not sent (it could reach a unit behind) and the
      // statement finishes; alone, it is cancelled. Either way nobody else is hit.
      expect(['finished', '57014']).toContain(await sleeping);
      expect(await behind).toEqual([1, 2, 3, 4]);
      // Alone on the connection, a cancel is sent and stops it.
      const alone = outcome(victim.query('select pg_sleep(30) as s'));
      await untilRunning('pg_sleep(30)');
      cancel(victim);
      expect(await alone).toBe('57014');
      expect((await victim.query('select 7 as v')).rows[0].v).toBe(7);
    } finally {
      await Promise.all([victim, ...others].map((c) => c.end().catch(() => {})));
    }
  });
});
