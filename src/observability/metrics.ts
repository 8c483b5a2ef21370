// The shardgate Prometheus registry. Per-statement figures are pushed by the data path through
// cached label children (prom-client's labels() lookup builds a key string per call, too slow for
// the hot path); everything that is state (pools, lag, hot spots, alerts, cutover, host) is read
// from callback sources at scrape time. Names follow Prometheus conventions: shardgate_ prefix,
// base units (seconds, bytes, ratios 0-1), _total for counters.
import { Counter, Gauge, type Metric, Registry } from 'prom-client';
import type { ConsistencyLevel } from '../config/schema.js';
import { CellHistogram, type HistogramCell } from './fast-metrics.js';
import { ShardRoleSlots } from './shard-role-slots.js';

export type Role = 'primary' | 'replica';
/** Which front end's servers a series is about (shard and server names may repeat across them). */
export type Protocol = 'postgres' | 'mysql';

/** The protocol label of a server's series: PostgreSQL when the source does not say. */
function protocolOf(x: { protocol?: Protocol }): Protocol {
  return x.protocol ?? 'postgres';
}

/** What a pool reports at scrape time (src/backend/pool.ts PoolStats fits this shape). */
export interface PoolStatsSample {
  protocol?: Protocol;
  server: string;
  shard: string;
  role: Role;
  active: number;
  idle: number;
  waiting: number;
  total: number;
  checkoutsTotal?: number;
  /** Checkouts that found no free connection and had to wait. */
  waitedTotal?: number;
  timeoutsTotal?: number;
  waitSecondsTotal?: number;
}
export type PoolStatsSource = () => ReadonlyArray<PoolStatsSample>;

export type LagSource = () => ReadonlyArray<{
  protocol?: Protocol;
  shard: string;
  replica: string;
  /** null = unknown: the series is left out, never reported as 0. */
  lagSeconds: number | null;
  lagBytes: number | null;
}>;
/** Each server's probe and shunning state (src/backend/probe-loop.ts). */
export type ServerStateSource = () => ReadonlyArray<{
  protocol?: Protocol;
  shard: string;
  server: string;
  role: Role;
  /** Answers its health probe (null: not probed yet). */
  up: boolean | null;
  shunned: boolean;
  shunsTotal: number;
}>;
/** Server connections lost under clients, and reads run again elsewhere after one. */
export type FaultsSource = () => { serverConnectionsLost: number; readRetries: number };
export type ParseCacheSource = () => { hits: number; misses: number; entries?: number };
export type HotnessSource = () => ReadonlyArray<{ shard: string; hotspotScore: number | null }>;
export type ImbalanceSource = () => number | null;
export type AlertsSource = () => ReadonlyArray<{ alertname: string; severity: string }>;
export type CutoverSource = () => ReadonlyArray<{ migration: string; phase: string }>;
export type HostMetricsSource = () => ReadonlyArray<{
  shard: string;
  server: string;
  cpuPercent: number | null;
  memoryPercent: number | null;
  diskPercent: number | null;
}>;

/** Whether each server answers its health probe (null: not probed yet, the series is left out). */
export type ResultCacheSource = () => {
  hits: number;
  misses: number;
  invalidations: number;
  entries: number;
  bytes: number;
};

export interface MetricSources {
  pools?: PoolStatsSource;
  lag?: LagSource;
  servers?: ServerStateSource;
  faults?: FaultsSource;
  parseCache?: ParseCacheSource;
  hotness?: HotnessSource;
  imbalance?: ImbalanceSource;
  alerts?: AlertsSource;
  cutover?: CutoverSource;
  host?: HostMetricsSource;
  resultCache?: ResultCacheSource;
  /** PostgreSQL pool.multiplex: units pipelined behind another client's, lanes opened and dropped. */
  multiplex?: () => {
    pipelined: number;
    lanesOpened: number;
    poisoned: number;
    stalledClientsClosed: number;
  };
}

