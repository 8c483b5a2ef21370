// Compensate mode or two-phase commit for a session's cross-shard COMMIT, the same for both
// protocols: compensate mode needs the coordinator configured, a session that did not ask for
// two_phase, and a compensation for every write the transaction made.
import type { Logger } from 'pino';
import type { SessionContext } from '../router/inputs.js';
import type { TransactionCompensations } from '../transactions/compensation-notes.js';

/** What the choice reads of a command or query cycle. */
export interface CompensatingSession {
  services: { compensating?: unknown; log: Logger };
  state: { context: SessionContext };
  compensations: TransactionCompensations;
}

/**
 * Each server's compensating statements when the commit may use compensate mode; null:
 * two-phase commit (why is logged at debug when a write has no compensation).
 */
export function compensationsForCommit(
  session: CompensatingSession,
  servers: readonly string[],
): Map<string, string[]> | null {
  if (!session.services.compensating || session.state.context.crossShardTwoPhase) return null;
  const found = session.compensations.forServers(servers);
  if (found instanceof Map) return found;
  session.services.log.debug({ reason: found.reason }, 'cross-shard commit uses two-phase commit');
  return null;
}
