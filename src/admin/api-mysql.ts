// The MySQL side's servers as /api/shards shows the PostgreSQL side's: role (after any promotion),
// health, lag, the last probe error and the shunning state (issue 14). Open, like /api/shards.
import type { MysqlTopology } from '../backend/mysql-topology.js';
import type { AdminServer } from './http.js';
import { serverRows } from './server-rows.js';

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
          servers: serverRows(s, health),
        })),
      };
    },
  });
}
