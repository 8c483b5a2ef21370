// The MySQL routing after a merge's switch: both sources in mysqlShards replaced, where the first
// was, by the merged shard on its spare server (and the default shard and `home` tables that were
// either source's re-homed to it), with the spare's GTID replicas as its replicas. Applied at the
// switch, by fenced members and at every start.
import type { ShardConfig, ShardgateConfig } from '../config/schema.js';
import { type SplitPlan, spareReplicas } from './plan.js';

export function mysqlConfigAfterMerge(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  const names = plan.merge!.sources.map((s) => s.shard);
  const index = config.mysqlShards.findIndex((s) => names.includes(s.name));
  if (index < 0) return config;
  const target = plan.targets[0]!;
  const merged: ShardConfig = {
    ...config.mysqlShards[index]!,
    name: target.shard,
    keyRange: target.range,
    readOnly: false,
    primary: { name: target.server.name, host: target.server.host, port: target.server.port },
    replicas: spareReplicas(config, target.server.name),
  };
  const mysqlShards = config.mysqlShards.filter((s) => !names.includes(s.name));
  mysqlShards.splice(index, 0, merged);
  const defaultShard = names.includes(config.routing.defaultShard ?? '')
    ? target.shard
    : config.routing.defaultShard;
  const tables = Object.fromEntries(
    Object.entries(config.tables).map(([name, t]) =>
      t.home && names.includes(t.home) ? [name, { ...t, home: target.shard }] : [name, t],
    ),
  );
  return { ...config, mysqlShards, routing: { ...config.routing, defaultShard }, tables };
}

/**
 * The MySQL routing before a merge, restored by its rollback: the merged shard replaced, where it
 * is, by both sources as they were configured, with the default shard and `home` tables as
 * they were.
 */
export function mysqlConfigBeforeMerge(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  const merge = plan.merge!;
  const merged = plan.targets[0]!.shard;
  const index = config.mysqlShards.findIndex((s) => s.name === merged);
  if (index < 0) return config;
  const mysqlShards = config.mysqlShards.filter((s) => s.name !== merged);
  mysqlShards.splice(index, 0, ...merge.sources.map((s) => s.shardConfig));
  const defaultShard =
    config.routing.defaultShard === merged
      ? (merge.defaultShard ?? merge.sources[0]!.shard)
      : config.routing.defaultShard;
  const tables = Object.fromEntries(
    Object.entries(config.tables).map(([name, t]) =>
      t.home === merged ? [name, { ...t, home: merge.homes[name] ?? merge.sources[0]!.shard }] : [name, t],
    ),
  );
  return { ...config, mysqlShards, routing: { ...config.routing, defaultShard }, tables };
}
