// The admin HTTP server of a running `shardgate start` (dist/) against bad input: the request
// that used to end the process ("GET //["), and a bounded, seeded fuzz run of malformed requests.
// The process must survive, keep answering the admin API, and a database session open throughout
// must be unaffected.
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { pgLocalConfig } from '../support/proxy-fixture.js';
import { type StartedProcess, startShardgateProcess } from '../support/start-process.js';

let cluster: PostgresCluster;
let proc: StartedProcess;
let db: pg.Client;

beforeAll(async () => {
  cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'shardgate' });
  const config = pgLocalConfig(cluster, {
    admin: { token: 'fuzz-token' },
    migration: { stateDir: mkdtempSync(join(tmpdir(), 'sg-fuzz-state-')) },
  });
  proc = await startShardgateProcess(config);
  db = new pg.Client({
    host: '127.0.0.1',
    port: proc.postgresPort,
    user: 'app',
    password: 'app',
    database: 'shardgate',
  });
  db.on('error', () => undefined);
  await db.connect();
}, 180_000);

afterAll(async () => {
  await db?.end().catch(() => undefined);
  await proc?.stop();
  await cluster?.stop();
});

/** Sends raw bytes, half-closes, returns whatever came back (bounded by a deadline). */
function rawExchange(port: number, bytes: Buffer | string, deadlineMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const parts: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(parts).toString('latin1'));
    };
    const timer = setTimeout(finish, deadlineMs);
    socket.on('data', (d) => parts.push(d));
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => {
      socket.write(bytes);
      socket.end();
    });
  });
}

async function adminGet(path: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${proc.adminPort}${path}`);
  await res.arrayBuffer();
  return res.status;
}

describe('admin HTTP robustness (shardgate start)', () => {
  it('survives GET //[ and keeps answering', async () => {
    const answer = await rawExchange(proc.adminPort, 'GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(proc.exited(), proc.output()).toBeNull();
    expect(await adminGet('/healthz')).toBe(200);
    const r = await db.query('SELECT 41 + 1 AS n');
    expect(r.rows[0].n).toBe(42);
  });

  it('a rule change sent with persist: true is written to the config file the process started with', async () => {
    const res = await fetch(`http://127.0.0.1:${proc.adminPort}/api/rules`, {
      method: 'POST',
      headers: { authorization: 'Bearer fuzz-token', 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'set-pool-size', shard: 's0', size: 7, persist: true }),
    });
    const body = (await res.json()) as { persisted?: boolean };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.persisted).toBe(true);
    const written = parse(readFileSync(proc.configFile, 'utf8')) as {
      shards: Array<{ name: string; poolSize?: number }>;
    };
    expect(written.shards.find((s) => s.name === 's0')?.poolSize).toBe(7);
  });

  it('survives a bounded fuzz run of malformed requests; other clients are unaffected', async () => {
    // Seeded PRNG (mulberry32): a failure reproduces with the same seed.
    let seed = 0x5eed11;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const junk = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const paths = [
      '/',
      '/healthz',
      '/metrics',
      '/api/topology',
      '/api/pools',
      '/api/shards',
      '/api/hotkeys',
      '/api/alerts',
      '/api/alert-rules',
      '/api/advice',
      '/api/rules',
      '/api/migrations',
      '/api/migrations/x',
    ];
    const oddTargets = [
      '//[',
      '//]',
      '//[::1',
      'http://[',
      '%',
      '/%zz',
      '/api/migrations/%00',
      '/api/migrations/../../etc/passwd',
      '*',
      '/?a=%',
      '/api/hotkeys?limit=-1',
      '/api/hotkeys?limit=1e309',
      '/api/migrations/' + 'a'.repeat(5000),
      '//admin@[x]/',
      '\\\\',
      '/\u00ff',
      'http://admin:99999999/',
    ];
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'G\u0000T', 'CONNECT', ''];
    const request = (): Buffer => {
      const kind = Math.floor(rand() * 6);
      const target = rand() < 0.5 ? pick(oddTargets) : pick(paths) + (rand() < 0.3 ? pick(oddTargets) : '');
      if (kind === 0) return junk(1 + Math.floor(rand() * 300));
      if (kind === 1)
        return Buffer.from(`${pick(methods)} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1');
      if (kind === 2) {
        // A body that is not what the route expects (or not JSON), with a token half the time.
        const body = pick([
          '{',
          '[]',
          'null',
          '{"set":{"x":1}}',
          '"\u0000"',
          junk(40).toString('latin1'),
          '1'.repeat(2000),
        ]);
        const auth = rand() < 0.5 ? 'Authorization: Bearer wrong\r\n' : '';
        return Buffer.from(
          `${pick(['POST', 'PUT', 'DELETE'])} ${pick(paths)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`,
          'latin1',
        );
      }
      if (kind === 3) {
        // Broken framing: bad header lines, conflicting lengths, truncated chunked bodies.
        return Buffer.from(
          pick([
            `GET ${target} HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n`,
            `POST /api/rules HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde`,
            `POST /api/rules HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc`,
            `GET ${target} HTTP/9.9\r\n\r\n`,
            `GET ${target}\r\n\r\n`,
            `GET / HTTP/1.1\r\nX: ${'y'.repeat(20_000)}\r\n\r\n`,
            `GET / HTTP/1.1\r\nHost: \u0000\u00ff\r\n\r\n`,
          ]),
          'latin1',
        );
      }
      if (kind === 4) {
        // A valid request cut at a random byte.
        const full = `GET ${pick(paths)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
        return Buffer.from(full.slice(0, Math.floor(rand() * full.length)), 'latin1');
      }
      // A valid start line followed by junk.
      return Buffer.concat([
        Buffer.from(`GET ${target} HTTP/1.1\r\n`, 'latin1'),
        junk(1 + Math.floor(rand() * 200)),
      ]);
    };
    const serverErrors: string[] = [];
    for (let round = 0; round < 40; round++) {
      const batch = Array.from({ length: 10 }, () => request());
      const answers = await Promise.all(batch.map((b) => rawExchange(proc.adminPort, b)));
      answers.forEach((a, i) => {
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(a)?.[1];
        // 5xx other than a degraded /healthz means a handler threw on input: a bug.
        if (status?.startsWith('5') && status !== '503')
          serverErrors.push(`${batch[i]?.toString('latin1').slice(0, 80)} -> ${a.slice(0, 200)}`);
      });
      // The session opened before the run and the admin API keep working in every round.
      const r = await db.query('SELECT $1::int AS n', [round]);
      expect(r.rows[0].n).toBe(round);
      expect(await adminGet('/healthz')).toBe(200);
      expect(proc.exited(), proc.output()).toBeNull();
    }
    expect(serverErrors).toEqual([]);
  }, 120_000);
});
