// A TopologyView for the demo config (config/shardgate.yaml): shards s0 "-80" and s1 "80-", one
// replica each, the demo data types and tables. Server state is healthy and caught up unless a
// test overrides it; everything is a plain value, so planner tests stay pure.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/load.js';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import {
  defaultSessionContext,
  type RoutingSession,
  type ServerView,
  type SessionContext,
  type ShardView,
  type TopologyView,
} from '../../src/router/inputs.js';

export const DEMO_CONFIG_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'config',
  'shardgate.yaml',
);

let cached: ShardgateConfig | null = null;

export function demoConfig(): ShardgateConfig {
  cached ??= loadConfigFile(DEMO_CONFIG_PATH);
  return cached;
}

export interface TopologyOptions {
  /** Per server name (s0-primary, s0-replica1, s1-primary, s1-replica1): state overrides. */
  servers?: Record<string, Partial<ServerView>>;
  /** Shards refusing writes. */
  readOnly?: string[];
  /** Replicas per shard (default 1, as in the demo config; more are named ...replica2, ...). */
  replicas?: number;
  routing?: Partial<ShardgateConfig['routing']>;
  tables?: ShardgateConfig['tables'];
  dataTypes?: ShardgateConfig['dataTypes'];
  version?: number;
}

function server(
  name: string,
  shard: string,
  role: 'primary' | 'replica',
  over: Partial<ServerView> | undefined,
): ServerView {
  return {
    name,
    shard,
    role,
    healthy: true,
    drained: false,
    lagMs: role === 'primary' ? 0 : 5,
    position: '0/3000000',
    outstanding: 0,
    rttMs: role === 'primary' ? 0.4 : 0.3,
    ...over,
  };
}

export function demoTopology(options: TopologyOptions = {}): TopologyView {
  const config = demoConfig();
  const shards: ShardView[] = config.shards.map((s) => {
    const replicas: ServerView[] = [];
    for (let i = 1; i <= (options.replicas ?? 1); i++) {
      const name = `${s.name}-replica${i}`;
      replicas.push(server(name, s.name, 'replica', options.servers?.[name]));
    }
    const primaryName = `${s.name}-primary`;
    return {
      name: s.name,
      range: parseKeyRange(s.keyRange),
      readOnly: options.readOnly?.includes(s.name) ?? false,
      primary: server(primaryName, s.name, 'primary', options.servers?.[primaryName]),
      replicas,
    };
  });
  return {
    version: options.version ?? 1,
    shards,
    defaultShard: config.routing.defaultShard ?? 's0',
    tables: options.tables ?? config.tables,
    dataTypes: options.dataTypes ?? config.dataTypes,
    routing: { ...config.routing, ...options.routing },
  };
}

export interface SessionOptions extends Partial<Omit<RoutingSession, 'context' | 'lastWritePositions'>> {
  context?: Partial<SessionContext>;
  lastWritePositions?: Record<string, string>;
}

export function routingSession(options: SessionOptions = {}): RoutingSession {
  const { context, lastWritePositions, ...rest } = options;
  return {
    context: { ...defaultSessionContext(), ...context },
    inTransaction: false,
    transactionReadOnly: false,
    transactionShard: null,
    transactionServer: null,
    lastWritePositions: new Map(Object.entries(lastWritePositions ?? {})),
    ...rest,
  };
}
