// The backend password never reaches a split's state file or the admin API, the state file is
// 0600 in a 0700 directory, and reading a migration needs the admin token. (The servers trust
// loopback, so the configured password is accepted and never checked: only its travels matter.)
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

const BACKEND_PASSWORD = 'backend-pw-never-shown';
const TOKEN = 'migration-admin-token';
let fx: ProxyFixture;
let stateDir: string;
let base: string;

beforeAll(async () => {
  stateDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'sg-secrets-')), 'nested', 'state');
  fx = await startProxyFixture({
    shards: 1,
    replicas: 0,
    spares: 2,
    overrides: {
      admin: { token: TOKEN },
      backend: { password: BACKEND_PASSWORD },
      migration: { stateDir, rowsPerSecond: 50_000 },
    },
  });
  base = `http://127.0.0.1:${fx.proxy.admin!.port}`;
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

const auth = { authorization: `Bearer ${TOKEN}` };

describe('migration secrets', () => {
  it('keeps the backend password out of the plan, the state file and every answer', async () => {
    const started = await fetch(`${base}/api/migrations`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ shard: 's0', at: '80', targets: ['spare1', 'spare2'] }),
    });
    const startedText = await started.text();
    expect(started.status, startedText).toBe(201);
    expect(startedText).not.toContain(BACKEND_PASSWORD);
    const id = JSON.parse(startedText).migration.id as string;

    // The split runs to its end with credentials looked up from the config, not the plan.
    const deadline = Date.now() + 120_000;
    let phase = '';
    while (Date.now() < deadline) {
      phase = fx.proxy.migrations!.get(id).phase;
      if (['verified', 'aborted', 'rolled_back'].includes(phase) && !fx.proxy.migrations!.verifying(id))
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(phase, fx.proxy.migrations!.get(id).status).toBe('verified');

    const file = path.join(stateDir, `${id}.json`);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(BACKEND_PASSWORD);
    expect(text).not.toMatch(/"password"/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(stateDir).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    expect((await fetch(`${base}/api/migrations/${id}`)).status).toBe(401);
    expect((await fetch(`${base}/api/migrations`)).status).toBe(401);
    for (const p of [`/api/migrations/${id}`, '/api/migrations']) {
      const r = await fetch(base + p, { headers: auth });
      const body = await r.text();
      expect(r.status, p).toBe(200);
      expect(body, p).not.toContain(BACKEND_PASSWORD);
    }
  }, 150_000);

  it('needs the token for hot-key values and advice, not for health and metrics', async () => {
    const c = await fx.client();
    await c.query('SELECT name FROM users WHERE user_id = $1', [7]);
    expect((await fetch(`${base}/api/hotkeys`)).status).toBe(401);
    expect((await fetch(`${base}/api/advice`)).status).toBe(401);
    expect((await fetch(`${base}/api/hotkeys`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    expect((await fetch(`${base}/api/topology`)).status).toBe(200);
  });
});
