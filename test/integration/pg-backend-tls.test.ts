// TLS from shardgate to PostgreSQL servers (issue 11, item 12): a launcher-started server with ssl
// on and a certificate from a throwaway CA. verify-full carries every session over TLS; a wrong CA,
// a wrong server name or a server without TLS is refused with BACKEND_TLS_REFUSED (08006).
import net from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type BackendTls, resolveBackendTls } from '../../src/backend/backend-tls.js';
import {
  PgServerConnection,
  type ServerAddress,
  sendCancel,
} from '../../src/backend/pg-server-connection.js';
import { unprivilegedUser } from '../../src/local/os-user.js';
import { silentLogger } from '../../src/log.js';
import { rememberBackendCredentials } from '../../src/migration/credentials.js';
import { withClient } from '../../src/migration/pg-connect.js';
import { dumpTableSchema } from '../../src/migration/schema-copy.js';
import type { TableMeta } from '../../src/migration/table-meta.js';
import { startProxy } from '../../src/proxy.js';
import { refusalOf } from '../support/backend-refusal.js';
import { type BackendTlsSide, backendTlsModeCases, primaryLogin } from '../support/backend-tls-cases.js';
import { makeThrowawayCa } from '../support/throwaway-ca.js';
import { useProxyFixture } from '../support/use-fixture.js';

const ca = makeThrowawayCa(unprivilegedUser());
const fx = useProxyFixture({
  shards: 1,
  replicas: 0,
  demoData: false,
  serverSettings: { ssl: 'on', ssl_cert_file: `'${ca.serverCert}'`, ssl_key_file: `'${ca.serverKey}'` },
  overrides: { backend: { tls: { mode: 'verify-full', ca: ca.caCert } } },
});

function address(tls: BackendTls): ServerAddress {
  const server = fx.cluster.shards[0]!.primary;
  return primaryLogin(server, server.shard, 'postgres', tls);
}

const refusal = (tls: BackendTls) => refusalOf(() => PgServerConnection.connect(address(tls), 5_000));

