// Session pooling (LISTEN/NOTIFY across clients, named statements without renaming) and a
// backend that is down when shardgate starts.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { freePort } from '../../src/local/postgres-cluster.js';
import { silentLogger } from '../../src/log.js';
import { startProxy } from '../../src/proxy.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

let fx: ProxyFixture;

beforeAll(async () => {
  fx = await startProxyFixture({ shards: 1, replicas: 0, overrides: { pool: { mode: 'session' } } });
});

afterAll(async () => {
  await fx?.stop();
});

describe('session pooling', () => {
  it('delivers NOTIFY to a LISTENing client', async () => {
    const listener = await fx.client();
    const notifier = await fx.client();
    const got = new Promise<pg.Notification>((resolve) => listener.on('notification', resolve));
    await listener.query('LISTEN shardgate_events');
    await notifier.query("NOTIFY shardgate_events, 'hello'");
    const n = await got;
    expect(n.channel).toBe('shardgate_events');
    expect(n.payload).toBe('hello');
  });

  it('keeps session state for the whole connection', async () => {
    const c = await fx.client();
    await c.query("SET application_name = 'session-mode-test'");
    const r = await c.query('SHOW application_name');
    expect(r.rows[0]?.application_name).toBe('session-mode-test');
    const p = await c.query({ name: 'q1', text: 'SELECT $1::int * 2 AS v', values: [21] });
    expect(p.rows[0]?.v).toBe(42);
  });
});

describe('a backend that is down at start', () => {
  it('answers clients with 08006 and a message naming the server', async () => {
    const deadPort = await freePort();
    const config = parseConfig({
      users: [{ name: 'app', password: 'app', backend: 'service' }],
      listen: { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
      pool: { connectRetries: 1, connectBackoffMs: 20, connectTimeoutMs: 500 },
      shards: [{ name: 's0', primary: { host: '127.0.0.1', port: deadPort } }],
    });
    const proxy = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: null });
    try {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: proxy.postgres.port,
        user: 'app',
        password: 'app',
        database: 'x',
      });
      c.on('error', () => undefined);
      const err = await c.connect().then(
        () => null,
        (e: { code?: string; message: string }) => e,
      );
      expect(err?.code).toBe('08006');
      expect(err?.message).toContain('s0-primary');
    } finally {
      await proxy.close();
    }
  });
});
