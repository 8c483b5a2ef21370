// COMMIT of a MySQL transaction that wrote on several shards in compensate mode (the twin of
// src/protocol/postgres/compensating-commit.ts; the coordinator is src/transactions/compensating.ts).
// No XA PREPARE: the home commits its plain transaction, each XA participant ends and commits
// its XA transaction in one phase, each with its commit mark inserted just before.
import type { CompensateOutcome, CompensatingParticipant } from '../../transactions/compensating.js';
import { commitMarkSqlMysql } from '../../transactions/mysql-compensation-store.js';
import { mysqlText } from '../../transactions/mysql-two-phase.js';
import { DefiniteFailure } from '../../transactions/two-phase.js';
import { compensationsForCommit } from '../compensate-choice.js';
import type { CommandCycle } from './command-cycle.js';
import type { CrossShardTransaction } from './distributed-commit.js';
import type { CollectedResponse } from './result-collector.js';
import type { MysqlBinding } from './server-binding.js';

const ER_TABLEACCESS_DENIED = 1142;

/**
 * Each writer's compensating statements when the transaction may commit in compensate mode;
 * null: two-phase commit (a write without a compensation, or a session that asked for two_phase).
 */
export function compensationsOf(
  cycle: CommandCycle,
  writers: readonly MysqlBinding[],
): Map<string, string[]> | null {
  return compensationsForCommit(
    cycle,
    writers.map((w) => w.serverName),
  );
}

/** Commits `writers` in compensate mode (readers are committed before). */
export async function commitCompensating(
  cycle: CommandCycle,
  cross: CrossShardTransaction,
  writers: readonly MysqlBinding[],
  compensations: Map<string, string[]>,
  learnGtid: (b: MysqlBinding, r: CollectedResponse) => void,
  rollBackAll: () => Promise<unknown>,
): Promise<CompensateOutcome> {
  return cycle.services.compensating!.commitSession(
    writers.map((w) => participant(cross, w, compensations.get(w.serverName) ?? [], learnGtid)),
    rollBackAll,
  );
}

function participant(
  cross: CrossShardTransaction,
  b: MysqlBinding,
  compensations: string[],
  learnGtid: (b: MysqlBinding, r: CollectedResponse) => void,
): CompensatingParticipant {
  const xid = mysqlText(cross.gid);
  const xa = cross.xa.has(b.serverName);
  const undo = xa ? `XA END ${xid}; XA ROLLBACK ${xid}` : 'ROLLBACK';
  return {
    server: b.serverName,
    shard: b.shard,
    compensations,
    async commitWithMark(id) {
      const commit = xa ? `XA END ${xid}; XA COMMIT ${xid} ONE PHASE` : 'COMMIT';
      const r = await b.conn.query(`${commitMarkSqlMysql(id)}; ${commit}`);
      if (r.error) {
        // The first failing statement stops the rest; a failed XA COMMIT ONE PHASE rolled back.
        await b.conn.query(undo).catch(() => undefined);
        const grant =
          r.error.errno === ER_TABLEACCESS_DENIED
            ? `; the commit mark is written by the session's own identity on ${b.serverName}: grant it INSERT on shardgate_twopc.compensation_marks`
            : '';
        throw new DefiniteFailure(`${r.error.message} (errno ${r.error.errno})${grant}`);
      }
      learnGtid(b, r);
    },
    async rollback() {
      await b.conn.query(undo);
    },
  };
}
