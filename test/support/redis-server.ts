// A real redis-server of the test's own, on a free loopback port with a temporary directory and no
// persistence (never the machine's 6379). stop() ends it and removes the directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

export async function startRedisServer(deadlineMs = 15_000): Promise<RedisServer> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} not found: apt-get install redis-server`);
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
