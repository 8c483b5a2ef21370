// TLS on the PostgreSQL front end: SSLRequest answered 'S' and a TLS handshake when a certificate
// is configured; a listener that requires TLS refuses plain connections with 28000.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';
import { makeThrowawayCa } from '../support/throwaway-ca.js';

let fx: ProxyFixture;

beforeAll(async () => {
  // The listener's certificate; the clients here do not verify it.
  const { serverCert: cert, serverKey: key } = makeThrowawayCa(null);
  fx = await startProxyFixture({ shards: 1, replicas: 0, overrides: { tls: { cert, key, required: true } } });
});

afterAll(async () => {
  await fx?.stop();
});

describe('TLS', () => {
  it('serves a client over TLS', async () => {
    const c = await fx.client({ ssl: { rejectUnauthorized: false } });
    const r = await c.query('SELECT 1 AS one');
    expect(r.rows[0]?.one).toBe(1);
    expect(
      (c as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream.encrypted,
    ).toBe(true);
  });

  it('refuses a plain connection when TLS is required', async () => {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: fx.port,
      user: 'app',
      password: 'app',
      database: 'shardgate',
      ssl: false,
    });
    c.on('error', () => undefined);
    await expect(c.connect()).rejects.toMatchObject({ code: '28000' });
  });
});
