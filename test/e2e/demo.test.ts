// `shardgate demo` as a user runs it (npm start): it starts the topology, writes the state file,
// serves psql-style URLs, and Ctrl-C stops everything; with --instances 2 the two proxies share
// the result cache through the demo's own redis-server. Also: an invalid config exits non-zero
// before listening, naming the key.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/local/local-config.js';

const cli = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
let demo: ChildProcess | null = null;

afterAll(() => {
  demo?.kill('SIGKILL');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `shardgate demo` with `options`; resolves once its state file and banner are out. */
async function startDemo(options: string[], prefix: string) {
  const stateFile = join(mkdtempSync(join(tmpdir(), prefix)), 'state.json');
  demo = spawn(process.execPath, [cli, 'demo', ...options, '--state-file', stateFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHARDGATE_LOG_LEVEL: 'warn' },
  });
  let output = '';
  demo.stdout?.on('data', (d) => (output += d));
  demo.stderr?.on('data', (d) => (output += d));
  const deadline = Date.now() + 90_000;
  while (!existsSync(stateFile) && Date.now() < deadline) await sleep(200);
  expect(existsSync(stateFile), output).toBe(true);
  // The state file is written after the banner; the pipe may still be delivering it.
  while (!output.includes('Press Ctrl-C') && Date.now() < deadline) await sleep(50);
  return { stateFile, state: JSON.parse(readFileSync(stateFile, 'utf8')), output: () => output };
}

/** Ctrl-C: resolves with the demo's exit code. */
async function stopDemo(): Promise<number | null> {
  const child = demo!;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  const code = await exited;
  demo = null;
  return code;
}

describe('shardgate demo', () => {
  it('starts, writes the state file, serves queries and stops on SIGINT', async () => {
    const { stateFile, state, output } = await startDemo(
      ['--port', '0', '--admin-port', '0', '--mysql-port', '0', '--users', '30'],
      'sg-demo-',
    );
    // It holds the admin token: owner-only.
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    expect(state.shards).toHaveLength(2);
    expect(state.shards[0].replicas).toHaveLength(1);
    expect(output()).toContain('psql "postgres://app:app@127.0.0.1:');
    const c = new pg.Client({ connectionString: state.proxy.postgres.url });
    await c.connect();
    const r = await c.query('SELECT name FROM users WHERE user_id = 3');
    expect(r.rows[0]?.name).toBe('user3');
    const total = await c.query('SELECT count(*)::int AS n FROM users');
    expect(total.rows[0]?.n).toBe(30);
    // The application is the role app, not a superuser: server settings and files are out of reach.
    expect((await c.query('SELECT current_user AS u')).rows[0]?.u).toBe('app');
    await expect(c.query("ALTER SYSTEM SET work_mem = '8MB'")).rejects.toMatchObject({ code: '42501' });
    await c.end();
    // The MySQL side: MariaDB shards behind the MySQL port, same rows by the same hash.
    expect(state.proxy.mysql, output()).not.toBeNull();
    const my = await mysql.createConnection({
      host: '127.0.0.1',
      port: state.proxy.mysql.port,
      user: 'app',
      password: 'app',
      database: 'shardgate',
    });
    const [rows] = await my.query('SELECT name FROM users WHERE user_id = 3');
    expect((rows as Array<{ name: string }>)[0]?.name).toBe('user3');
    const [count] = await my.query('SELECT count(*) AS n FROM users');
    expect(Number((count as Array<{ n: number }>)[0]?.n)).toBe(30);
    await my.end();
    const direct = new pg.Client({ connectionString: state.shards[0].primary.url });
    await direct.connect();
    // shardgate's own work (lag monitor, history) runs as shardgate_ops, no superuser either.
    const roles = await direct.query(
      "SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('app', 'shardgate_ops') ORDER BY 1",
    );
    expect(roles.rows).toEqual([
      { rolname: 'app', rolsuper: false },
      { rolname: 'shardgate_ops', rolsuper: false },
    ]);
    const opsSessions = await direct.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'shardgate_ops'",
    );
    expect(opsSessions.rows[0]?.n).toBeGreaterThan(0);
    await direct.end();
    const health = await fetch(`${state.proxy.admin.url}/healthz`);
    expect(health.status).toBe(200);
    // The lag monitor, as shardgate_ops, reads every server: each one up, no error, replica lag known.
    const shards = (await (await fetch(`${state.proxy.admin.url}/api/shards`)).json()) as Array<{
      servers: Array<{ role: string; up: boolean | null; lastError: string | null; lagMs: number | null }>;
    }>;
    const servers = shards.flatMap((sh) => sh.servers);
    expect(servers.map((sv) => [sv.up, sv.lastError])).toEqual(servers.map(() => [true, null]));
    for (const sv of servers.filter((x) => x.role === 'replica')) expect(sv.lagMs).not.toBeNull();
    expect(await stopDemo()).toBe(0);
    // The servers are gone.
    const again = new pg.Client({
      connectionString: state.shards[0].primary.url,
      connectionTimeoutMillis: 2_000,
    });
    again.on('error', () => undefined);
    await expect(again.connect()).rejects.toBeTruthy();
  }, 120_000);
});

