// Primary changes learned from the servers themselves: when a shard's primary is out of rotation
// and one of its replicas reports it left recovery (pg_promote(), Patroni, an operator), that
// replica becomes the shard's primary in the runtime topology. The change is kept as "server X is
// the primary of shard S" and applied to every config the topology is rebuilt from (rules edits,
// a cutover's switch), so no later rebuild silently routes writes back to the old primary. The
// old primary, if it returns, is listed as a replica; still claiming to be a primary, it is fenced
// by the lag monitor (out of rotation, shunned, alerted) and never sent a write. Both protocols
// use this: PostgreSQL servers report it by pg_is_in_recovery(), MariaDB ones by @@read_only and
// their replication state.
import type { ShardConfig, ShardgateConfig } from '../config/schema.js';
import type { ServerView } from '../router/inputs.js';
import { serverNames } from './server-names.js';

/** The runtime shape both topologies share, as far as a promotion needs it. */
interface ShardRoles {
  name: string;
  primary: { name: string; view: ServerView };
  replicas: Array<{ name: string }>;
}

/**
 * The shard whose primary `server` (a replica that reports it is a primary) replaces, or null:
 * not a replica, or its shard's primary still serves (then it is a rogue second primary, fenced).
 */
export function promotionOf(
  shards: readonly ShardRoles[],
  server: string,
): { shard: string; previous: string } | null {
  const shard = shards.find((s) => s.replicas.some((r) => r.name === server));
  if (!shard || shard.primary.view.healthy) return null;
  return { shard: shard.name, previous: shard.primary.name };
}

/**
 * Records `server` in `promoted` (shard -> server) when it replaces its shard's primary (see
 * promotionOf); the promotion, or null when it does not.
 */
export function recordPromotion(
  shards: readonly ShardRoles[],
  promoted: Map<string, string>,
  server: string,
): { shard: string; previous: string } | null {
  const promotion = promotionOf(shards, server);
  if (promotion) promoted.set(promotion.shard, server);
  return promotion;
}

/** `config` with each shard's promoted server (shard -> server name) as its primary. */
export function applyPromotions(
  config: ShardgateConfig,
  promoted: ReadonlyMap<string, string>,
  list: 'shards' | 'mysqlShards' = 'shards',
): ShardgateConfig {
  if (promoted.size === 0) return config;
  let changed = false;
  const shards = config[list].map((shard): ShardConfig => {
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
  return changed ? { ...config, [list]: shards } : config;
}
