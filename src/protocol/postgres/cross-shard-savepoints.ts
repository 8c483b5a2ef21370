// SAVEPOINT, ROLLBACK TO and RELEASE in a PostgreSQL transaction that spans shards: sent to every
// participant (the stack, src/transactions/savepoints.ts, gives a shard that joins later the
// active savepoints). A ROLLBACK TO that succeeds on every participant clears a failed
// transaction, as PostgreSQL's does; one that fails anywhere leaves it failed.
import { ShardgateError, toShardgateError } from '../../errors.js';
import { isSavepointAction, PG_SAVEPOINTS } from '../../transactions/savepoints.js';
import { participants } from './distributed-commit.js';
import type { LocalResponder } from './local-responder.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';

const quote = (name: string) => PG_SAVEPOINTS.savepointSql(name).slice('SAVEPOINT '.length);

/** Runs a savepoint statement of a transaction that spans shards; false when the unit has none. */
export async function savepointAcrossShards(
  cycle: QueryCycle,
  statements: PlannedStatement[],
  responder: LocalResponder,
): Promise<boolean> {
  const s = statements.find((st) => isSavepointAction(st.facts.transaction?.action));
  if (!s) return false;
  const parts = participants(cycle);
  const shards = parts.map((p) => p.shard).join(', ');
  const { action, savepoint: name } = s.facts.transaction!;
  if (statements.length > 1)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: 'SAVEPOINT, ROLLBACK TO or RELEASE sent together with other statements',
      shards,
    });
  const stack = cycle.savepoints;
  if (name === null || name === undefined || !stack.known)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: `${s.sql.slice(0, 40)} (shardgate does not know this transaction's savepoints: a message with several statements and a savepoint failed part way, or a name it could not read)`,
      shards,
    });
  const state = cycle.state;
  const sql =
    action === 'savepoint'
      ? PG_SAVEPOINTS.savepointSql(name)
      : `${action === 'release' ? 'RELEASE' : 'ROLLBACK TO'} SAVEPOINT ${quote(name)}`;
  // No such savepoint: the database says so (one participant answers) and fails the transaction.
  const targets =
    action === 'savepoint' || stack.has(name)
      ? parts
      : [parts.find((b) => b.serverName === state.transactionServer) ?? parts[0]!];
  const results = await Promise.allSettled(targets.map((b) => b.runInternal(sql)));
  let failure: ShardgateError | { severity: string; code: string; message: string } | null = null;
  let tag = '';
  for (const r of results) {
    if (r.status === 'rejected') failure ??= toShardgateError(r.reason);
    else if (r.value.error) failure ??= { severity: 'ERROR', ...r.value.error };
    else tag ||= r.value.tag ?? '';
  }
  if (failure) {
    // Some participants may have done it, others not: no later ROLLBACK TO can bring them together.
    if (targets.length > 1) stack.forget();
    responder.fail(failure, 'E');
    return true;
  }
  if (targets.length < parts.length)
    throw new ShardgateError('INTERNAL', {
      detail: `${sql} succeeded on a savepoint shardgate did not know`,
    });
  if (action === 'savepoint') stack.savepoint(name);
  else if (action === 'release') stack.release(name);
  else {
    stack.rollbackTo(name);
    // Every participant is back at the savepoint: the transaction goes on (PostgreSQL's rule).
    state.txStatus = 'T';
    state.proxyAborted = false;
    // A lock_timeout set after the savepoint was undone with it: the next statement sets it again.
    cycle.forgetLockTimeouts();
  }
  responder.completeIn(tag, state.txStatus === 'E' ? 'E' : 'T', cycle);
  return true;
}