/** Metric names, shared with the Prometheus rules renderer (alerts.ts). */
export const METRIC = {
  statements: 'shardgate_statements_total',
  statementDuration: 'shardgate_statement_duration_seconds',
  routingDecisions: 'shardgate_routing_decisions_total',
  poolServerConnections: 'shardgate_pool_server_connections',
  poolClientsWaiting: 'shardgate_pool_clients_waiting',
  poolCheckouts: 'shardgate_pool_checkouts_total',
  poolCheckoutsWaited: 'shardgate_pool_checkouts_waited_total',
  poolCheckoutTimeouts: 'shardgate_pool_checkout_timeouts_total',
  poolWaitSecondsTotal: 'shardgate_pool_wait_seconds_total',
  poolWait: 'shardgate_pool_wait_seconds',
  replicationLagSeconds: 'shardgate_replication_lag_seconds',
  replicationLagBytes: 'shardgate_replication_lag_bytes',
  serverShunned: 'shardgate_server_shunned',
  serverShuns: 'shardgate_server_shuns_total',
  serverConnectionsLost: 'shardgate_server_connections_lost_total',
  readRetries: 'shardgate_read_retries_total',
  parseCacheHits: 'shardgate_parse_cache_hits_total',
  parseCacheMisses: 'shardgate_parse_cache_misses_total',
  parseCacheEntries: 'shardgate_parse_cache_entries',
  hotspotScore: 'shardgate_hotspot_score',
  imbalanceScore: 'shardgate_shard_imbalance_score',
  alertsFiring: 'shardgate_alerts_firing',
  cutoverPhase: 'shardgate_cutover_phase',
  clientConnections: 'shardgate_client_connections',
  hostCpu: 'shardgate_host_cpu_ratio',
  hostMemory: 'shardgate_host_memory_ratio',
  hostDisk: 'shardgate_host_disk_ratio',
  serverUp: 'shardgate_server_up',
  cacheHits: 'shardgate_cache_hits_total',
  multiplexPipelined: 'shardgate_pool_multiplexed_units_total',
  multiplexLanesOpened: 'shardgate_pool_multiplex_lanes_opened_total',
  multiplexLanesDropped: 'shardgate_pool_multiplex_lanes_dropped_total',
  multiplexStalledClients: 'shardgate_pool_multiplex_stalled_clients_closed_total',
  cacheMisses: 'shardgate_cache_misses_total',
  cacheInvalidations: 'shardgate_cache_invalidations_total',
  cacheBytes: 'shardgate_cache_bytes',
  cacheEntries: 'shardgate_cache_entries',
  conflicts: 'shardgate_serialization_conflicts_total',
} as const;

/** 0.1 ms .. 10 s. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

function child<V>(map: Map<string, V>, key: string, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

/** Statement counts of one (kind, shard): [primary ok, primary error, replica ok, replica error]. */
type StatementCells = Float64Array;
const cellIndex = (role: Role, outcome: 'ok' | 'error'): number =>
  (role === 'replica' ? 2 : 0) + (outcome === 'error' ? 1 : 0);
const CELL_LABELS: ReadonlyArray<{ role: Role; outcome: 'ok' | 'error' }> = [
  { role: 'primary', outcome: 'ok' },
  { role: 'primary', outcome: 'error' },
  { role: 'replica', outcome: 'ok' },
  { role: 'replica', outcome: 'error' },
];

type Labels = Record<string, string>;

/**
 * A metric read from the sources at scrape time. `fill` reports its series through `put`, which
 * sets a gauge and raises a counter: the registry resets the metric first, so a counter mirrors
 * the running total its source owns and a series whose row went away goes too.
 */
interface ScrapedMetric {
  type: typeof Counter | typeof Gauge;
  name: string;
  help: string;
  labelNames: readonly string[];
  /** Rows with the same labels add up on a gauge too (by default the last one is kept). */
  sums?: boolean;
  fill(put: (labels: Labels, value: number) => void, sources: MetricSources): void;
}

/** An unlabelled figure; undefined or null (no source, or no value) leaves it at 0. */
function figure(
  type: ScrapedMetric['type'],
  name: string,
  help: string,
  value: (s: MetricSources) => number | null | undefined,
): ScrapedMetric {
  return {
    type,
    name,
    help,
    labelNames: [],
    fill(put, s) {
      const v = value(s);
      if (v !== undefined && v !== null) put({}, v);
    },
  };
}

