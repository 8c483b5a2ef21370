// A redis-server of shardgate's own for the local tooling (the demo's shared cache tier, tests):
// on a free loopback port, with a temporary directory and no persistence (never the machine's
// 6379). stop() ends it and removes the directory. The binary: SHARDGATE_REDIS_SERVER, else
// redis-server on PATH (Debian/Ubuntu: apt-get install redis-server).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** The redis-server binary, or null when there is none. */
export function findRedisServer(): string | null {
  const configured = process.env.SHARDGATE_REDIS_SERVER;
  if (configured) return existsSync(configured) ? configured : null;
  for (const dir of (process.env.PATH ?? '/usr/bin').split(':')) {
    const p = join(dir, 'redis-server');
    if (dir && existsSync(p)) return p;
  }
  return existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null;
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

export async function startRedisServer(deadlineMs = 15_000): Promise<RedisServer> {
  const binary = findRedisServer();
  if (binary === null) {
    throw new Error(
      'redis-server not found: install it (apt-get install redis-server) or set SHARDGATE_REDIS_SERVER to its path',
    );
  }
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'shardgate-redis-'));
    const child: ChildProcess = spawn(
      binary,
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
