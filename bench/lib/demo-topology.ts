// The demo topology for scenarios that need shards and replicas (hotkeys, consistency): N shards
// of a PostgreSQL primary plus M streaming replicas from the local launcher, the demo schema and
// sample rows, and a shardgate config built from config/shardgate.yaml with the launched servers
// in place of its shard list. shardgate itself runs as a child process (launchShardgateProcess).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { loadDemoData } from '../../src/local/demo-data.js';
import { demoConfigPath, evenKeyRanges } from '../../src/local/local-config.js';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.js';
import { shardForValue } from '../../src/router/sharding/resolve.js';
import type { MachineInfo } from './machine.js';
import { freePort } from './proc.js';
import type { ScenarioRun } from './scenario.js';
import { deepMerge, launchShardgateProcess, type ShardgateProcess } from './shardgate-process.js';
import type { PgEndpoint } from './target.js';

export const DEMO_DATABASE = 'shardgate';
/** The user benchmark clients connect to shardgate as (trust auth: no handshake cost to measure). */
export const BENCH_USER = 'bench';

export interface DemoTopologyOptions {
  shards: number;
  replicas: number;
  /** Sample users of the demo data (0: schema only). */
  demoUsers: number;
  settings?: Record<string, string | number>;
}

export interface ServerRole {
  name: string;
  shard: string;
  role: 'primary' | 'replica';
}

export interface DemoTopology {
  cluster: PostgresCluster;
  /** The demo config with the launched servers (listen ports are placeholders). */
  baseConfig: Record<string, unknown>;
  /** The parsed config, for shard-ownership computations. */
  config: ShardgateConfig;
  /** Which server listens on a port (every server is on 127.0.0.1). */
  serverByPort: Map<number, ServerRole>;
  /** The shard that owns `value` of `table`'s shard key. */
  ownerOf(table: string, value: string | number): string;
  stop(): Promise<void>;
}

export async function startDemoTopology(options: DemoTopologyOptions): Promise<DemoTopology> {
  const cluster = await startPostgresCluster({
    shards: options.shards,
    replicasPerShard: options.replicas,
    database: DEMO_DATABASE,
    ...(options.settings ? { settings: options.settings } : {}),
  });
  try {
    const raw = parseYaml(readFileSync(demoConfigPath(), 'utf8')) as Record<string, unknown>;
    const ranges = evenKeyRanges(cluster.shards.length);
    raw.shards = cluster.shards.map((s, i) => ({
      name: s.name,
      keyRange: ranges[i],
      primary: { name: s.primary.name, host: s.primary.host, port: s.primary.port },
      replicas: s.replicas.map((r) => ({ name: r.name, host: r.host, port: r.port })),
    }));
    raw.routing = { ...((raw.routing as object) ?? {}), defaultShard: cluster.shards[0]?.name };
    raw.backend = { ...((raw.backend as object) ?? {}), database: DEMO_DATABASE };
    raw.users = [{ name: BENCH_USER, password: '', auth: 'trust', backend: 'service' }];
    raw.log = { level: 'warn' };
    // Hot keys and migrations need the admin token; adminJson sends it.
    raw.admin = { ...((raw.admin as object) ?? {}), token: BENCH_ADMIN_TOKEN };
    raw.listen = { postgres: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } };
    const config = parseConfig(raw, 'bench demo topology');
    await loadDemoData(config, { users: options.demoUsers });
    const serverByPort = new Map<number, ServerRole>();
    for (const s of cluster.all()) serverByPort.set(s.port, { name: s.name, shard: s.shard, role: s.role });
    const shards = config.shards.map((s) => ({ name: s.name, range: parseKeyRange(s.keyRange) }));
    return {
      cluster,
      baseConfig: raw,
      config,
      serverByPort,
      ownerOf(table, value) {
        const t = config.tables[table];
        return t?.shardKey ? shardForValue(t, String(value), shards) : (shards[0]?.name ?? 's0');
      },
      stop: () => cluster.stop(),
    };
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

export interface RunningShardgate {
  process: ShardgateProcess;
  endpoint: PgEndpoint;
  adminUrl: string;
  stop(): Promise<void>;
}

/** Starts shardgate on the topology on free ports; `extra` is merged over the demo config. */
export async function startShardgateOn(
  topology: DemoTopology,
  options: { workers: number; extra?: Record<string, unknown>; cliPath?: string },
): Promise<RunningShardgate> {
  const [postgresPort, adminPort] = [await freePort(), await freePort()];
  const config = deepMerge(deepMerge(topology.baseConfig, options.extra ?? {}), {
    listen: {
      postgres: { host: '127.0.0.1', port: postgresPort },
      admin: { host: '127.0.0.1', port: adminPort },
    },
    workers: options.workers,
  });
  const launched = await launchShardgateProcess({
    config,
    postgresPort,
    workers: options.workers,
    ...(options.cliPath ? { cliPath: options.cliPath } : {}),
  });
  if (!launched.ok) throw new Error(launched.note);
  return {
    process: launched.process,
    endpoint: { host: '127.0.0.1', port: postgresPort, user: BENCH_USER, database: DEMO_DATABASE },
    adminUrl: `http://127.0.0.1:${adminPort}`,
    stop: () => launched.process.stop(),
  };
}

/** Admin token of the shardgate processes this bench run starts (fresh per run). */
export const BENCH_ADMIN_TOKEN = randomBytes(12).toString('hex');

/** GET a JSON document from shardgate's admin API (bounded by a timeout). */
export async function adminJson<T>(adminUrl: string, path: string, timeoutMs = 10_000): Promise<T> {
  const res = await fetch(adminUrl + path, {
    headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** GET /metrics as text. */
export async function adminMetrics(adminUrl: string, timeoutMs = 10_000): Promise<string> {
  const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return res.text();
}

/**
 * Sums the samples of one Prometheus metric whose labels include every given label, e.g.
 * metricSum(text, 'shardgate_routing_decisions_total', { level: 'eventual', role: 'replica' }).
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      have.set(pair[1] as string, pair[2] as string);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) {
      const v = Number(m[4]);
      if (Number.isFinite(v)) sum += v;
    }
  }
  return sum;
}

/** "PostgreSQL 15.4 (...)" of the first primary, or null. */
export async function postgresVersion(topology: DemoTopology): Promise<string | null> {
  const first = topology.cluster.shards[0]?.primary.name;
  if (!first) return null;
  try {
    const [row] = await topology.cluster.query<{ server_version: string }>(first, 'SHOW server_version');
    return row ? `PostgreSQL ${row.server_version}` : null;
  } catch {
    return null;
  }
}

/** How the scenarios on startScenarioTopology describe it in their parameters. */
export const SCENARIO_TOPOLOGY = '2 shards x (primary + 1 streaming replica)';

/**
 * A scenario's topology: 2 shards x (primary + replica) with 20 demo users, stopped with the run;
 * its PostgreSQL version goes into `machine`.
 */
export async function startScenarioTopology(run: ScenarioRun, machine: MachineInfo): Promise<DemoTopology> {
  run.tell('starting 2 shards x (primary + replica) and loading the demo schema ...');
  const topology = run.track(await startDemoTopology({ shards: 2, replicas: 1, demoUsers: 20 }));
  machine.versions.postgresql = await postgresVersion(topology);
  return topology;
}
