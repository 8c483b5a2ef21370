// A real redis-server of the test's own (src/local/redis-server.ts starts it). Installed with apt
// when missing (asynchronously, retrying while another apt holds the lock), like chromium.ts.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  findRedisServer,
  type RedisServer,
  startRedisServer as startLocal,
} from '../../src/local/redis-server.js';

export type { RedisServer };

async function ensureRedisServer(): Promise<void> {
  if (findRedisServer() !== null) return;
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
  if (findRedisServer() === null)
    throw new Error('apt-get install redis-server did not provide redis-server');
}

export async function startRedisServer(deadlineMs = 15_000): Promise<RedisServer> {
  await ensureRedisServer();
  return startLocal(deadlineMs);
}
