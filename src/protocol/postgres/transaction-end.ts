// The end of a transaction on a session's server connections, shared by two-phase commit
// (distributed-commit.ts) and compensating commit (compensating-commit.ts): its own module so the
// two do not import each other.

import { DefiniteFailure } from '../../transactions/two-phase.js';
import { clearTransactionPlacement } from '../transaction-placement.js';
import type { QueryCycle } from './query-cycle.js';
import type { ServerBinding } from './server-binding.js';

/**
 * Whether the session's connection on the log's server may carry the decision: only when it is
 * the log's own identity and database (the service identity's base pool). A user's own role has
 * no right on the log table, and another database holds no log; the log then writes the decision
 * on its own connection and this participant is prepared like the others.
 */
export function carriesDecision(cycle: QueryCycle, binding: ServerBinding): boolean {
  const topology = cycle.services.topology;
  const server = topology.server(binding.serverName);
  return !!server && topology.poolFor(server, cycle.session.backend, cycle.state.database) === server.pool;
}

/** The transaction is over on every participant: the session is idle, its connections go back. */
export function finishTransaction(cycle: QueryCycle, bindings: ServerBinding[], committed: boolean): void {
  const state = cycle.state;
  for (const [k, v] of state.pendingSettings) {
    if (!committed) continue;
    if (v === null) state.settings.delete(k);
    else state.settings.set(k, v);
  }
  if (!committed && state.pendingSettings.size > 0) {
    // Rolled back on the servers too: their connections are reset before anyone reuses them.
    for (const b of bindings) b.conn.dirty = true;
  }
  state.pendingSettings.clear();
  state.txStatus = 'I';
  state.proxyAborted = false;
  state.deferredBegin = null;
  state.beginStatement = null;
  clearTransactionPlacement(state);
  cycle.wroteOn.clear();
  cycle.savepoints.clear();
  for (const b of [...cycle.bindings.values()]) releaseBinding(cycle, b);
}

/** A connection back to its pool unless the session keeps it (session mode, pinned). */
export function releaseBinding(cycle: QueryCycle, binding: ServerBinding): void {
  if (cycle.services.config.pool.mode === 'session' || cycle.state.pinnedReason) return;
  if (cycle.bindings.get(binding.serverName) === binding) cycle.bindings.delete(binding.serverName);
  binding.release();
}

/**
 * Runs `statement; COMMIT` in one round trip: the decision row or the commit mark a commit
 * carries. read_your_writes: the commit's WAL position rides along (the statement after COMMIT
 * runs on its own). On an error the transaction is rolled back and `failure` says what to throw
 * (by default a DefiniteFailure).
 */
export async function commitCarrying(
  cycle: QueryCycle,
  binding: ServerBinding,
  statement: string,
  failure: (error: { code: string; message: string }) => Error | null = () => null,
): Promise<void> {
  const probe = cycle.services.topology.hasReplicas(binding.shard);
  const r = await binding.runInternal(
    `${statement}; COMMIT${probe ? '; SELECT pg_catalog.pg_current_wal_lsn()::text' : ''}`,
  );
  if (r.error) {
    await binding.runInternal('ROLLBACK').catch(() => undefined);
    throw failure(r.error) ?? new DefiniteFailure(`${r.error.message} (SQLSTATE ${r.error.code})`);
  }
  // The statement succeeded, so the transaction had not failed: COMMIT either committed or raised an error.
  if (!probe && r.tag !== 'COMMIT')
    throw new DefiniteFailure(`the transaction was rolled back (${r.tag ?? 'no tag'})`);
  const lsn = probe ? r.rows[0]?.[0] : undefined;
  if (lsn) cycle.state.lastWritePositions.set(binding.shard, lsn);
}
