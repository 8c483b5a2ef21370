// The names a shard's servers go by when the config leaves them unnamed. Its own module so that
// promotions.ts and topology.ts (which imports promotions) both use it without an import cycle.
import type { ShardConfig } from '../config/schema.js';

export function serverNames(shard: ShardConfig): { primary: string; replicas: string[] } {
  return {
    primary: shard.primary.name ?? `${shard.name}-primary`,
    replicas: shard.replicas.map((r, i) => r.name ?? `${shard.name}-replica${i + 1}`),
  };
}