async function sslOfSession(tls: BackendTls): Promise<string | undefined> {
  const conn = await PgServerConnection.connect(address(tls), 5_000);
  try {
    const r = await conn.exec('SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return r.rows[0]?.[0] ?? undefined;
  } finally {
    conn.terminate();
  }
}

const side = (): BackendTlsSide => ({
  ca,
  sessionTls: sslOfSession,
  expectEncrypted: (ssl) => expect(ssl).toBe('true'),
  expectPlain: (ssl) => expect(ssl).toBe('false'),
  refusal,
  expectProtocolCode: (err) => expect(err.sqlstate).toBe('08006'),
});

describe('TLS to PostgreSQL servers', () => {
  backendTlsModeCases(side);

  it('verify-full: the sessions the proxy opens run over TLS', async () => {
    const client = await fx.client();
    const r = await client.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(r.rows[0]?.ssl).toBe(true);
    expect(String(r.rows[0]?.version)).toMatch(/^TLS/);
  });

  it('sends cancel requests over TLS too: the cancel key never crosses the network in clear text', async () => {
    const server = fx.cluster.shards[0]!.primary;
    // A relay in front of the server that keeps the first bytes of every connection it carries.
    const openings: Buffer[] = [];
    const relay = net.createServer((client) => {
      const upstream = net.connect({ host: server.host, port: server.port });
      let first = true;
      client.on('data', (d: Buffer) => {
        if (first) openings.push(Buffer.from(d.subarray(0, 8)));
        first = false;
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => client.write(d));
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        a.on('close', () => b.destroy());
        a.on('error', () => b.destroy());
      }
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as net.AddressInfo).port;
    const tls = resolveBackendTls({ mode: 'verify-full', ca: ca.caCert }, undefined);
    const conn = await PgServerConnection.connect(address(tls), 5_000);
    try {
      let settled = false;
      const outcome = conn.exec('SELECT pg_sleep(30)').then(
        () => 'finished',
        (err: Error) => err.message,
      );
      void outcome.then(() => {
        settled = true;
      });
      // Until the sleep is running and cancelled (a cancel before it starts cancels nothing).
      for (let i = 0; i < 50 && !settled; i++) {
        await sendCancel({ host: server.host, port: relayPort, tls }, conn.processId, conn.secretKey);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await outcome).toMatch(/57014/);
      expect(openings.length).toBeGreaterThan(0);
      // Every cancel connection opened with SSLRequest (length 8, code 80877103), never CancelRequest.
      for (const o of openings) expect(o.toString('hex')).toBe('0000000804d2162f');
    } finally {
      conn.terminate();
      relay.close();
    }
  });

  it('verify modes need a CA file', async () => {
    const err = await refusal({ mode: 'verify-full' });
    expect(err.code).toBe('BACKEND_TLS_REFUSED');
    expect(err.message).toMatch(/needs a CA file/);
  });

  it('a client of a proxy with the wrong CA gets the coded error, the server is never sent a password', async () => {
    const wrong = structuredClone(fx.config);
    wrong.backend.tls = { mode: 'verify-full', ca: ca.otherCaCert };
    wrong.pool.connectRetries = 0;
    const proxy = await startProxy(wrong, { log: silentLogger(), postgresPort: 0, adminPort: 0 });
    const client = new pg.Client({
      host: '127.0.0.1',
      port: proxy.postgres.port,
      user: 'app',
      password: 'app',
      database: 'shardgate',
    });
    client.on('error', () => undefined);
    try {
      const err = (await client
        .connect()
        .then(() => client.query('SELECT 1'))
        .catch((e: unknown) => e)) as { code?: string; message?: string };
      expect(err.code).toBe('08006');
      expect(err.message).toMatch(/TLS to s0-primary of shard s0 failed/);
    } finally {
      await client.end().catch(() => undefined);
      await proxy.close();
    }
  });

  it('the migration data plane (node-postgres, pg_dump) follows the same settings', async () => {
    const primary = fx.cluster.shards[0]!.primary;
    const server = {
      name: primary.name,
      host: primary.host,
      port: primary.port,
      user: 'postgres',
      database: 'shardgate',
    };
    const users = [{ table: 'users', qualified: 'public.users' }] as unknown as TableMeta[];
    rememberBackendCredentials(fx.config);
    const r = await withClient(server, 'test', (c) =>
      c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'),
    );
    expect(r.rows[0]?.ssl).toBe('t'); // the data plane keeps every value as text
    expect(await dumpTableSchema(server, users)).toMatch(/CREATE TABLE public\.users/);
    const wrong = structuredClone(fx.config);
    wrong.backend.tls = { mode: 'verify-full', ca: ca.otherCaCert };
    rememberBackendCredentials(wrong);
    try {
      await expect(withClient(server, 'test', (c) => c.query('SELECT 1'))).rejects.toThrow(/certificate/);
      await expect(dumpTableSchema(server, users)).rejects.toThrow(/certificate verify failed/);
    } finally {
      rememberBackendCredentials(fx.config);
    }
  });

  it('a server that turned TLS off is refused under require', async () => {
    const admin = await fx.direct('s0-primary');
    await admin.query('ALTER SYSTEM SET ssl = off');
    await admin.query('SELECT pg_reload_conf()');
    await sslSettingIs('off');
    try {
      const err = await refusal({ mode: 'require' });
      expect(err.code).toBe('BACKEND_TLS_REFUSED');
      expect(err.message).toMatch(/does not accept TLS/);
    } finally {
      await admin.query('ALTER SYSTEM RESET ssl');
      await admin.query('SELECT pg_reload_conf()');
      await sslSettingIs('on');
    }
  });
});

/** Waits until a new session sees the reloaded setting (the postmaster reloads asynchronously). */
async function sslSettingIs(value: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const c = await fx.direct('s0-primary');
    const r = await c.query('SHOW ssl');
    await c.end();
    if (r.rows[0]?.ssl === value) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`ssl never became ${value}`);
}
