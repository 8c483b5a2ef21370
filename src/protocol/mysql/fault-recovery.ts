// What a MySQL session does after a server connection was lost under it (issue 14; the rules are
// server-loss.ts and write-hold.ts, shared with the PostgreSQL side): a lost transaction answers
// every statement until the client ends it, a read nobody saw a byte of runs again elsewhere, and
// a write that could not reach its primary may wait for a new one.
import { mayRetryRead } from '../../backend/server-loss.js';
import { mayHoldWrite, primaryServing } from '../../backend/write-hold.js';
import type { ShardgateError } from '../../errors.js';
import type { PlannedStatement } from '../../router/router.js';
import type { MysqlServices } from './services.js';
import type { MysqlSessionState } from './session-state.js';

/**
 * After a lost transaction, statements get its error until the client ends it: ROLLBACK (or a
 * new BEGIN) goes on; COMMIT hears the error once more, as the end of the transaction.
 */
export function checkLostTransaction(
  state: MysqlSessionState,
  statements: readonly PlannedStatement[],
): void {
  const lost = state.lostTransaction;
  if (!lost) return;
  const action = statements.length === 1 ? statements[0]!.facts.transaction?.action : undefined;
  if (action === 'rollback' || action === 'begin' || action === 'commit') state.lostTransaction = null;
  if (action !== 'rollback' && action !== 'begin') throw lost;
}

/**
 * Runs `attempt` again while it fails in a way a read may be retried (its server died or refused
 * it before any byte reached the client); the server is shunned by then, so planning again picks
 * another replica, else the primary. A write that could not reach its primary may be held for a
 * new one (routing.holdWritesOnPrimaryLossMs).
 */
export async function recoveringFromLoss<T>(
  state: MysqlSessionState,
  services: MysqlServices,
  statements: readonly PlannedStatement[],
  attempt: (n: number) => Promise<T>,
  clientGone: () => boolean,
): Promise<T> {
  const routing = services.config.routing;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      // Nobody waits for the answer (and its connection was dropped on purpose): never run it again.
      if (clientGone()) throw err;
      const inTransaction = state.inTransaction || state.deferredBegin !== null;
      const holdMs = routing.holdWritesOnPrimaryLossMs;
      if (n === 0 && mayHoldWrite(err, { inTransaction, statements, holdMs })) {
        // Held through a failover: planned again once the shard has a primary.
        const shard = String((err as ShardgateError).params.shard);
        if (await primaryServing(() => services.topology.view(), shard, holdMs)) continue;
        throw err;
      }
      const maxRetries = routing.readRetriesOnServerLoss;
      if (!mayRetryRead(err, { inTransaction, statements, attempt: n, maxRetries })) throw err;
      services.topology.faultCounters.readRetries++;
    }
  }
}
