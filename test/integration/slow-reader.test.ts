// A client that stops reading must pause its server, not grow the proxy: a real `shardgate start`
// process, a raw client that sends a query with a ~600 MB result (and keeps pipelining more
// statements) without reading, and the proxy's peak resident memory (VmHWM of /proc/<pid>/status)
// stays under a bound. Then the client reads again and gets every byte; a bystander worked all along.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configForLocalShards, repoRoot } from '../../src/local/local-config.js';
import { freePort, type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';

const cli = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Peak RSS allowed: a few times an idle proxy, far below the ~600 MB result the client ignores. */
const RSS_BOUND_KB = 250 * 1024;
const ROWS = 600;
const BIG_QUERY = `SELECT repeat('x', 1000000) FROM generate_series(1, ${ROWS})`;

let cluster: PostgresCluster;
let proxy: ChildProcess | null = null;
let pgPort = 0;
let output = '';

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}; proxy output: ${output.slice(-2000)}`);
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

beforeAll(async () => {
  cluster = await startPostgresCluster({ shards: 1, replicasPerShard: 0, database: 'shardgate' });
  const dir = mkdtempSync(join(tmpdir(), 'sg-slow-reader-'));
  pgPort = await freePort();
  const adminPort = await freePort();
  const config = configForLocalShards(
    cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
    {
      database: 'shardgate',
      overrides: {
        users: [
          { name: 'app', password: 'app', auth: 'scram-sha-256' },
          { name: 'trusty', password: '', auth: 'trust' },
        ],
        listen: {
          postgres: { host: '127.0.0.1', port: pgPort },
          admin: { host: '127.0.0.1', port: adminPort },
        },
        migration: { stateDir: join(dir, 'migrations') },
      },
    },
  );
  const configFile = join(dir, 'shardgate.json');
  writeFileSync(configFile, JSON.stringify(config));
  proxy = spawn(process.execPath, [cli, 'start', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHARDGATE_LOG_LEVEL: 'warn' },
  });
  proxy.stdout?.on('data', (d) => (output += d));
  proxy.stderr?.on('data', (d) => (output += d));
  await waitFor('the proxy to listen', () =>
    fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
      (r) => r.ok,
      () => false,
    ),
  );
}, 180_000);

afterAll(async () => {
  proxy?.kill('SIGKILL');
  await cluster?.stop();
});

function startupPacket(user: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0shardgate\0\0`);
  const head = Buffer.alloc(8);
  head.writeInt32BE(body.length + 8, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

function queryMessage(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`);
  const head = Buffer.alloc(5);
  head[0] = 0x51;
  head.writeInt32BE(text.length + 4, 1);
  return Buffer.concat([head, text]);
}

/** Counts messages of a PostgreSQL backend stream without keeping it (the data is big). */
class StreamCounter {
  private carry = Buffer.alloc(0);
  private skip = 0;
  ready = 0;
  dataRows = 0;
  bytes = 0;
  errors: string[] = [];
  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let buf = chunk;
    if (this.skip > 0) {
      const n = Math.min(this.skip, buf.length);
      this.skip -= n;
      buf = buf.subarray(n);
    }
    if (this.carry.length > 0) buf = Buffer.concat([this.carry, buf]);
    this.carry = Buffer.alloc(0);
    let pos = 0;
    while (pos + 5 <= buf.length) {
      const type = buf[pos]!;
      const end = pos + 1 + buf.readUInt32BE(pos + 1);
      if (type === 0x44) this.dataRows++;
      if (type === 0x5a) this.ready++;
      if (end > buf.length) {
        if (type === 0x44 || type === 0x5a) {
          // Counted already: skip its remaining bytes without keeping them.
          this.skip = end - buf.length;
          return;
        }
        break;
      }
      if (type === 0x45) this.errors.push(buf.toString('utf8', pos + 5, end));
      pos = end;
    }
    this.carry = Buffer.from(buf.subarray(pos));
  }
}

describe('a client that stops reading', () => {
  it('pauses its server and stops being read; the proxy stays under the memory bound', async () => {
    const pid = proxy!.pid!;
    const bystander = new pg.Client({
      host: '127.0.0.1',
      port: pgPort,
      user: 'app',
      password: 'app',
      database: 'shardgate',
    });
    await bystander.connect();
    const direct = new pg.Client({
      host: cluster.shards[0]!.primary.host,
      port: cluster.shards[0]!.primary.port,
      user: 'postgres',
      database: 'shardgate',
    });
    await direct.connect();
    try {
      const counter = new StreamCounter();
      const socket = net.connect({ host: '127.0.0.1', port: pgPort });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.on('data', (d: Buffer) => counter.push(d));
      socket.write(startupPacket('trusty'));
      await waitFor('login', () => counter.ready === 1);
      // Stop reading, then ask for ~600 MB.
      socket.pause();
      socket.write(queryMessage(BIG_QUERY));
      // The server is blocked writing to the proxy (proxy paused it), or, without backpressure,
      // has sent everything.
      await waitFor('the server to block on the proxy or to finish', async () => {
        const r = await direct.query(
          "SELECT state, wait_event FROM pg_stat_activity WHERE query LIKE 'SELECT repeat%' AND pid <> pg_backend_pid()",
        );
        const row = r.rows[0] as { state: string; wait_event: string | null } | undefined;
        return row !== undefined && (row.wait_event === 'ClientWrite' || row.state === 'idle');
      });
      // Keep pipelining statements: past limits.maxPendingClientBytes the proxy stops reading,
      // so they pile up in this client's own socket buffer.
      const filler = queryMessage(`SELECT 1 /* ${'y'.repeat(4000)} */`);
      let sent = 0;
      while (socket.writableLength < 32 * 1024 * 1024 && sent < 40_000) {
        socket.write(filler);
        sent++;
        if (sent % 1000 === 0) await sleep(1);
      }
      await waitFor(
        'the proxy to stop reading the client',
        () => socket.writableLength > 16 * 1024 * 1024,
        20_000,
      );

      await expect(bystander.query('SELECT 41 + 1 AS n')).resolves.toMatchObject({ rows: [{ n: 42 }] });
      const peak = statusKb(pid, 'VmHWM');
      console.info(`slow reader: proxy peak RSS ${peak} kB, ${sent} statements pipelined`);
      expect(peak, `proxy peak RSS ${peak} kB`).toBeLessThan(RSS_BOUND_KB);

      // Reading again: every row of the big result and every pipelined statement's answer arrive.
      socket.resume();
      await waitFor('every answer', () => counter.ready === 2 + sent, 120_000);
      expect(counter.errors).toEqual([]);
      expect(counter.dataRows).toBe(ROWS + sent);
      expect(statusKb(pid, 'VmHWM')).toBeLessThan(RSS_BOUND_KB);
      socket.destroy();
    } finally {
      await bystander.end();
      await direct.end();
    }
  }, 240_000);
});