describe('shardgate demo --instances 2', () => {
  it("runs two proxies sharing a redis-server: a write through one drops the other one's cached read", async () => {
    const { state } = await startDemo(
      ['--instances', '2', '--no-mysql', '--port', '0', '--admin-port', '0', '--users', '10'],
      'sg-demo-shared-',
    );
    expect(state.proxies).toHaveLength(2);
    expect(state.sharedCache?.redis).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    interface Instance {
      postgres: { url: string };
      admin: { url: string; token: string };
    }
    const [first, second] = state.proxies as [Instance, Instance];
    interface CacheApi {
      hits: number;
      invalidations: number;
      shared: { connected: boolean; invalidationsReceived: number } | null;
    }
    const cacheOf = async (p: Instance): Promise<CacheApi> =>
      (await (
        await fetch(`${p.admin.url}/api/cache`, { headers: { authorization: `Bearer ${p.admin.token}` } })
      ).json()) as CacheApi;
    const a = new pg.Client({ connectionString: first.postgres.url });
    const b = new pg.Client({ connectionString: second.postgres.url });
    await a.connect();
    await b.connect();
    try {
      // trending_topics is cached in the demo config (cacheTtlMs 5000, write-through).
      const read = 'SELECT score FROM trending_topics WHERE id = 1';
      const old = (await b.query(read)).rows[0]?.score;
      const beforeHit = await cacheOf(second);
      expect(beforeHit.shared?.connected).toBe(true);
      expect((await b.query(read)).rows[0]?.score).toBe(old);
      const afterHit = await cacheOf(second);
      expect(afterHit.hits).toBe(beforeHit.hits + 1); // the second read was served from B's memory
      await a.query('UPDATE trending_topics SET score = score + 1000 WHERE id = 1');
      // The write reaches B as a published message: it drops its entry (the one just hit).
      let now = afterHit;
      const until = Date.now() + 15_000;
      while (
        now.shared!.invalidationsReceived === afterHit.shared!.invalidationsReceived &&
        Date.now() < until
      ) {
        await new Promise((r) => setTimeout(r, 50));
        now = await cacheOf(second);
      }
      expect(now.shared!.invalidationsReceived).toBeGreaterThan(afterHit.shared!.invalidationsReceived);
      expect(now.invalidations).toBeGreaterThan(afterHit.invalidations);
      expect((await b.query(read)).rows[0]?.score).toBe(old + 1000);
    } finally {
      await a.end();
      await b.end();
    }
    expect(await stopDemo()).toBe(0);
    // The demo's redis-server is gone with it.
    const port = Number(/:(\d+)$/.exec(state.sharedCache.redis)![1]);
    const refused = await new Promise<boolean>((resolve) => {
      const s = createConnection(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  }, 150_000);
});

/**
 * Runs the CLI without blocking this worker's event loop: the walk below starts dozens of
 * processes, and a synchronous spawn for longer than 60 s makes vitest's worker RPC time out.
 */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describe('shardgate start with an invalid config', () => {
  it('names the key and exits non-zero before listening', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-config-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'users: [{ name: app, auth: kerberos }]\nshards: []\n');
    const r = await run([cli, 'start', '--config', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('users.0.auth');
    expect(r.stderr).toContain('shards');
  });

  it('demo refuses live splits (--spares) with several instances before starting anything', async () => {
    const r = await run([cli, 'demo', '--instances', '2', '--spares', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--spares (live splits) needs a single instance');
  });

  it('prints --help for every command and subcommand', async () => {
    // Walks the command tree from the top-level help, so a new command cannot go without it.
    const seen: string[] = [];
    const visit = async (path: string[]): Promise<void> => {
      const r = await run([cli, ...path, '--help']);
      expect(r.status, `${path.join(' ')} --help`).toBe(0);
      expect(r.stdout).toContain('Usage:');
      seen.push(path.join(' '));
      const commands = r.stdout.split('\nCommands:\n')[1];
      if (!commands) return;
      const names = commands
        .split('\n')
        .map((line) => /^ {2}([a-z][\w-]*)/.exec(line)?.[1])
        .filter((name): name is string => !!name && name !== 'help');
      for (const name of names) await visit([...path, name]);
    };
    await visit([]);
    for (const c of [
      'start',
      'demo',
      'status',
      'rules',
      'bench pgbench',
      'bench split',
      'migrate split',
      'migrate rollback',
    ]) {
      expect(seen).toContain(c);
    }
  }, 300_000);
});
