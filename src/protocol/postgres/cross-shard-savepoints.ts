// SAVEPOINT, ROLLBACK TO and RELEASE in a PostgreSQL transaction that spans shards: sent to every
// participant by src/transactions/savepoints.ts (whose stack gives a shard that joins later the
// active savepoints). A ROLLBACK TO that succeeds on every participant clears a failed
// transaction, as PostgreSQL's does; one that fails anywhere leaves it failed, and an unknown
// name fails the transaction, as the database's error does.
import { toShardgateError } from '../../errors.js';
import { PG_SAVEPOINTS, savepointOnEveryShard, savepointStatement } from '../../transactions/savepoints.js';
import { participants } from './distributed-commit.js';
import type { LocalResponder } from './local-responder.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';

/** Runs a savepoint statement of a transaction that spans shards; false when the unit has none. */
export async function savepointAcrossShards(
  cycle: QueryCycle,
  statements: PlannedStatement[],
  responder: LocalResponder,
): Promise<boolean> {
  const s = savepointStatement(statements);
  if (!s) return false;
  const state = cycle.state;
  const stack = cycle.savepoints;
  await savepointOnEveryShard(s, statements.length, {
    dialect: PG_SAVEPOINTS,
    stack,
    participants: participants(cycle),
    transactionServer: state.transactionServer,
    unit: 'message',
    send: (b, sql) => b.runInternal(sql),
    failed: (failure, _sql, targets) => {
      // Some participants may have done it, others not: no later ROLLBACK TO can bring them together.
      if (targets > 1) stack.forget();
      const error =
        'reason' in failure
          ? toShardgateError(failure.reason)
          : { severity: 'ERROR', ...failure.serverError };
      responder.fail(error, 'E');
    },
    done: (action, tag) => {
      if (action === 'rollback_to') {
        // Every participant is back at the savepoint: the transaction goes on (PostgreSQL's rule).
        state.txStatus = 'T';
        state.proxyAborted = false;
        // A lock_timeout set after the savepoint was undone with it: the next statement sets it again.
        cycle.forgetLockTimeouts();
      }
      responder.completeIn(tag, state.txStatus === 'E' ? 'E' : 'T', cycle);
    },
  });
  return true;
}
