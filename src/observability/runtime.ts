// Wires the observability core to a running proxy: the per-statement tracker (observer of the
// data path), metric sources read at scrape time, host samplers per server, the health
// collector and the alert manager (log + optional Alertmanager webhook), on their intervals.
import type { Logger } from 'pino';
import type { RuntimeTopology } from '../backend/pg-topology.js';
import { type PoolStats, serverPoolStats } from '../backend/pool.js';
import type { Protocol } from '../backend/probe-loop.js';
import { serverNames } from '../backend/server-names.js';
import type { ShardgateConfig } from '../config/schema.js';
import { AlertManager } from './alerts.js';
import { HealthCollector, type HealthSources, HostMonitor } from './health.js';
import { createHostSampler } from './host-metrics.js';
import { ObservabilityTracker } from './tracker.js';

export interface Observability {
  tracker: ObservabilityTracker;
  alerts: AlertManager;
  health: HealthCollector;
  hosts: HostMonitor;
  recentAlertEvents: Array<Record<string, unknown>>;
  /** Another protocol's topology (the MySQL side): its servers, lag, pools and faults in the metrics, health and alerts. */
  addTopology(topology: ObservedTopology): void;
  /** Every topology observed, the PostgreSQL one first. */
  readonly topologies: readonly ObservedTopology[];
  /** Two-phase recovery's in-doubt ages per shard, for the TwoPhaseInDoubt alert. */
  setInDoubtSource(source: () => ReadonlyMap<string, number>): void;
  stop(): void;
}

interface FaultCounters {
  serverConnectionsLost: number;
  readRetries: number;
}

/** What a probe reports, as far as the server-up gauge needs it. */
export interface ProbeHealth {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
  rttMs: number | null;
  consecutiveFailures: number;
  /** Out of rotation after failing (monitors that shun; absent elsewhere). */
  shunned?: boolean;
  shunsTotal?: number;
}

/** What observability reads of a topology, whichever its protocol (backend/topology.ts). */
export interface ObservedTopology {
  readonly protocol: Protocol;
  readonly faultCounters: FaultCounters;
  readonly monitor: {
    health(): ReadonlyArray<ProbeHealth & { lagMs: number | null; lagBytes?: number | null }>;
  };
  allServers(): ReadonlyArray<{
    name: string;
    shard: string;
    pools: { all(): ReadonlyArray<{ stats(): PoolStats }> };
  }>;
  shardList(): ReadonlyArray<{
    name: string;
    primary: { name: string };
    replicas: ReadonlyArray<{ name: string }>;
  }>;
}

/** Down after two failed probes in a row (as the lag monitor's health), unknown until one answered. */
export function probeUp(h: ProbeHealth): boolean | null {
  if (h.consecutiveFailures >= 2) return false;
  return h.rttMs === null ? null : true;
}

