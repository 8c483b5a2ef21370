// Where a session's open transaction runs, as the router reads it (RoutingSession): the shard and
// server its first statement chose and whether it is READ ONLY. Both protocols' session states
// carry these fields and drop them together when the transaction leaves its server.
import type { RoutingSession } from '../router/inputs.js';

export type TransactionPlacement = Pick<
  RoutingSession,
  'transactionShard' | 'transactionServer' | 'transactionReadOnly'
>;

/** The session's transaction no longer holds a shard or server (ended, lost, or reset). */
export function clearTransactionPlacement(state: TransactionPlacement): void {
  state.transactionShard = null;
  state.transactionServer = null;
  state.transactionReadOnly = false;
}
