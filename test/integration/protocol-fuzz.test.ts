// Bounded protocol fuzz of both front ends, startup and authenticated phases (generated messages,
// mostly well framed so they reach the session machines): the proxy never crashes, and a session
// connected all along keeps working. The long run is `shardgate bench fuzz` (1,000,000 messages).
import net from 'node:net';
import fc from 'fast-check';
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlCommand, pgMessage, pgStartup, pgStartupJunk, prng } from '../../bench/lib/fuzz-messages.js';
import {
  type MysqlProxyFixture,
  RawMysqlClient,
  startMysqlProxyFixture,
} from '../support/mysql-proxy-fixture.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

let pgfx: ProxyFixture;
let myfx: MysqlProxyFixture;
let pgBystander: pg.Client;
let myBystander: mysql.Connection;

beforeAll(async () => {
  pgfx = await startProxyFixture({
    shards: 2,
    replicas: 0,
    overrides: { limits: { maxMessageBytes: 65_536, startupTimeoutMs: 2_000 } },
  });
  myfx = await startMysqlProxyFixture({
    shards: 2,
    replicas: 0,
    demoUsers: 10,
    overrides: { limits: { maxMessageBytes: 65_536, startupTimeoutMs: 2_000 } },
  });
  pgBystander = await pgfx.client();
  myBystander = await myfx.connect();
}, 240_000);

afterAll(async () => {
  await pgfx?.stop();
  await myfx?.stop();
});

async function bystandersWork(): Promise<void> {
  expect((await pgBystander.query('SELECT 40 + 2 AS n')).rows[0].n).toBe(42);
  const [rows] = await myBystander.query('SELECT 40 + 2 AS n');
  expect(Number((rows as Array<{ n: number }>)[0]!.n)).toBe(42);
}

/** Sends `chunks` on a fresh PostgreSQL connection, then waits briefly for answers and closes. */
async function pgSession(chunks: Buffer[]): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port: pgfx.port });
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  for (const c of chunks) if (!socket.destroyed) socket.write(c);
  // Let the proxy process what it received (answers or a close) before the next session.
  await new Promise<void>((resolve) => {
    socket.once('close', resolve);
    socket.end(() => setTimeout(() => resolve(), 5));
  });
  socket.destroy();
}

describe('PostgreSQL front end fuzz', () => {
  it('startup phase: odd startup packets never crash it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.integer({ min: 1, max: 4 }), async (seed, n) => {
        const r = prng(seed);
        await pgSession(Array.from({ length: n }, () => pgStartupJunk(r)));
      }),
      { numRuns: 60 },
    );
    await bystandersWork();
  });

  it('authenticated phase: generated frontend messages never crash it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.integer({ min: 1, max: 30 }), async (seed, n) => {
        const r = prng(seed);
        await pgSession([pgStartup('trusty', 'shardgate'), ...Array.from({ length: n }, () => pgMessage(r))]);
      }),
      { numRuns: 150 },
    );
    await bystandersWork();
  });
});

describe('MySQL front end fuzz', () => {
  it('handshake phase and command phase: generated packets never crash it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.boolean(),
        fc.integer({ min: 1, max: 30 }),
        async (seed, login, n) => {
          const r = prng(seed);
          const raw = await RawMysqlClient.connect(myfx.port, { login });
          for (let i = 0; i < n; i++) raw.write(mysqlCommand(r));
          await raw.packet(200).catch(() => undefined);
          raw.destroy();
        },
      ),
      { numRuns: 150 },
    );
    await bystandersWork();
  });
});
