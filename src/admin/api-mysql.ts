// The MySQL side's servers as /api/shards shows the PostgreSQL side's: role (after any promotion),
// health, lag, the last probe error and the shunning state (issue 14). Open, like /api/shards.
import type { MysqlTopology } from '../backend/mysql-topology.js';
import { shunState } from '../backend/shunning.js';
import type { AdminServer } from './http.js';

export function registerMysqlRoutes(admin: AdminServer, topology: MysqlTopology): void {
  admin.route({
    method: 'GET',
    path: '/api/mysql/shards',
    open: true,
    handler: () => {
      const health = topology.monitor.health();
      return {
        json: topology.shardList().map((s) => ({
          name: s.name,
          readOnly: s.readOnly,
          servers: [s.primary, ...s.replicas].map((srv) => {
            const h = health.find((x) => x.name === srv.name);
            return {
              name: srv.name,
              role: srv.role,
              healthy: srv.view.healthy,
              lagMs: srv.role === 'replica' ? (h?.lagMs ?? null) : null,
              lastError: h?.lastError ?? null,
              ...shunState(h),
            };
          }),
        })),
      };
    },
  });
}
