// The routing a migration's switch installs and its rollback restores, for both front ends: pure
// functions of the config and the plan, applied at the switch, by fenced members and at every
// start. A split, a merge and their rollbacks all replace some shards of one list (`shards` for
// PostgreSQL, `mysqlShards` for MySQL), where the first of them stood, and re-home the default
// shard and `home` tables; only the new shards' configs differ per protocol.
import type { ServerConfig, ShardConfig, ShardgateConfig } from '../config/schema.js';
import { formatKeyRange, parseKeyRange } from '../domain/keyspace.js';
import {
  configAfterMove,
  configBeforeMove,
  type ReplicaSource,
  type SplitPlan,
  targetReplicas,
  targetShardConfig,
} from './plan.js';
import type { SplitTarget } from './types.js';

type ShardList = 'shards' | 'mysqlShards';

interface Replacement {
  list: ShardList;
  /** The shards leaving the list; the new ones stand where the first of these stood. */
  names: readonly string[];
  /** The new shards, given the config of the first leaving one. */
  shards: (first: ShardConfig) => ShardConfig[];
  /** The default shard when it was one of `names`. */
  defaultShard: string;
  /** A table's new home, given its name and its home among `names`. */
  home: (table: string, home: string) => string;
}

function replaceShards(config: ShardgateConfig, r: Replacement): ShardgateConfig {
  const index = config[r.list].findIndex((s) => r.names.includes(s.name));
  if (index < 0) return config;
  const shards = config[r.list].filter((s) => !r.names.includes(s.name));
  shards.splice(index, 0, ...r.shards(config[r.list][index]!));
  const defaultShard = r.names.includes(config.routing.defaultShard ?? '')
    ? r.defaultShard
    : config.routing.defaultShard;
  const tables = Object.fromEntries(
    Object.entries(config.tables).map(([name, t]) =>
      t.home && r.names.includes(t.home) ? [name, { ...t, home: r.home(name, t.home) }] : [name, t],
    ),
  );
  return { ...config, [r.list]: shards, routing: { ...config.routing, defaultShard }, tables };
}

function listOf(plan: SplitPlan): ShardList {
  return plan.protocol === 'mysql' ? 'mysqlShards' : 'shards';
}

type Target = SplitPlan['targets'][number];

/**
 * A MySQL target keeps the source's settings, with its spare's GTID replicas as recorded when
 * mysql-spare-replicas.ts checked them (targetReplicas).
 */
function mysqlTarget(
  config: ShardgateConfig,
  source: ShardConfig,
  shard: string,
  target: ReplicaSource,
  keyRange: string,
): ShardConfig {
  const { server } = target;
  const primary = { name: server.name, host: server.host, port: server.port };
  return {
    ...source,
    name: shard,
    keyRange,
    readOnly: false,
    primary,
    replicas: targetReplicas(config, target),
  };
}

/** A target shard's config: PostgreSQL's takes the spare's server config with its replicas. */
function targetConfig(config: ShardgateConfig, plan: SplitPlan, source: ShardConfig, t: Target): ShardConfig {
  return plan.protocol === 'mysql'
    ? mysqlTarget(config, source, t.shard, t, t.range)
    : targetShardConfig(config, t);
}

/** After a split's switch: the source shard replaced by its halves; its tables go to the first. */
export function configAfterSplit(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  if (plan.protocol === 'mysql')
    return mysqlConfigAfterSplit(
      config,
      plan.sourceShard,
      plan.targets.map((t) => ({ ...t, range: parseKeyRange(t.range) })),
    );
  const first = plan.targets[0]!.shard;
  return replaceShards(config, {
    list: 'shards',
    names: [plan.sourceShard],
    shards: () => plan.targets.map((t) => targetShardConfig(config, t)),
    defaultShard: first,
    home: () => first,
  });
}

/**
 * After a MySQL split's switch (also run by runMysqlSplit, which has no plan); each target's
 * replicas as checked (absent: read from the config).
 */
export function mysqlConfigAfterSplit(
  config: ShardgateConfig,
  sourceShard: string,
  targets: ReadonlyArray<SplitTarget & { replicas?: readonly ServerConfig[] }>,
): ShardgateConfig {
  const first = targets[0]!.shard;
  return replaceShards(config, {
    list: 'mysqlShards',
    names: [sourceShard],
    shards: (source) => targets.map((t) => mysqlTarget(config, source, t.shard, t, formatKeyRange(t.range))),
    defaultShard: first,
    home: () => first,
  });
}

/** After a split's rollback: the halves replaced by the source shard as it was. */
export function configBeforeSplit(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  const first = plan.targets[0]!.shard;
  return replaceShards(config, {
    list: listOf(plan),
    names: plan.targets.map((t) => t.shard),
    shards: () => [plan.sourceShardConfig],
    defaultShard: plan.sourceShard,
    // Only the first half took the source's tables (configAfterSplit).
    home: (_table, home) => (home === first ? plan.sourceShard : home),
  });
}

/** After a merge's switch: both sources replaced by the merged shard, where the first was. */
export function configAfterMerge(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  const target = plan.targets[0]!;
  return replaceShards(config, {
    list: listOf(plan),
    names: plan.merge!.sources.map((s) => s.shard),
    shards: (first) => [targetConfig(config, plan, first, target)],
    defaultShard: target.shard,
    home: () => target.shard,
  });
}

/** After a merge's rollback: the merged shard replaced by both sources as they were configured. */
export function configBeforeMerge(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  const merge = plan.merge!;
  const fallback = merge.sources[0]!.shard;
  return replaceShards(config, {
    list: listOf(plan),
    names: [plan.targets[0]!.shard],
    shards: () => merge.sources.map((s) => s.shardConfig),
    defaultShard: merge.defaultShard ?? fallback,
    home: (table) => merge.homes[table] ?? fallback,
  });
}

/** The config once a migration switched: a split's, a merge's or a table move's. */
export function configAfterSwitch(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  // A table move changes only `tables`, which both front ends route by.
  if (plan.operation === 'move') return configAfterMove(config, plan);
  if (plan.operation === 'merge') return configAfterMerge(config, plan);
  return configAfterSplit(config, plan);
}

/** The config a migration's rollback restores: the routing before its switch. */
export function configBeforeSwitch(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  if (plan.operation === 'move') return configBeforeMove(config, plan);
  if (plan.operation === 'merge') return configBeforeMerge(config, plan);
  return configBeforeSplit(config, plan);
}