export function startObservability(
  config: ShardgateConfig,
  topology: RuntimeTopology,
  log: Logger,
  parseCache: () => { hits: number; misses: number; size: number },
): Observability {
  const obs = config.observability;
  const tracker = new ObservabilityTracker({
    topK: obs.hotKeys.topK,
    hotKeyWindowMs: obs.hotKeys.windowMs,
    hotKeyBuckets: obs.hotKeys.buckets,
    hotKeys: obs.hotKeys.enabled,
    statementStatsBytes: obs.statements.maxBytes,
    tableAccessBytes: obs.tableAccess.maxBytes,
  });
  const hosts = new HostMonitor();
  // A sampler lives as long as its server's setting: CPU use is the difference of two samples,
  // so a sampler made anew at each tick would never know it.
  const samplerSettings = new Map<string, string>();
  const syncHosts = () => {
    const current = topology.currentConfig;
    const names = new Set<string>();
    for (const shard of current.shards) {
      const { primary, replicas } = serverNames(shard);
      for (const [i, server] of [shard.primary, ...shard.replicas].entries()) {
        const name = i === 0 ? primary : replicas[i - 1]!;
        names.add(name);
        const setting = `${server.hostMetrics ?? 'none'}\u0000${server.dataDir ?? ''}`;
        if (samplerSettings.get(name) === setting) continue;
        samplerSettings.set(name, setting);
        hosts.set(name, createHostSampler(server.hostMetrics ?? 'none', server.dataDir ?? null));
      }
    }
    for (const name of samplerSettings.keys()) {
      if (names.has(name)) continue;
      samplerSettings.delete(name);
      hosts.delete(name);
    }
  };
  syncHosts();
  const topologies: ObservedTopology[] = [topology];
  const servers = () =>
    topologies.flatMap((t) =>
      t.monitor.health().map((h) => ({
        protocol: t.protocol,
        shard: h.shard,
        server: h.name,
        role: h.role,
        up: probeUp(h),
        shunned: h.shunned ?? false,
        shunsTotal: h.shunsTotal ?? 0,
      })),
    );
  const lag = () =>
    topologies.flatMap((t) =>
      t.monitor
        .health()
        .filter((h) => h.role === 'replica')
        .map((h) => ({
          protocol: t.protocol,
          shard: h.shard,
          replica: h.name,
          lagSeconds: h.lagMs === null ? null : h.lagMs / 1000,
          lagBytes: h.lagBytes ?? null,
        })),
    );
  const pools = () =>
    topologies.flatMap((t) =>
      t.allServers().map((s) => ({ ...serverPoolStats(s.pools.all()), protocol: t.protocol })),
    );
  const healthSources: HealthSources = {
    layout: () =>
      topologies.flatMap((t) =>
        t.shardList().map((s) => ({
          protocol: t.protocol,
          shard: s.name,
          primary: s.primary.name,
          replicas: s.replicas.map((r) => r.name),
        })),
      ),
    pools,
    lag,
    servers,
  };
  const health = new HealthCollector(tracker, hosts, healthSources);
  const alerts = new AlertManager({
    rules: obs.alerts.rules,
    ...(obs.alerts.webhookUrl
      ? {
          webhook: {
            url: obs.alerts.webhookUrl,
            onError: (err: Error) => log.warn({ err: err.message }, 'alert webhook delivery failed'),
          },
        }
      : {}),
  });
  const recentAlertEvents: Array<Record<string, unknown>> = [];
  alerts.onEvent((event) => {
    log.warn(
      {
        alert: event.alertname,
        status: event.status,
        severity: event.severity,
        shard: event.shard,
        replica: event.replica,
        value: event.value,
      },
      `alert ${event.status}: ${event.summary}`,
    );
    recentAlertEvents.push({ ...event });
    if (recentAlertEvents.length > 200) recentAlertEvents.shift();
  });
  tracker.metrics.setSources({
    pools: () => pools().map((p) => ({ ...p })),
    lag,
    servers,
    faults: () =>
      topologies.reduce(
        (sum, t) => ({
          serverConnectionsLost: sum.serverConnectionsLost + t.faultCounters.serverConnectionsLost,
          readRetries: sum.readRetries + t.faultCounters.readRetries,
        }),
        { serverConnectionsLost: 0, readRetries: 0 },
      ),
    parseCache: () => {
      const s = parseCache();
      return { hits: s.hits, misses: s.misses, entries: s.size };
    },
    hotness: () => tracker.hotKeys.hotness(),
    imbalance: () => tracker.hotKeys.imbalance(topology.shardNames()).score,
    alerts: () => alerts.firingAlerts().map((a) => ({ alertname: a.alertname, severity: a.severity })),
    host: () =>
      hosts.all().map((h) => ({
        shard: topology.server(h.server)?.shard ?? '',
        server: h.server,
        cpuPercent: h.cpuPercent,
        memoryPercent: h.memoryPercent,
        diskPercent: h.diskPercent,
      })),
  });
  const hostTimer = setInterval(() => {
    syncHosts();
    hosts.refresh().catch((err: Error) => log.debug({ err: err.message }, 'host metrics refresh failed'));
  }, obs.healthIntervalMs);
  hostTimer.unref();
  void hosts.refresh();
  alerts.start(
    () => health.snapshot(),
    obs.alerts.evaluateIntervalMs,
    (err) => log.warn({ err: err.message }, 'alert evaluation failed'),
  );
  return {
    tracker,
    alerts,
    health,
    hosts,
    recentAlertEvents,
    topologies,
    addTopology(t) {
      topologies.push(t);
    },
    setInDoubtSource(source) {
      healthSources.inDoubt = source;
    },
    stop() {
      clearInterval(hostTimer);
      alerts.stop();
    },
  };
}
