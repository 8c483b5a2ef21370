// Which server of one shard serves a read at a given level (DESIGN.md "Consistency levels").
// Replicas that are unhealthy, drained, lag past routing.replicaHardLagLimitMs, or have not yet
// replayed a cutover's switch position are out of rotation for every level. Unknown lag (null) is never treated as zero: it keeps a replica in
// rotation for eventual/weak, but never satisfies a bound. Ties break by server name, so the
// same inputs always give the same choice.
import type { ConsistencyLevel, RoutingConfig } from '../config/schema.js';
import type { ServerView, ShardView } from './inputs.js';
import type { RouteTarget } from './plan.js';
import { positionCovers } from './positions.js';

export interface ReplicaChoiceInput {
  level: ConsistencyLevel;
  shard: ShardView;
  routing: RoutingConfig;
  /** The session's last write position on this shard (read_your_writes), if any. */
  lastWritePosition: string | null;
  /** Bound for `bounded`. */
  maxLagMs: number;
}

export interface Choice {
  target: RouteTarget;
  reason: string;
}

export function inRotation(server: ServerView, routing: RoutingConfig): boolean {
  return (
    server.healthy &&
    !server.drained &&
    !server.catchUpTo &&
    !(server.lagMs !== null && server.lagMs > routing.replicaHardLagLimitMs)
  );
}

function byName(a: ServerView, b: ServerView): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Fewest requests in flight, then name. */
function leastLoaded(candidates: readonly ServerView[]): ServerView | null {
  let best: ServerView | null = null;
  for (const s of candidates) {
    if (
      !best ||
      s.outstanding < best.outstanding ||
      (s.outstanding === best.outstanding && byName(s, best) < 0)
    )
      best = s;
  }
  return best;
}

/** Lowest value of a nullable metric (null last), then name. */
function lowest(
  candidates: readonly ServerView[],
  metric: (s: ServerView) => number | null,
): ServerView | null {
  let best: ServerView | null = null;
  let bestValue = Number.POSITIVE_INFINITY;
  for (const s of candidates) {
    const v = metric(s) ?? Number.POSITIVE_INFINITY;
    if (!best || v < bestValue || (v === bestValue && byName(s, best) < 0)) {
      best = s;
      bestValue = v;
    }
  }
  return best;
}

function primary(shard: ShardView, reason: string): Choice {
  return { target: { shard: shard.name, server: shard.primary.name, role: 'primary' }, reason };
}

function replica(shard: ShardView, server: ServerView, reason: string): Choice {
  return { target: { shard: shard.name, server: server.name, role: 'replica' }, reason };
}

/** Replicas of the shard still in rotation (a fresh array; small). */
export function rotation(shard: ShardView, routing: RoutingConfig): ServerView[] {
  const out: ServerView[] = [];
  for (const r of shard.replicas) if (inRotation(r, routing)) out.push(r);
  return out;
}

export function chooseServer(input: ReplicaChoiceInput): Choice {
  const { level, shard, routing } = input;
  if (level === 'strong') return primary(shard, `${shard.name}: strong -> primary`);
  const candidates = rotation(shard, routing);
  if (candidates.length === 0) return primary(shard, `${shard.name}: no replica in rotation -> primary`);
  switch (level) {
    case 'read_your_writes': {
      const wanted = input.lastWritePosition;
      if (wanted === null) {
        const s = leastLoaded(candidates)!;
        return replica(shard, s, `${shard.name}: no write of this session -> replica ${s.name}`);
      }
      const covering = candidates.filter((s) => positionCovers(s.position, wanted));
      if (covering.length > 0) {
        const s = leastLoaded(covering)!;
        return replica(shard, s, `${shard.name}: replica ${s.name} has replayed ${wanted}`);
      }
      // Nobody has replayed the write yet: wait on the replica most likely to catch up first.
      const s = lowest(candidates, (c) => c.lagMs)!;
      return {
        target: {
          shard: shard.name,
          server: s.name,
          role: 'replica',
          wait: {
            position: wanted,
            maxWaitMs: routing.readYourWritesWaitMs,
            fallbackServer: shard.primary.name,
          },
        },
        reason: `${shard.name}: wait up to ${routing.readYourWritesWaitMs} ms for ${s.name} to replay ${wanted}, else primary`,
      };
    }
    case 'bounded': {
      const within = candidates.filter((s) => s.lagMs !== null && s.lagMs <= input.maxLagMs);
      if (within.length === 0)
        return primary(shard, `${shard.name}: no replica within ${input.maxLagMs} ms lag -> primary`);
      const s = leastLoaded(within)!;
      return replica(shard, s, `${shard.name}: replica ${s.name} lag ${s.lagMs} ms <= ${input.maxLagMs} ms`);
    }
    case 'eventual': {
      const s = leastLoaded(candidates)!;
      return replica(shard, s, `${shard.name}: least loaded replica ${s.name}`);
    }
    default: {
      const s = lowest(candidates, (c) => c.rttMs)!;
      return replica(shard, s, `${shard.name}: nearest replica ${s.name}`);
    }
  }
}

/** role=replica override: the level's replica if it picked one, else any replica in rotation. */
export function forceReplica(input: ReplicaChoiceInput): Choice {
  const choice = chooseServer(input.level === 'strong' ? { ...input, level: 'eventual' } : input);
  if (choice.target.role === 'replica') {
    // A forced replica does not fall back to the primary: drop the wait's fallback by keeping it
    // (the executor may still fall back); the operator asked for a replica, the wait stays bounded.
    return { target: choice.target, reason: `role=replica: ${choice.reason}` };
  }
  const s = leastLoaded(rotation(input.shard, input.routing));
  if (s) return replica(input.shard, s, `role=replica: ${input.shard.name} replica ${s.name}`);
  return primary(input.shard, `role=replica: ${input.shard.name} has no replica in rotation -> primary`);
}
