// Shutting a listener down with clients connected and idle: every session ends with
// ADMIN_SHUTDOWN and close() resolves. Node's server.close() waits for every open socket, so a
// listener that awaited it before ending its sessions hung for as long as a client stayed
// connected (the PostgreSQL listener did; a hang fails this test by its timeout).
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MysqlProxyFixture, startMysqlProxyFixture } from '../support/mysql-proxy-fixture.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

// A long startup timeout: only the shutdown can end the sockets that never log in.
const overrides = { limits: { startupTimeoutMs: 600_000 } };
let fx: MysqlProxyFixture;
let pgFx: ProxyFixture;

beforeAll(async () => {
  [fx, pgFx] = await Promise.all([
    startMysqlProxyFixture({ shards: 1, replicas: 0, overrides }),
    startProxyFixture({ shards: 1, replicas: 0, demoData: false, overrides }),
  ]);
}, 300_000);

afterAll(async () => {
  await Promise.all([fx?.stop(), pgFx?.stop()]);
});

/** A connected socket that sends nothing; resolves with what it received once the proxy closes it. */
async function silentSocket(port: number): Promise<{ closed: Promise<Buffer> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = Buffer.alloc(0);
  socket.on('data', (d) => {
    data = Buffer.concat([data, d]);
  });
  return { closed: new Promise((resolve) => socket.on('close', () => resolve(data))) };
}

describe('listener shutdown', () => {
  it('PostgreSQL: close() ends idle sessions, logged in or not, and resolves', async () => {
    const { listener, port } = pgFx.proxy.postgres;
    const loggedIn = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'app',
      password: 'app',
      database: 'shardgate',
    });
    const errors: Array<{ code?: string }> = [];
    loggedIn.on('error', (e) => errors.push(e as { code?: string }));
    await loggedIn.connect();
    const ended = new Promise<void>((resolve) => loggedIn.once('end', () => resolve()));
    const silent = await silentSocket(port);
    await waitFor(() => listener.sessions.size === 2);

    await listener.close();
    await ended;
    await silent.closed;
    expect(errors[0]?.code).toBe('57P01');
    expect(listener.sessions.size).toBe(0);
  });

  it('MySQL: close() ends idle sessions, logged in or not, and resolves', async () => {
    const listener = fx.proxy.mysql!.listener;
    const loggedIn = await fx.connect();
    const errors: Array<{ code?: unknown }> = [];
    loggedIn.on('error', (e) => errors.push(e as { code?: unknown }));
    const ended = new Promise<void>((resolve) => loggedIn.once('end', () => resolve()));
    const silent = await silentSocket(fx.port);
    await waitFor(() => listener.sessions.size === 2);

    await listener.close();
    await ended;
    const received = await silent.closed;
    expect(received.length).toBeGreaterThan(0); // the greeting, then the close
    // mysql2 reports an ERR packet nobody asked for with its errno as `code`.
    expect(errors.map((e) => e.code)).toEqual([1053]);
    expect(listener.sessions.size).toBe(0);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}
