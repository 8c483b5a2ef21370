// Holding writes through a failover (the way Vitess buffers during a reparent): a write outside a
// transaction that could not reach its shard's primary (nothing was sent) waits, up to
// routing.holdWritesOnPrimaryLossMs, for the shard to have a serving primary again (the old one
// back, or a replica promoted, see promotions.ts), and is then planned and run again. Both
// protocols use it; past the bound, the client gets the coded error it would have got at once.
import { ShardgateError } from '../errors.js';
import type { TopologyView } from '../router/inputs.js';
import type { PlannedStatement } from '../router/router.js';
import { writesData } from './server-loss.js';

/** A write that never left shardgate because its primary could not be reached. */
export function mayHoldWrite(
  err: unknown,
  situation: { inTransaction: boolean; statements: readonly PlannedStatement[]; holdMs: number },
): boolean {
  if (situation.holdMs <= 0 || situation.inTransaction || !writesData(situation.statements)) return false;
  return err instanceof ShardgateError && err.code === 'BACKEND_UNAVAILABLE';
}

/** Resolves true once `shard` has a serving primary, false after `ms`. */
export async function primaryServing(view: () => TopologyView, shard: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const primary = view().shards.find((s) => s.name === shard)?.primary;
    if (primary?.healthy) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}
