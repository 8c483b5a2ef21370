// SAVEPOINT, ROLLBACK TO and RELEASE in a MySQL transaction that spans shards: sent to every
// participant, the home's plain transaction and the XA ones alike (a shard that joins later gets
// the active savepoints after its XA START, src/transactions/savepoints.ts). MySQL's rules: a
// failed statement does not end the transaction, so an unknown name is only the server's error.
import { ShardgateError } from '../../errors.js';
import type { PlannedStatement } from '../../router/router.js';
import { isSavepointAction, MYSQL_SAVEPOINTS } from '../../transactions/savepoints.js';
import type { CommandCycle } from './command-cycle.js';
import { abandonAcrossShards, participants } from './distributed-commit.js';
import type { LogicalPacket } from './packet-framer.js';
import { MysqlServerError } from './server-binding.js';
import { localStatus } from './session-state.js';

/** Runs a savepoint statement of a transaction that spans shards; false when the query has none. */
export async function savepointAcrossShards(
  cycle: CommandCycle,
  packet: LogicalPacket,
  statements: readonly PlannedStatement[],
): Promise<boolean> {
  const s = statements.find((st) => isSavepointAction(st.facts.transaction?.action));
  if (!s) return false;
  // Seen by compensate mode first, as every statement of a transaction is: a savepoint takes that
  // mode away (a ROLLBACK TO undoes writes whose compensations were already kept).
  cycle.compensations.planned(statements);
  const parts = participants(cycle);
  const shards = parts.map((b) => b.shard).join(', ');
  const { action, savepoint: name } = s.facts.transaction!;
  if (statements.length > 1)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: 'SAVEPOINT, ROLLBACK TO or RELEASE sent together with other statements',
      shards,
    });
  const stack = cycle.savepoints;
  if (name === null || name === undefined || !stack.known)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: `${s.sql.slice(0, 40)} (shardgate does not know this transaction's savepoints: a query with several statements and a savepoint failed part way, or a name it could not read)`,
      shards,
    });
  const quoted = MYSQL_SAVEPOINTS.savepointSql(name).slice('SAVEPOINT '.length);
  const sql =
    action === 'savepoint'
      ? `SAVEPOINT ${quoted}`
      : `${action === 'release' ? 'RELEASE' : 'ROLLBACK TO'} SAVEPOINT ${quoted}`;
  const state = cycle.state;
  // No such savepoint: the server says so (one participant answers); the transaction goes on.
  const targets =
    action === 'savepoint' || stack.has(name)
      ? parts
      : [parts.find((b) => b.serverName === state.transactionServer) ?? parts[0]!];
  const results = await Promise.allSettled(targets.map((b) => b.conn.query(sql)));
  const failed = results.find((r) => r.status === 'rejected' || r.value.error);
  if (failed) {
    if (targets.length === 1 && failed.status === 'fulfilled')
      throw new MysqlServerError(failed.value.error!);
    // Done on some participants and not on others: the transaction cannot go on as one.
    const detail =
      failed.status === 'rejected' ? String((failed.reason as Error).message) : failed.value.error!.message;
    const error = new ShardgateError('TWO_PHASE_ABORTED', {
      detail: `${sql} failed on a participant: ${detail}`,
    });
    abandonAcrossShards(cycle, error);
    throw error;
  }
  if (targets.length < parts.length)
    throw new ShardgateError('INTERNAL', {
      detail: `${sql} succeeded on a savepoint shardgate did not know`,
    });
  if (action === 'savepoint') stack.savepoint(name);
  else if (action === 'release') stack.release(name);
  else stack.rollbackTo(name);
  cycle.session.write(cycle.reply(packet).ok(localStatus(state)).bytes());
  return true;
}
