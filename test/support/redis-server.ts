// A real redis-server of the test's own (src/local/redis-server.ts starts it). Installed with apt
// when missing (asynchronously, retrying while another apt holds the lock), like chromium.ts.
import { aptInstall } from '../../src/local/apt-install.js';
import {
  findRedisServer,
  type RedisServer,
  startRedisServer as startLocal,
} from '../../src/local/redis-server.js';

export type { RedisServer };

async function ensureRedisServer(): Promise<void> {
  if (findRedisServer() !== null) return;
  process.stderr.write('redis test: installing Debian redis-server with apt-get (once per machine)...\n');
  await aptInstall('redis-server');
  if (findRedisServer() === null)
    throw new Error('apt-get install redis-server did not provide redis-server');
}

export async function startRedisServer(deadlineMs = 15_000): Promise<RedisServer> {
  await ensureRedisServer();
  return startLocal(deadlineMs);
}