/** One series per row of a source; a row whose value is null or undefined is left out. */
function perRow<R>(m: {
  type: ScrapedMetric['type'];
  name: string;
  help: string;
  labelNames: readonly string[];
  rows: (s: MetricSources) => Iterable<R> | undefined;
  labels: (row: R) => Labels;
  value: (row: R) => number | null | undefined;
  sums?: boolean;
}): ScrapedMetric {
  return {
    type: m.type,
    name: m.name,
    help: m.help,
    labelNames: m.labelNames,
    sums: m.sums,
    fill(put, s) {
      for (const row of m.rows(s) ?? []) {
        const v = m.value(row);
        if (v !== undefined && v !== null) put(m.labels(row), v);
      }
    },
  };
}

const serverLabelNames = ['shard', 'server', 'role', 'protocol'] as const;
const serverLabels = (x: { shard: string; server: string; role: Role; protocol?: Protocol }): Labels => ({
  shard: x.shard,
  server: x.server,
  role: x.role,
  protocol: protocolOf(x),
});
const POOL_STATES = ['active', 'idle', 'total'] as const;
/** A running total a pool keeps: left out when the pool does not keep it (or it is negative). */
const poolCounter = (name: string, help: string, pick: (p: PoolStatsSample) => number | undefined) =>
  perRow({
    type: Counter,
    name,
    help,
    labelNames: serverLabelNames,
    rows: (s) => s.pools?.(),
    labels: serverLabels,
    value: (p) => {
      const v = pick(p);
      return v !== undefined && v >= 0 ? v : null;
    },
  });
/** Replica lag, left out when unknown. */
const lagGauge = (name: string, help: string, pick: (l: ReturnType<LagSource>[number]) => number | null) =>
  perRow({
    type: Gauge,
    name,
    help,
    labelNames: ['shard', 'replica', 'protocol'],
    rows: (s) => s.lag?.(),
    labels: (l) => ({ shard: l.shard, replica: l.replica, protocol: protocolOf(l) }),
    value: (l) => {
      const v = pick(l);
      return v !== null && Number.isFinite(v) ? v : null;
    },
  });
/** A database host's percentage as a ratio, left out when unknown. */
const hostGauge = (
  name: string,
  help: string,
  pick: (h: ReturnType<HostMetricsSource>[number]) => number | null,
) =>
  perRow({
    type: Gauge,
    name,
    help,
    labelNames: ['shard', 'server'],
    rows: (s) => s.host?.(),
    labels: (h) => ({ shard: h.shard, server: h.server }),
    value: (h) => {
      const v = pick(h);
      return v !== null && Number.isFinite(v) ? v / 100 : null;
    },
  });

