// The routing after a MySQL split's switch: the source shard in mysqlShards replaced by its halves,
// each on its spare with the spare's GTID replicas as its replicas (a pure function of the config,
// applied at the switch, by fenced members and at every start).
import type { ShardConfig, ShardgateConfig } from '../config/schema.js';
import { formatKeyRange } from '../domain/keyspace.js';
import { rehome, spareReplicas } from './plan.js';
import type { SplitTarget } from './types.js';

/** The config after the switch: the MySQL source shard replaced by its halves, in its place. */
export function mysqlConfigAfterSplit(
  config: ShardgateConfig,
  sourceShard: string,
  targets: readonly SplitTarget[],
): ShardgateConfig {
  const index = config.mysqlShards.findIndex((s) => s.name === sourceShard);
  if (index < 0) return config;
  const source = config.mysqlShards[index]!;
  const halves: ShardConfig[] = targets.map((t) => ({
    ...source,
    name: t.shard,
    keyRange: formatKeyRange(t.range),
    readOnly: false,
    primary: { name: t.server.name, host: t.server.host, port: t.server.port },
    replicas: spareReplicas(config, t.server.name),
  }));
  const mysqlShards = [...config.mysqlShards];
  mysqlShards.splice(index, 1, ...halves);
  const defaultShard =
    config.routing.defaultShard === sourceShard ? targets[0]!.shard : config.routing.defaultShard;
  return {
    ...config,
    mysqlShards,
    routing: { ...config.routing, defaultShard },
    tables: rehome(config.tables, sourceShard, targets[0]!.shard),
  };
}
