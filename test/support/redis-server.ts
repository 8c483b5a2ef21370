// A real redis-server of the test's own, on a free loopback port with a temporary directory and no
// persistence (never the machine's 6379). stop() ends it and removes the directory. Installed with
// apt when missing (asynchronously, retrying while another apt holds the lock), like chromium.ts.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/local/ports.js';

const BINARY = '/usr/bin/redis-server';

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.write('PING\r\n');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
    s.once('error', () => resolve(false));
  });
}

async function ensureRedisServer(): Promise<void> {
  if (existsSync(BINARY)) return;
  process.stderr.write('redis test: installing Debian redis-server with apt-get (once per machine)...\n');
  const run = promisify(execFile);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (let attempt = 0; ; attempt++) {
    try {
      await run('apt-get', ['update', '-qq'], { timeout: 300_000, env });
      await run('apt-get', ['install', '-y', '-qq', 'redis-server'], { timeout: 600_000, env });
      break;
    } catch (err) {
      // Another helper's apt holds the lock: wait and try again.
      if (attempt >= 20 || !/lock/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
      await new Promise((r) => setTimeout(r, 5_000));
    }
  }
  if (!existsSync(BINARY)) throw new Error(`apt-get install redis-server did not provide ${BINARY}`);
}

export async function startRedisServer(deadlineMs = 15_000): Promise<RedisServer> {
  await ensureRedisServer();
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'shardgate-test-redis-'));
    const child: ChildProcess = spawn(
      BINARY,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await answers(port)) return { port, url: `redis://127.0.0.1:${port}`, stop };
      await new Promise((r) => setTimeout(r, 50));
    }
    await stop();
    // Another process took the port between the probe and the bind: try another one.
    if (attempt < 3 && /Address already in use/i.test(out)) continue;
    throw new Error(`redis-server did not start on ${port}: ${out.slice(-500)}`);
  }
}
