// Monitoring endpoints: /metrics (Prometheus), /api/shards, /api/hotkeys, /api/alerts, /api/advice,
// /api/alert-rules (the Prometheus rules file for teams on Alertmanager). `?scope=cluster` on
// /metrics and /api/hotkeys answers for every member of the control plane (cluster-view.ts).

import type { MysqlTopology } from '../backend/mysql-topology.js';
import type { PgHealthFigures } from '../backend/pg-prober.js';
import type { RuntimeTopology } from '../backend/pg-topology.js';
import { serverPoolStats } from '../backend/pool.js';
import type { ServerHealth } from '../backend/probe-loop.js';
import { formatKeyRange } from '../domain/keyspace.js';
import {
  computeSplitPoint,
  keyspaceIdHex,
  poolAdvice,
  queryAdvice,
  type SplitInput,
  scalingAdvice,
  splitAdvice,
} from '../observability/advisor.js';
import { renderPrometheusRules } from '../observability/alerts.js';
import { mergedTopKeys } from '../observability/hot-keys.js';
import { escapeLabelValue, mergeExpositions } from '../observability/prometheus-merge.js';
import type { Observability } from '../observability/runtime.js';
import { keyspaceIdFor } from '../router/sharding/hash.js';
import { type ClusterView, hotKeySummary, parseTableSummaries } from './cluster-view.js';
import type { AdminServer } from './http.js';
import { serverRows } from './server-rows.js';

/** The advisor's view of one shard's load, for split advice and `migrate split --at auto`. */
export function splitInputFor(
  topology: RuntimeTopology,
  obs: Observability,
  shard: string,
): SplitInput | null {
  const s = topology.shardList().find((x) => x.name === shard);
  if (!s) return null;
  const { tracker } = obs;
  const tables = topology.currentConfig.tables;
  const keys = tracker.hotKeys
    .topKeys(s.name, 100)
    .map((k) => ({ table: k.table, value: k.value, load: Math.max(0, k.count - k.error) }));
  const tracked = keys.reduce((n, k) => n + k.load, 0);
  const total = tracker.hotKeys.shardTotals().get(s.name) ?? 0;
  return {
    shard: s.name,
    range: s.range,
    keys,
    remainder: Math.max(0, total - tracked),
    keyspaceId: (table: string, value: string) => {
      const t = tables[table];
      return t?.shardKey && t.method === 'hash' ? keyspaceIdFor(value, t.keyType) : null;
    },
  };
}

/** The balancing split point of a shard as a hex prefix, or null without load data. */
export function balancingPoint(topology: RuntimeTopology, obs: Observability, shard: string): string | null {
  const input = splitInputFor(topology, obs, shard);
  const point = input ? computeSplitPoint(input) : null;
  return point ? keyspaceIdHex(point.at) : null;
}

