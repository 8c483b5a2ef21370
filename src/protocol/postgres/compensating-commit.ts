// COMMIT of a PostgreSQL transaction that wrote on several shards in compensate mode: every
// data type it wrote chose crossShard: compensate and every write has a compensating statement
// (src/transactions/compensation-notes.ts). Each shard commits on its own, no PREPARE; the
// coordinator (src/transactions/compensating.ts) undoes committed shards when a later one fails.
import { type CompensatingParticipant, compensateOutcomeError } from '../../transactions/compensating.js';
import { commitMarkSql } from '../../transactions/pg-compensation-store.js';
import { compensationsForCommit } from '../compensate-choice.js';
import type { LocalResponder } from './local-responder.js';
import type { QueryCycle } from './query-cycle.js';
import type { ServerBinding } from './server-binding.js';
import { carriesDecision, commitCarrying, finishTransaction } from './transaction-end.js';

/**
 * Each writer's compensating statements when the transaction may commit in compensate mode;
 * null: two-phase commit (a write without a compensation, a session that asked for two_phase,
 * or a writer on another identity than the service one, which the marks and compensations use).
 */
export function compensationsOf(
  cycle: QueryCycle,
  writers: readonly ServerBinding[],
): Map<string, string[]> | null {
  const found = compensationsForCommit(
    cycle,
    writers.map((w) => w.serverName),
  );
  if (found === null || !writers.every((w) => carriesDecision(cycle, w))) return null;
  return found;
}

export async function commitCompensating(
  cycle: QueryCycle,
  writers: ServerBinding[],
  compensations: Map<string, string[]>,
  responder: LocalResponder,
): Promise<void> {
  const outcome = await cycle.services.compensating!.commitSession(
    writers.map((w) => participant(cycle, w, compensations.get(w.serverName) ?? [])),
    () => Promise.allSettled(writers.map((b) => b.runInternal('ROLLBACK'))),
  );
  finishTransaction(cycle, writers, outcome.kind === 'committed');
  const error = compensateOutcomeError(outcome);
  if (error) responder.fail(error, 'I');
  else responder.complete('COMMIT', cycle);
}

function participant(
  cycle: QueryCycle,
  binding: ServerBinding,
  compensations: string[],
): CompensatingParticipant {
  return {
    server: binding.serverName,
    shard: binding.shard,
    compensations,
    commitWithMark: (id) => commitCarrying(cycle, binding, commitMarkSql(id)),
    async rollback() {
      await binding.runInternal('ROLLBACK');
    },
  };
}
