// Gathers the per-shard figures alerts and advice work on into a HealthSnapshot: host figures
// of each shard's primary (cached from the last host refresh), hotspot score, p99 latency, pool
// exhaustion rate since the previous snapshot, replica lag. Unknown stays null.
import type { HealthSnapshot, ShardHealth } from './alerts.js';
import type { HostFigures, HostSampler } from './host-metrics.js';
import type { LagSource, PoolStatsSource, Protocol, ServerStateSource } from './metrics.js';
import type { ObservabilityTracker } from './tracker.js';

export interface ShardLayout {
  /** The front end whose shard this is (names may repeat across them); PostgreSQL when absent. */
  protocol?: Protocol;
  shard: string;
  primary: string;
  replicas: readonly string[];
}

export interface HealthSources {
  /** The current shards and their servers (from the topology). */
  layout: () => ReadonlyArray<ShardLayout>;
  pools?: PoolStatsSource;
  lag?: LagSource;
  servers?: ServerStateSource;
  /** Oldest in-doubt two-phase transaction per shard, seconds (set once recovery runs). */
  inDoubt?: () => ReadonlyMap<string, number>;
}

/** Keeps the latest host figures per server; refresh() samples every host concurrently. */
export class HostMonitor {
  private readonly samplers = new Map<string, HostSampler>();
  private readonly latest = new Map<string, HostFigures>();

  set(server: string, sampler: HostSampler): void {
    this.samplers.set(server, sampler);
  }

  delete(server: string): void {
    this.samplers.delete(server);
    this.latest.delete(server);
  }

  async refresh(): Promise<void> {
    await Promise.all(
      [...this.samplers].map(async ([server, sampler]) => {
        this.latest.set(server, await sampler.sample());
      }),
    );
  }

  figures(server: string): HostFigures | null {
    return this.latest.get(server) ?? null;
  }

  all(): Array<{ server: string } & HostFigures> {
    return [...this.latest].map(([server, f]) => ({ server, ...f }));
  }
}

export class HealthCollector {
  private lastPool = new Map<string, { checkouts: number; waited: number }>();

  constructor(
    private readonly tracker: ObservabilityTracker,
    private readonly hosts: HostMonitor,
    private readonly sources: HealthSources,
  ) {}

  snapshot(): HealthSnapshot {
    const hotness = new Map(this.tracker.hotKeys.hotness().map((h) => [h.shard, h.hotspotScore]));
    const lag = this.sources.lag?.() ?? [];
    const exhaustion = this.poolExhaustion();
    const servers = this.sources.servers?.();
    const inDoubt = this.sources.inDoubt?.();
    const shards: ShardHealth[] = this.sources.layout().map((s) => {
      const protocol = s.protocol ?? 'postgres';
      // Shard and server names may repeat across protocols: match both.
      const mine = (x: { protocol?: Protocol; shard: string }) =>
        x.shard === s.shard && (x.protocol ?? 'postgres') === protocol;
      // Host samplers and the tracker's hot keys and latency follow the PostgreSQL side's shards.
      const pg = protocol === 'postgres';
      const host = pg ? this.hosts.figures(s.primary) : null;
      const lagOf = (name: string) => lag.find((l) => mine(l) && l.replica === name)?.lagSeconds ?? null;
      return {
        ...(pg ? {} : { protocol: 'mysql' as const }),
        shard: s.shard,
        cpuPercent: host?.cpuPercent ?? null,
        memoryPercent: host?.memoryPercent ?? null,
        diskPercent: host?.diskPercent ?? null,
        hotspotScore: pg ? (hotness.get(s.shard) ?? null) : null,
        latencyP99Seconds: pg ? (this.tracker.latency.shardSummary(s.shard)?.p99Seconds ?? null) : null,
        poolExhaustionRate: exhaustion.get(`${protocol}\u0000${s.shard}`) ?? null,
        serversShunned: servers ? servers.filter((x) => mine(x) && x.shunned).length : null,
        twoPhaseInDoubtSeconds: pg && inDoubt ? (inDoubt.get(s.shard) ?? 0) : null,
        replicas: s.replicas.map((name) => ({ name, lagSeconds: lagOf(name) })),
        servers: [s.primary, ...s.replicas].map((name) => ({
          name,
          up: servers?.find((u) => mine(u) && u.server === name)?.up ?? null,
        })),
      };
    });
    return { shards };
  }

  /** Share of checkouts since the previous call that had to wait, per shard (needs pool counters). */
  private poolExhaustion(): Map<string, number | null> {
    const out = new Map<string, number | null>();
    const pools = this.sources.pools?.();
    if (!pools) return out;
    const sums = new Map<string, { checkouts: number; waited: number }>();
    for (const p of pools) {
      if (p.checkoutsTotal === undefined || p.waitedTotal === undefined) continue;
      const key = `${p.protocol ?? 'postgres'}\u0000${p.shard}`;
      const s = sums.get(key) ?? { checkouts: 0, waited: 0 };
      s.checkouts += p.checkoutsTotal;
      s.waited += p.waitedTotal;
      sums.set(key, s);
    }
    for (const [key, now] of sums) {
      const prev = this.lastPool.get(key);
      if (prev && now.checkouts >= prev.checkouts && now.waited >= prev.waited) {
        const checkouts = now.checkouts - prev.checkouts;
        out.set(key, checkouts > 0 ? (now.waited - prev.waited) / checkouts : 0);
      } else {
        out.set(key, null);
      }
    }
    this.lastPool = sums;
    return out;
  }
}