export function registerMonitoringRoutes(
  admin: AdminServer,
  topology: RuntimeTopology,
  obs: Observability,
  mysql: MysqlTopology | null = null,
  cluster: ClusterView | null = null,
): void {
  const { tracker } = obs;
  admin.route({
    method: 'GET',
    path: '/metrics',
    open: true,
    handler: async (req) => {
      const contentType = tracker.metrics.contentType;
      if (req.query.get('scope') !== 'cluster' || !cluster)
        return { text: await tracker.metrics.text(), contentType };
      // Every member's series with its `instance` label, and which members answered.
      const replies = await cluster.metricsTexts(() => tracker.metrics.text());
      const up = replies.map(
        (r) => `shardgate_cluster_member_up{instance="${escapeLabelValue(r.member.id)}"} ${r.ok ? 1 : 0}`,
      );
      const text = mergeExpositions([
        {
          instance: null,
          text: `# HELP shardgate_cluster_member_up 1 when the member's /metrics answered this scrape.\n# TYPE shardgate_cluster_member_up gauge\n${up.join('\n')}\n`,
        },
        ...replies.flatMap((r) => (r.ok ? [{ instance: r.member.id, text: r.value }] : [])),
      ]);
      return { text, contentType };
    },
  });

  // Every protocol's shards: PostgreSQL's, then MySQL's (names may repeat: `protocol` tells them apart).
  const shardRows = () => [...rowsOf(topology), ...(mysql ? rowsOf(mysql) : [])];
  const rowsOf = (t: RuntimeTopology | MysqlTopology) => {
    const health: ReadonlyArray<ServerHealth & Partial<PgHealthFigures>> = t.monitor.health();
    const snapshot = obs.health.snapshot();
    // Hot keys, latency and host samplers follow the PostgreSQL side's shards.
    const pg = t.protocol === 'postgres';
    const hotness = new Map(tracker.hotKeys.hotness().map((h) => [h.shard, h]));
    const totals = tracker.hotKeys.shardTotals();
    return t.shardList().map((s) => {
      const snap = snapshot.shards.find(
        (x) => x.shard === s.name && (x.protocol ?? 'postgres') === t.protocol,
      );
      const lat = pg ? tracker.latency.summaries().filter((l) => l.shard === s.name) : [];
      const pools = [s.primary, ...s.replicas].map((srv) => serverPoolStats(srv.pools.all()));
      const host = pg ? obs.hosts.figures(s.primary.name) : null;
      const primaryHealth = health.find((x) => x.name === s.primary.name);
      return {
        name: s.name,
        protocol: t.protocol,
        keyRange: formatKeyRange(s.range),
        readOnly: s.readOnly,
        dataBytes: primaryHealth?.dataBytes ?? null,
        serverConnections: primaryHealth?.serverConnections ?? null,
        lockWaitSeconds: primaryHealth?.lockWaitSeconds ?? null,
        connections: pools.reduce((n, p) => n + p.active + p.idle, 0),
        waitingClients: pools.reduce((n, p) => n + p.waiting, 0),
        latency: lat.map((l) => ({
          role: l.role,
          count: l.count,
          p50: l.p50Seconds,
          p95: l.p95Seconds,
          p99: l.p99Seconds,
        })),
        host: host
          ? {
              cpuPercent: host.cpuPercent,
              memoryPercent: host.memoryPercent,
              diskPercent: host.diskPercent,
              source: host.source,
            }
          : { cpuPercent: null, memoryPercent: null, diskPercent: null, source: 'unknown' },
        hotspotScore: pg ? (hotness.get(s.name)?.hotspotScore ?? null) : null,
        requests: pg ? (totals.get(s.name) ?? 0) : null,
        poolExhaustionRate: snap?.poolExhaustionRate ?? null,
        servers: serverRows(s, health),
      };
    });
  };

  admin.route({ method: 'GET', path: '/api/shards', open: true, handler: () => ({ json: shardRows() }) });

  admin.route({
    method: 'GET',
    path: '/api/hotkeys/summary',
    handler: (req) => ({ json: hotKeySummary(tracker.hotKeys, req.query) }),
  });

  admin.route({
    method: 'GET',
    path: '/api/hotkeys',
    handler: async (req) => {
      const shard = req.query.get('shard') ?? undefined;
      const limit = Math.min(1000, Math.max(1, Number(req.query.get('limit') ?? 20) || 20));
      if (req.query.get('scope') === 'cluster' && cluster) {
        // Each member sends its window cut to its hottest values (bounds kept); merged here.
        const per = Math.max(100, limit);
        const q = `limit=${per}${shard ? `&shard=${encodeURIComponent(shard)}` : ''}`;
        const replies = await cluster.gather(
          `/api/hotkeys/summary?${q}`,
          () => tracker.hotKeys.tableSummaries(per, shard),
          parseTableSummaries,
          true,
        );
        return {
          json: {
            scope: 'cluster',
            keys: mergedTopKeys(
              replies.flatMap((r) => (r.ok ? [r.value] : [])),
              limit,
            ),
            members: replies.map((r) =>
              r.ok
                ? { id: r.member.id, reachable: true }
                : { id: r.member.id, reachable: false, error: r.error },
            ),
          },
        };
      }
      return {
        json: {
          keys: tracker.hotKeys.topKeys(shard, limit),
          shards: tracker.hotKeys.hotness(),
          imbalance: tracker.hotKeys.imbalance(topology.shardNames()),
        },
      };
    },
  });

  admin.route({
    method: 'GET',
    path: '/api/alerts',
    open: true,
    handler: () => ({
      json: { firing: obs.alerts.firingAlerts(), recent: obs.recentAlertEvents.slice(-50) },
    }),
  });

  admin.route({
    method: 'GET',
    path: '/api/alert-rules',
    open: true,
    handler: () => ({
      text: renderPrometheusRules(topology.currentConfig.observability.alerts.rules),
      contentType: 'text/yaml; charset=utf-8',
    }),
  });

  admin.route({
    method: 'GET',
    path: '/api/advice',
    handler: () => {
      const rows = shardRows();
      const scaling = scalingAdvice(
        rows.map((r) => ({
          shard: r.name,
          cpuPercent: r.host.cpuPercent,
          memoryPercent: r.host.memoryPercent,
          hotspotScore: r.hotspotScore,
        })),
      );
      const split = topology.shardList().flatMap((s) => {
        const input = splitInputFor(topology, obs, s.name)!;
        const hot = rows.find((r) => r.name === s.name)?.hotspotScore ?? null;
        const advice = splitAdvice(input, hot);
        const point = computeSplitPoint(input);
        return [
          {
            shard: s.name,
            recommendation: advice,
            balancingPoint: point
              ? { at: keyspaceIdHex(point.at), leftShare: point.leftShare, rightShare: point.rightShare }
              : null,
          },
        ];
      });
      const query = queryAdvice({
        tables: tracker.tableAccess(),
        hotKeys: tracker.hotKeys.topKeys(undefined, 20).map((k) => ({
          shard: k.shard,
          table: k.table,
          value: k.value,
          count: k.count,
          tableTotal: k.tableTotal,
        })),
        cachedTables: new Set(
          Object.values(topology.currentConfig.dataTypes)
            .filter((d) => d.cacheTtlMs > 0)
            .flatMap((d) => d.tables),
        ),
      });
      const pools = poolAdvice(
        topology.shardList().map((s) => ({
          shard: s.name,
          avgConcurrent: tracker.latency.averageConcurrency(s.name),
          peakConcurrent: serverPoolStats(s.primary.pools.all()).peakActive,
          currentSize: s.primary.pool.stats().size,
        })),
      );
      return { json: { scaling, split, query, pools } };
    },
  });
}
