// A shard's servers as the admin API shows them (/api/shards and /api/mysql/shards): role after
// any promotion, health, lag, the last probe error and the shunning state, for either protocol.

import type { RetirablePool } from '../backend/identity.js';
import type { PgHealthFigures } from '../backend/pg-prober.js';
import type { ServerHealth } from '../backend/probe-loop.js';
import { shunState } from '../backend/shunning.js';
import type { TopologyShard } from '../backend/topology.js';
import { probeUp } from '../observability/runtime.js';

export function serverRows(
  shard: TopologyShard<RetirablePool>,
  health: ReadonlyArray<ServerHealth & Partial<PgHealthFigures>>,
) {
  return [shard.primary, ...shard.replicas].map((srv) => {
    const h = health.find((x) => x.name === srv.name);
    return {
      name: srv.name,
      role: srv.role,
      healthy: srv.view.healthy,
      drained: srv.view.drained,
      lagMs: srv.role === 'replica' ? (h?.lagMs ?? null) : null,
      lagBytes: srv.role === 'replica' ? (h?.lagBytes ?? null) : null,
      lastError: h?.lastError ?? null,
      up: h ? probeUp(h) : null,
      ...shunState(h),
    };
  });
}
