// Primary changes learned from the servers themselves: when a shard's primary is out of rotation
// and one of its replicas reports it left recovery (pg_promote(), Patroni, an operator), that
// replica becomes the shard's primary in the runtime topology. The change is kept as "server X is
// the primary of shard S" and applied to every config the topology is rebuilt from (rules edits,
// a cutover's switch), so no later rebuild silently routes writes back to the old primary. The
// old primary, if it returns, is listed as a replica; still claiming to be a primary, it is fenced
// by the lag monitor (out of rotation, shunned, alerted) and never sent a write.
import type { ShardConfig, ShardgateConfig } from '../config/schema.js';
import { serverNames } from './topology.js';

/** `config` with each shard's promoted server (shard -> server name) as its primary. */
export function applyPromotions(
  config: ShardgateConfig,
  promoted: ReadonlyMap<string, string>,
): ShardgateConfig {
  if (promoted.size === 0) return config;
  let changed = false;
  const shards = config.shards.map((shard): ShardConfig => {
    const wanted = promoted.get(shard.name);
    if (!wanted) return shard;
    const names = serverNames(shard);
    const i = names.replicas.indexOf(wanted);
    if (i < 0) return shard;
    changed = true;
    // Names are written out so that each server keeps its identity (pools, probes, metrics).
    const replicas = shard.replicas.map((r, j) => ({ ...r, name: names.replicas[j]! }));
    const newPrimary = replicas[i]!;
    replicas[i] = { ...shard.primary, name: names.primary };
    return { ...shard, primary: newPrimary, replicas };
  });
  return changed ? { ...config, shards } : config;
}
