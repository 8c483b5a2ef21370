// An in-process proxy in front of a fixture's servers with server-side multiplexing on
// (pool.mode transaction, pipelines of 8): the multiplexing suites (pg-multiplex, pg-multiplex-edges)
// differ only in the pool's size and limits.
import pg from 'pg';
import type { PoolConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import { appLogin } from './app-login.js';
import type { ProxyFixture } from './proxy-fixture.js';

export async function startMultiplexedProxy(
  fx: ProxyFixture,
  pool: Partial<PoolConfig>,
): Promise<ProxyHandle> {
  const proxy = await startProxy(
    {
      ...fx.config,
      pool: { ...fx.config.pool, mode: 'transaction', multiplex: { enabled: true, depth: 8 }, ...pool },
    },
    { log: silentLogger(), postgresPort: 0, adminPort: null },
  );
  // The proxy learns the server's built-in functions with its first unit, and pipelines no unit
  // before that (server-state-changes.ts): the suites' first statements are meant to be pipelined.
  const first = new pg.Client(appLogin(proxy));
  await first.connect();
  await first.query('select 1');
  await first.end();
  return proxy;
}