/** The scrape-time metrics, in exposition order. */
const SCRAPED: readonly ScrapedMetric[] = [
  figure(
    Counter,
    METRIC.multiplexPipelined,
    "Units written to a server connection behind another client's unit (pool.multiplex).",
    (s) => s.multiplex?.().pipelined,
  ),
  figure(
    Counter,
    METRIC.multiplexLanesOpened,
    "Server connections that started carrying several clients' units (pool.multiplex).",
    (s) => s.multiplex?.().lanesOpened,
  ),
  figure(
    Counter,
    METRIC.multiplexLanesDropped,
    'Shared server connections dropped because a pipelined unit left a transaction open (pool.multiplex).',
    (s) => s.multiplex?.().poisoned,
  ),
  figure(
    Counter,
    METRIC.multiplexStalledClients,
    "Sessions closed for reading nothing while other clients' units waited behind theirs (pool.multiplex).",
    (s) => s.multiplex?.().stalledClientsClosed,
  ),
  figure(
    Counter,
    METRIC.cacheHits,
    'Result-cache lookups answered from memory (no server round trip).',
    (s) => s.resultCache?.().hits,
  ),
  figure(
    Counter,
    METRIC.cacheMisses,
    'Result-cache lookups of cacheable reads that went to a server.',
    (s) => s.resultCache?.().misses,
  ),
  figure(
    Counter,
    METRIC.cacheInvalidations,
    'Cached results dropped because a table they read was written, or the cache was cleared.',
    (s) => s.resultCache?.().invalidations,
  ),
  figure(
    Gauge,
    METRIC.cacheBytes,
    'Bytes the result cache holds (responses, keys, overhead).',
    (s) => s.resultCache?.().bytes,
  ),
  figure(Gauge, METRIC.cacheEntries, 'Results the result cache holds.', (s) => s.resultCache?.().entries),
  perRow({
    type: Gauge,
    name: METRIC.serverUp,
    help: 'Whether a backend server answers its health probe (1) or not (0); absent before the first probe.',
    labelNames: serverLabelNames,
    rows: (s) => s.servers?.(),
    labels: serverLabels,
    value: (x) => (x.up === null ? null : x.up ? 1 : 0),
  }),
  perRow({
    type: Gauge,
    name: METRIC.poolServerConnections,
    help: 'Server connections per pool by state (active, idle, total).',
    labelNames: [...serverLabelNames, 'state'],
    rows: (s) => s.pools?.().flatMap((pool) => POOL_STATES.map((state) => ({ pool, state }))),
    labels: ({ pool, state }) => ({ ...serverLabels(pool), state }),
    value: ({ pool, state }) => pool[state],
  }),
  perRow({
    type: Gauge,
    name: METRIC.poolClientsWaiting,
    help: 'Clients waiting for a server connection.',
    labelNames: serverLabelNames,
    rows: (s) => s.pools?.(),
    labels: serverLabels,
    value: (p) => p.waiting,
  }),
  poolCounter(METRIC.poolCheckouts, 'Server connection checkouts.', (p) => p.checkoutsTotal),
  poolCounter(
    METRIC.poolCheckoutsWaited,
    'Checkouts that found no free connection and waited.',
    (p) => p.waitedTotal,
  ),
  poolCounter(METRIC.poolCheckoutTimeouts, 'Checkouts that timed out waiting.', (p) => p.timeoutsTotal),
  poolCounter(
    METRIC.poolWaitSecondsTotal,
    'Total time clients waited for connections.',
    (p) => p.waitSecondsTotal,
  ),
  lagGauge(
    METRIC.replicationLagSeconds,
    'Replica replay lag in seconds (absent when unknown).',
    (l) => l.lagSeconds,
  ),
  lagGauge(
    METRIC.replicationLagBytes,
    'Replica replay lag in bytes of WAL/binlog (absent when unknown).',
    (l) => l.lagBytes,
  ),
  perRow({
    type: Gauge,
    name: METRIC.serverShunned,
    help: '1 while a server is out of rotation after failing a connection or dying mid-query.',
    labelNames: serverLabelNames,
    rows: (s) => s.servers?.(),
    labels: serverLabels,
    value: (x) => (x.shunned ? 1 : 0),
  }),
  perRow({
    type: Counter,
    name: METRIC.serverShuns,
    help: 'Times a server was taken out of rotation after failing.',
    labelNames: serverLabelNames,
    rows: (s) => s.servers?.(),
    labels: serverLabels,
    value: (x) => x.shunsTotal,
  }),
  figure(
    Counter,
    METRIC.serverConnectionsLost,
    'Server connections lost while a client used them (the client session survives in transaction pooling).',
    (s) => s.faults?.().serverConnectionsLost,
  ),
  figure(
    Counter,
    METRIC.readRetries,
    'Reads run again on another server after theirs died or refused them.',
    (s) => s.faults?.().readRetries,
  ),
  figure(
    Counter,
    METRIC.parseCacheHits,
    'Parse-cache lookups that found the statement shape.',
    (s) => s.parseCache?.().hits,
  ),
  figure(
    Counter,
    METRIC.parseCacheMisses,
    'Parse-cache lookups that had to parse.',
    (s) => s.parseCache?.().misses,
  ),
  figure(
    Gauge,
    METRIC.parseCacheEntries,
    'Statement shapes held in the parse cache.',
    (s) => s.parseCache?.().entries,
  ),
  perRow({
    type: Gauge,
    name: METRIC.hotspotScore,
    help: 'Hot-key concentration per shard, 0-100 (100 x Gini of per-key requests over the window).',
    labelNames: ['shard'],
    rows: (s) => s.hotness?.(),
    labels: (h) => ({ shard: h.shard }),
    value: (h) => h.hotspotScore,
  }),
  figure(
    Gauge,
    METRIC.imbalanceScore,
    'Load imbalance across shards, 0-100 (normalised Gini of per-shard requests).',
    (s) => s.imbalance?.(),
  ),
  perRow({
    type: Gauge,
    name: METRIC.alertsFiring,
    help: 'Alerts currently firing, by alert name and severity.',
    labelNames: ['alertname', 'severity'],
    rows: (s) => s.alerts?.(),
    labels: (a) => ({ alertname: a.alertname, severity: a.severity }),
    value: () => 1,
    sums: true,
  }),
  perRow({
    type: Gauge,
    name: METRIC.cutoverPhase,
    help: 'Current phase of each shard migration (1 on the phase it is in).',
    labelNames: ['migration', 'phase'],
    rows: (s) => s.cutover?.(),
    labels: (c) => ({ migration: c.migration, phase: c.phase }),
    value: () => 1,
  }),
  hostGauge(
    METRIC.hostCpu,
    'CPU busy ratio of the database host (absent when unknown).',
    (h) => h.cpuPercent,
  ),
  hostGauge(
    METRIC.hostMemory,
    'Memory used ratio of the database host (absent when unknown).',
    (h) => h.memoryPercent,
  ),
  hostGauge(
    METRIC.hostDisk,
    "Disk used ratio of the server's data directory (absent when unknown).",
    (h) => h.diskPercent,
  ),
];

