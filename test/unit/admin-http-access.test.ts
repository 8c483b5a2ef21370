// Who may call the admin API: open routes vs token routes, the token compare, the Host check
// against DNS rebinding, and the redaction of secret fields in every JSON answer.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { bearerMatches, HostCheck } from '../../src/admin/access.js';
import { AdminServer } from '../../src/admin/http.js';
import { silentLogger } from '../../src/log.js';

let server: AdminServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

async function serve(token: string | undefined, allowedHosts: string[] = []): Promise<number> {
  server = new AdminServer(silentLogger(), token, { allowedHosts, listenHost: '127.0.0.1' });
  server.route({ method: 'GET', path: '/healthz', open: true, handler: () => ({ json: { ok: true } }) });
  server.route({
    method: 'GET',
    path: '/api/hotkeys',
    handler: () => ({ json: { keys: ['alice@example.com'] } }),
  });
  server.route({
    method: 'GET',
    path: '/api/leaky',
    open: true,
    handler: () => ({
      json: {
        plan: { source: { name: 's0-primary', user: 'postgres', password: 'pw1' } },
        backendPassword: 'pw2',
        token: 'tk',
        list: [{ secretKey: 7, mysqlPassword: 'pw3' }],
        bypass: 'kept',
      },
    }),
  });
  return server.listen('127.0.0.1', 0);
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin API access', () => {
  it('answers open routes to anyone and token routes only with the token', async () => {
    const port = await serve('s3cret');
    expect((await get(port, '/healthz')).status).toBe(200);
    expect((await get(port, '/api/hotkeys')).status).toBe(401);
    expect((await get(port, '/api/hotkeys', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get(port, '/api/hotkeys', { authorization: 's3cret' })).status).toBe(401);
    const ok = await get(port, '/api/hotkeys', { authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('alice@example.com');
  });

  it('refuses token routes when no token is configured', async () => {
    const port = await serve(undefined);
    const r = await get(port, '/api/hotkeys', { authorization: 'Bearer ' });
    expect(r.status).toBe(403);
    expect(r.body).toContain('admin.token');
    expect((await get(port, '/healthz')).status).toBe(200);
  });

  it('refuses a Host that is not loopback, an IP or configured (DNS rebinding)', async () => {
    const port = await serve('s3cret', ['shardgate.internal']);
    for (const host of [
      'evil.example',
      'evil.example:9930',
      '127.0.0.1.evil.example',
      'localhost.evil.example',
    ]) {
      const r = await get(port, '/healthz', { host });
      expect(r.status, host).toBe(403);
      expect(r.body).toContain('admin.allowedHosts');
    }
    for (const host of [
      'localhost',
      `localhost:${port}`,
      '127.0.0.1',
      '[::1]:9930',
      '10.1.2.3:9930',
      'app.localhost',
      'shardgate.internal:9930',
      'LOCALHOST.',
    ]) {
      expect((await get(port, '/healthz', { host })).status, host).toBe(200);
    }
  });

  it('redacts password, secret and token fields in every JSON answer', async () => {
    const port = await serve('s3cret');
    const r = await get(port, '/api/leaky');
    expect(r.status).toBe(200);
    for (const secret of ['pw1', 'pw2', 'pw3', '"tk"']) expect(r.body).not.toContain(secret);
    const json = JSON.parse(r.body);
    expect(json.plan.source).toEqual({ name: 's0-primary', user: 'postgres', password: '[redacted]' });
    expect(json.list[0].secretKey).toBe('[redacted]');
    expect(json.bypass).toBe('kept');
  });

  it('only lets reads be open', () => {
    const s = new AdminServer(silentLogger(), 't');
    expect(() => s.route({ method: 'POST', path: '/x', open: true, handler: () => ({}) })).toThrow(
      /only a read/,
    );
  });
});

describe('access helpers', () => {
  it('bearerMatches compares the whole token', () => {
    expect(bearerMatches('Bearer abc', 'abc')).toBe(true);
    expect(bearerMatches('Bearer abcd', 'abc')).toBe(false);
    expect(bearerMatches('Bearer ab', 'abc')).toBe(false);
    expect(bearerMatches(undefined, 'abc')).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
  });

  it('HostCheck allows the listen host and a missing Host', () => {
    const check = new HostCheck([], 'proxy.lan');
    expect(check.allows('proxy.lan:9930')).toBe(true);
    expect(check.allows(undefined)).toBe(true);
    expect(check.allows('[bad')).toBe(false);
  });
});
