// Builds a shardgate config for servers the local launcher started: the demo config's routing
// rules (config/shardgate.yaml) with its shard servers replaced by the launched ones.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../config/load.js';
import type { ShardgateConfig } from '../config/schema.js';
import { formatKeyRange } from '../domain/keyspace.js';

export interface LaunchedServer {
  name: string;
  host: string;
  port: number;
  /** Its data directory on this machine (disk use in the host metrics). */
  dataDir?: string;
}

export interface LaunchedShard {
  name: string;
  primary: LaunchedServer;
  replicas: LaunchedServer[];
}

/** The repository root, from dist/src/local or src/local. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      dir = dirname(dir);
    }
  }
  return process.cwd();
}

export function demoConfigPath(): string {
  return join(repoRoot(), 'config', 'shardgate.yaml');
}

/** Even split of the keyspace over n shards, Vitess-style ranges ("-80", "80-"). */
export function evenKeyRanges(n: number): string[] {
  const out: string[] = [];
  const size = (1n << 64n) / BigInt(n);
  for (let i = 0; i < n; i++) {
    const start = BigInt(i) * size;
    const end = i === n - 1 ? 1n << 64n : BigInt(i + 1) * size;
    out.push(formatKeyRange({ start, end }));
  }
  return out;
}

/** A config's `mysqlShards` for launched MariaDB shards, the keyspace split evenly over them. */
export function mysqlShardsFor(shards: readonly LaunchedShard[]): Array<Record<string, unknown>> {
  const ranges = evenKeyRanges(shards.length);
  const server = (s: LaunchedServer) => ({ name: s.name, host: s.host, port: s.port });
  return shards.map((s, i) => ({
    name: s.name,
    keyRange: ranges[i],
    protocol: 'mysql',
    primary: server(s.primary),
    replicas: s.replicas.map(server),
  }));
}

export interface LocalConfigOptions {
  database: string;
  /** Deep overrides merged over the demo config (e.g. { pool: { mode: 'session' } }). */
  overrides?: Record<string, unknown>;
  /** Use this YAML instead of config/shardgate.yaml. */
  basePath?: string;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = merge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function localServer(s: LaunchedServer): Record<string, unknown> {
  return {
    name: s.name,
    host: s.host,
    port: s.port,
    hostMetrics: 'local',
    ...(s.dataDir ? { dataDir: s.dataDir } : {}),
  };
}

export function configForLocalShards(shards: LaunchedShard[], options: LocalConfigOptions): ShardgateConfig {
  const path = options.basePath ?? demoConfigPath();
  const raw = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const ranges = evenKeyRanges(shards.length);
  raw.shards = shards.map((s, i) => ({
    name: s.name,
    keyRange: ranges[i],
    primary: localServer(s.primary),
    replicas: s.replicas.map(localServer),
  }));
  const routing = (raw.routing ?? {}) as Record<string, unknown>;
  raw.routing = { ...routing, defaultShard: shards[0]?.name };
  raw.backend = { ...((raw.backend as object) ?? {}), database: options.database };
  const merged = options.overrides ? merge(raw, options.overrides) : raw;
  return parseConfig(merged, path);
}
