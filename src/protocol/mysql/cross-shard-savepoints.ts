// SAVEPOINT, ROLLBACK TO and RELEASE in a MySQL transaction that spans shards: sent to every
// participant, the home's plain transaction and the XA ones alike, by src/transactions/savepoints.ts
// (a shard that joins later gets the active savepoints after its XA START). MySQL's rules: a
// failed statement does not end the transaction, so an unknown name is only the server's error.
import { ShardgateError } from '../../errors.js';
import type { PlannedStatement } from '../../router/router.js';
import {
  MYSQL_SAVEPOINTS,
  savepointOnEveryShard,
  savepointStatement,
} from '../../transactions/savepoints.js';
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
  const s = savepointStatement(statements);
  if (!s) return false;
  // Seen by compensate mode first, as every statement of a transaction is: a savepoint takes that
  // mode away (a ROLLBACK TO undoes writes whose compensations were already kept).
  cycle.compensations.planned(statements);
  await savepointOnEveryShard(s, statements.length, {
    dialect: MYSQL_SAVEPOINTS,
    stack: cycle.savepoints,
    participants: participants(cycle),
    transactionServer: cycle.state.transactionServer,
    unit: 'query',
    send: (b, sql) => b.conn.query(sql),
    failed: (failure, sql, targets) => {
      if (targets === 1 && 'serverError' in failure) throw new MysqlServerError(failure.serverError);
      // Done on some participants and not on others: the transaction cannot go on as one.
      const detail =
        'reason' in failure ? String((failure.reason as Error).message) : failure.serverError.message;
      const error = new ShardgateError('TWO_PHASE_ABORTED', {
        detail: `${sql} failed on a participant: ${detail}`,
      });
      abandonAcrossShards(cycle, error);
      throw error;
    },
    done: () => cycle.session.write(cycle.reply(packet).ok(localStatus(cycle.state)).bytes()),
  });
  return true;
}