export class ShardgateMetrics {
  readonly registry = new Registry();
  private sources: MetricSources;
  private readonly duration: CellHistogram;
  private readonly poolWait: CellHistogram;
  private readonly clients: Gauge<'protocol'>;
  /** Open client connections, both protocols (the gauge's sum, readable without a scrape). */
  private openClients = 0;
  // Hot-path cells behind nested maps: a lookup allocates nothing (no joined key strings), an
  // update is a number increment; the registry reads them at scrape time.
  private readonly statementCells = new Map<string, Map<string, StatementCells>>();
  private readonly routingCells = new Map<string, Float64Array>();
  private readonly durationCells = new ShardRoleSlots((shard, role) => this.duration.cell({ shard, role }));
  private readonly poolWaitCells = new Map<string, Map<string, HistogramCell>>();
  /** 40001 errors clients received, by protocol then shard. */
  private readonly conflictCells = new Map<string, Map<string, number>>();

  constructor(sources: MetricSources = {}) {
    this.sources = { ...sources };
    const registers = [this.registry];
    const src = () => this.sources;
    const statementCells = this.statementCells;
    new Counter({
      name: METRIC.statements,
      help: 'Statements executed, by statement kind, shard, server role and outcome.',
      labelNames: ['kind', 'shard', 'role', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [kind, shards] of statementCells) {
          for (const [shard, cells] of shards) {
            for (let i = 0; i < 4; i++)
              if (cells[i]! > 0) this.inc({ kind, shard, ...CELL_LABELS[i]! }, cells[i]!);
          }
        }
      },
    });
    this.duration = new CellHistogram(
      METRIC.statementDuration,
      'Statement latency seen by shardgate (send to last response byte), by shard and role.',
      LATENCY_BUCKETS,
    );
    this.registry.registerMetric(this.duration as unknown as Metric);
    const routingCells = this.routingCells;
    new Counter({
      name: METRIC.routingDecisions,
      help: 'Routing decisions by consistency level and target role.',
      labelNames: ['level', 'role'],
      registers,
      collect() {
        this.reset();
        for (const [level, cells] of routingCells) {
          if (cells[0]! > 0) this.inc({ level, role: 'primary' }, cells[0]!);
          if (cells[1]! > 0) this.inc({ level, role: 'replica' }, cells[1]!);
        }
      },
    });
    this.poolWait = new CellHistogram(
      METRIC.poolWait,
      'Time a client waited for a server connection.',
      LATENCY_BUCKETS,
    );
    this.registry.registerMetric(this.poolWait as unknown as Metric);
    this.clients = new Gauge({
      name: METRIC.clientConnections,
      help: 'Open client connections by protocol.',
      labelNames: ['protocol'],
      registers,
    });
    this.clients.set({ protocol: 'postgres' }, 0);
    const conflictCells = this.conflictCells;
    new Counter({
      name: METRIC.conflicts,
      help: 'Statements that failed with SQLSTATE 40001 (serialization failure, deadlock, a cutover abort): the client must retry its transaction.',
      labelNames: ['protocol', 'shard'],
      registers,
      collect() {
        this.reset();
        for (const [protocol, shards] of conflictCells)
          for (const [shard, n] of shards) this.inc({ protocol, shard }, n);
      },
    });
    for (const m of SCRAPED) {
      const sums = m.type === Counter || m.sums === true;
      new m.type({
        name: m.name,
        help: m.help,
        labelNames: m.labelNames,
        registers,
        collect() {
          this.reset();
          m.fill(
            sums ? (labels, v) => this.inc(labels, v) : (labels, v) => (this as Gauge).set(labels, v),
            src(),
          );
        },
      });
    }
  }

  /** Adds or replaces scrape-time sources (the lead wires pools, lag monitor, etc.). */
  setSources(sources: MetricSources): void {
    Object.assign(this.sources, sources);
  }

  /** Hot path: one statement on one target. */
  recordStatement(
    kind: string,
    shard: string,
    role: Role,
    outcome: 'ok' | 'error',
    latencySeconds: number,
  ): void {
    let shards = this.statementCells.get(kind);
    if (shards === undefined) {
      shards = new Map();
      this.statementCells.set(kind, shards);
    }
    let cells = shards.get(shard);
    if (cells === undefined) {
      cells = new Float64Array(4);
      shards.set(shard, cells);
    }
    cells[cellIndex(role, outcome)]!++;
    if (latencySeconds >= 0 && Number.isFinite(latencySeconds)) {
      this.durationCells.slot(shard, role).observe(latencySeconds);
    }
  }

  /**
   * One shard's statement latency histogram since start, both roles summed: per-bucket
   * (non-cumulative) counts for the bucket bounds in seconds, the last count being slower than
   * every bound. The history sampler stores the difference of two readings.
   */
  durationBuckets(shard: string): { bounds: number[]; counts: number[]; count: number; sum: number } {
    const bounds = [...this.duration.bounds];
    const counts = new Array<number>(bounds.length + 1).fill(0);
    let count = 0;
    let sum = 0;
    for (const cell of this.durationCells.of(shard) ?? []) {
      if (cell === null) continue;
      let inBounds = 0;
      for (let i = 0; i < bounds.length; i++) {
        counts[i]! += cell.counts[i]!;
        inBounds += cell.counts[i]!;
      }
      counts[bounds.length]! += cell.count - inBounds;
      count += cell.count;
      sum += cell.sum;
    }
    return { bounds, counts, count, sum };
  }

  /** A client received a 40001 error (rare: an error path, never the fast path). */
  recordConflict(protocol: 'postgres' | 'mysql', shard: string): void {
    const shards = child(this.conflictCells, protocol, () => new Map<string, number>());
    shards.set(shard, (shards.get(shard) ?? 0) + 1);
  }

  recordRouting(level: ConsistencyLevel | 'none', role: Role): void {
    let cells = this.routingCells.get(level);
    if (cells === undefined) {
      cells = new Float64Array(2);
      this.routingCells.set(level, cells);
    }
    cells[role === 'primary' ? 0 : 1]!++;
  }

  recordPoolWait(shard: string, server: string, seconds: number): void {
    const servers = child(this.poolWaitCells, shard, () => new Map<string, HistogramCell>());
    let h = servers.get(server);
    if (h === undefined) {
      h = this.poolWait.cell({ shard, server });
      servers.set(server, h);
    }
    h.observe(seconds);
  }

  clientConnected(protocol: 'postgres' | 'mysql'): void {
    this.clients.inc({ protocol });
    this.openClients++;
  }

  clientDisconnected(protocol: 'postgres' | 'mysql'): void {
    this.clients.dec({ protocol });
    this.openClients--;
  }

  /** This process's traffic in brief, for the cluster view (/api/instance). */
  traffic(): { statements: number; errors: number; clientConnections: number } {
    let statements = 0;
    let errors = 0;
    for (const shards of this.statementCells.values()) {
      for (const cells of shards.values()) {
        statements += cells[0]! + cells[1]! + cells[2]! + cells[3]!;
        errors += cells[1]! + cells[3]!;
      }
    }
    return { statements, errors, clientConnections: this.openClients };
  }

  /** The exposition text for GET /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
