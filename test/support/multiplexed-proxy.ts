// An in-process proxy in front of a fixture's servers with server-side multiplexing on
// (pool.mode transaction, pipelines of 8): the multiplexing suites (pg-multiplex, pg-multiplex-edges)
// differ only in the pool's size and limits.
import type { PoolConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import type { ProxyFixture } from './proxy-fixture.js';

export function startMultiplexedProxy(fx: ProxyFixture, pool: Partial<PoolConfig>): Promise<ProxyHandle> {
  return startProxy(
    {
      ...fx.config,
      pool: { ...fx.config.pool, mode: 'transaction', multiplex: { enabled: true, depth: 8 }, ...pool },
    },
    { log: silentLogger(), postgresPort: 0, adminPort: null },
  );
}
