// The compensate tests of both ports start a further proxy on the fixture's servers to see what
// its compensation recovery does on its own process state.
import type { ShardgateConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { type ProxyHandle, startProxy } from '../../src/proxy.js';
import type { CompensationRecovery } from '../../src/transactions/compensating.js';

/**
 * A proxy on `config` (its PostgreSQL port and admin API on any free port, and `ports`) runs
 * `passes` passes of its compensation recovery, sends the alerts they raised, and is closed.
 */
export async function recoveryPassesOfAnotherProxy(
  config: ShardgateConfig,
  ports: { mysqlPort?: number },
  recoveryOf: (proxy: ProxyHandle) => CompensationRecovery,
  passes: number,
): Promise<void> {
  const other = await startProxy(config, { log: silentLogger(), postgresPort: 0, adminPort: 0, ...ports });
  try {
    for (let i = 0; i < passes; i++) await recoveryOf(other).pass();
    await other.observability?.alerts.flush();
  } finally {
    await other.close();
  }
}
