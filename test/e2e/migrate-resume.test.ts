// An operator's split with the real CLI against a real `shardgate start` process: the proxy is
// killed (SIGKILL) in the middle of the throttled copy, started again, and `shardgate migrate
// resume` finishes the split from the last checkpoint: no row lost, none copied twice, the moved
// keys served by the new shards, and `migrate cleanup` deletes only the moved rows.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemoData } from '../../src/local/demo-data.js';
import { configForLocalShards, repoRoot } from '../../src/local/local-config.js';
import { freePort, type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';

const cli = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let cluster: PostgresCluster;
let proxy: ChildProcess | null = null;
let configFile = '';
let adminUrl = '';
let pgPort = 0;
let output = '';

async function startShardgate(): Promise<void> {
  proxy = spawn(process.execPath, [cli, 'start', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHARDGATE_LOG_LEVEL: 'warn' },
  });
  proxy.stdout?.on('data', (d) => (output += d));
  proxy.stderr?.on('data', (d) => (output += d));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${adminUrl}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`shardgate did not start: ${output}`);
}

/** Runs `shardgate migrate ...` without blocking this worker's event loop (see test/support/chromium.ts). */
function migrate(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'migrate', ...args, '--admin-url', adminUrl],
      { encoding: 'utf8', env: { ...process.env, SHARDGATE_ADMIN_TOKEN: 'test-token' }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ status: code, stdout, stderr });
      },
    );
  });
}

async function status(id: string): Promise<{ phase: string; status: string; copy: { rows: number } }> {
  return (
    await fetch(`${adminUrl}/api/migrations/${id}`, { headers: { authorization: 'Bearer test-token' } })
  ).json() as never;
}

async function count(port: number, sql: string): Promise<number> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'shardgate' });
  await c.connect();
  try {
    return Number((await c.query(sql)).rows[0].n);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  cluster = await startPostgresCluster({ shards: 2, replicasPerShard: 0, database: 'shardgate' });
  const spares = [await cluster.addSpare('spare1'), await cluster.addSpare('spare2')];
  const dir = mkdtempSync(join(tmpdir(), 'sg-migrate-'));
  pgPort = await freePort();
  const adminPort = await freePort();
  adminUrl = `http://127.0.0.1:${adminPort}`;
  const config = configForLocalShards(
    cluster.shards.map((s) => ({ name: s.name, primary: s.primary, replicas: s.replicas })),
    {
      database: 'shardgate',
      overrides: {
        admin: { token: 'test-token' },
        listen: {
          postgres: { host: '127.0.0.1', port: pgPort },
          admin: { host: '127.0.0.1', port: adminPort },
        },
        // Never the repository's .shardgate/history.
        observability: { history: { dir: join(dir, 'history') } },
        // Slow enough that the copy is still running when the proxy is killed.
        migration: {
          stateDir: join(dir, 'migrations'),
          rowsPerSecond: 1_500,
          batchRows: 100,
          spares: spares.map((s) => ({ name: s.name, host: s.host, port: s.port })),
        },
      },
    },
  );
  await loadDemoData(config, { users: 600 });
  configFile = join(dir, 'shardgate.json');
  writeFileSync(configFile, JSON.stringify(config));
  await startShardgate();
}, 180_000);

afterAll(async () => {
  proxy?.kill('SIGKILL');
  await cluster?.stop();
});

describe('shardgate migrate with a proxy crash mid-copy', () => {
  it('resumes after SIGKILL from the checkpoint and completes exactly', async () => {
    const dry = await migrate('split', 's0', '--targets', 'spare1,spare2', '--at', '40', '--dry-run');
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('-> s0a -40 on spare1');
    expect(dry.stdout).toMatch(/estimated copy: \d+/);

    const started = await migrate(
      'split',
      's0',
      '--targets',
      'spare1,spare2',
      '--at',
      '40',
      '--verify',
      'full',
      '--no-follow',
    );
    expect(started.status, started.stderr).toBe(0);
    const id = /migration (\S+) started/.exec(started.stdout)![1]!;

    // Kill the proxy once some batches are checkpointed, but before the copy ends.
    let copied = 0;
    for (let i = 0; i < 300 && copied < 300; i++) {
      await sleep(50);
      copied = (await status(id)).copy.rows;
    }
    const before = await status(id);
    expect(before.phase).toBe('copying');
    proxy!.kill('SIGKILL');
    await new Promise((r) => proxy!.once('exit', r));
    await startShardgate();

    const listed = await migrate('status');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('copying');

    const resumed = await migrate('resume', id);
    expect(resumed.status, `${resumed.stdout}\n${resumed.stderr}`).toBe(0);
    expect(resumed.stdout).toContain(`${id}: verified`);

    // Exactly the source's rows, each on the half that owns it.
    const s0 = cluster.shards[0]!.primary.port;
    const [spare1, spare2] = cluster.spares;
    for (const table of ['users', 'posts', 'likes']) {
      const total = await count(s0, `SELECT count(*) AS n FROM ${table}`);
      const left = await count(spare1!.port, `SELECT count(*) AS n FROM ${table}`);
      const right = await count(spare2!.port, `SELECT count(*) AS n FROM ${table}`);
      expect(left + right, table).toBe(total);
      // Every row on spare1 belongs to [0, 0x40..): hashint8extended as unsigned, top byte < 0x40.
      const stray = await count(
        spare1!.port,
        `SELECT count(*) AS n FROM ${table} WHERE (hashint8extended(user_id, 0) >> 56) & 255 >= 64`,
      );
      expect(stray, table).toBe(0);
    }

    // The proxy routes to the halves now.
    const c = new pg.Client({
      host: '127.0.0.1',
      port: pgPort,
      user: 'app',
      password: 'app',
      database: 'shardgate',
    });
    await c.connect();
    const explained = await c.query('SHARDGATE EXPLAIN SELECT * FROM users WHERE user_id = 3');
    expect(JSON.stringify(explained.rows)).toMatch(/s0a|s0b|s1/);
    const users = await c.query('SELECT count(*)::int AS n FROM users');
    expect(users.rows[0].n).toBe(600);
    await c.end();

    const cleaned = await migrate('cleanup', id);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect(await count(cluster.shards[0]!.primary.port, 'SELECT count(*) AS n FROM users')).toBe(0);
    expect(await count(cluster.shards[1]!.primary.port, 'SELECT count(*) AS n FROM users')).toBeGreaterThan(
      0,
    );
  }, 240_000);
});
