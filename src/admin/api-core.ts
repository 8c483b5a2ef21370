// Admin API endpoints that only need the topology: health, topology, per-server state and pools.
import type { RuntimeTopology } from '../backend/pg-topology.js';
import { formatKeyRange } from '../domain/keyspace.js';
import type { ServerView } from '../router/inputs.js';
import type { AdminServer } from './http.js';

export function registerCoreRoutes(admin: AdminServer, topology: RuntimeTopology): void {
  admin.route({
    method: 'GET',
    path: '/healthz',
    open: true,
    handler: () => {
      const health = topology.monitor.health();
      const primariesDown = health.filter((h) => h.role === 'primary' && !h.healthy).map((h) => h.name);
      return {
        status: primariesDown.length ? 503 : 200,
        json: {
          status: primariesDown.length ? 'degraded' : 'ok',
          primariesDown,
          topologyVersion: topology.version,
        },
      };
    },
  });
  admin.route({
    method: 'GET',
    path: '/api/topology',
    open: true,
    handler: () => {
      const view = topology.view();
      return {
        json: {
          version: view.version,
          defaultShard: view.defaultShard,
          shards: topology.shardList().map((s) => ({
            name: s.name,
            keyRange: formatKeyRange(s.range),
            start: `0x${s.range.start.toString(16).padStart(16, '0')}`,
            end: s.range.end >= 1n << 64n ? null : `0x${s.range.end.toString(16).padStart(16, '0')}`,
            readOnly: s.readOnly,
            primary: describeServer(s.primary),
            replicas: s.replicas.map(describeServer),
          })),
        },
      };
    },
  });
  admin.route({
    method: 'GET',
    path: '/api/pools',
    open: true,
    handler: () => ({
      json: topology.allServers().flatMap((s) => s.pools.all().map((p) => p.identityStats())),
    }),
  });
}

function describeServer(s: {
  name: string;
  role: string;
  host: string;
  port: number;
  view: Omit<ServerView, 'name' | 'shard' | 'role'>;
}) {
  return {
    name: s.name,
    role: s.role,
    host: s.host,
    port: s.port,
    healthy: s.view.healthy,
    drained: s.view.drained,
    /** Out of rotation until it replays this cutover switch position (null: serving). */
    catchUpTo: s.view.catchUpTo ?? null,
    lagMs: s.view.lagMs,
    position: s.view.position,
    outstanding: s.view.outstanding,
    rttMs: s.view.rttMs === null ? null : Math.round(s.view.rttMs * 1000) / 1000,
  };
}
