// The end of a PostgreSQL transaction that spans shards. COMMIT with two or more shards written
// runs two-phase commit (src/transactions/two-phase.ts) over the session's server connections;
// shards only read are committed plainly first; with one shard written, its COMMIT then takes
// the ordinary path (no added round trip). ROLLBACK rolls back every participant. What cannot
// span shards (PREPARE TRANSACTION, COMMIT sent with other statements) is refused with a coded error.
import { ShardgateError } from '../../errors.js';
import { commitDecisionSql, sqlText, withPool } from '../../transactions/pg-two-phase.js';
import {
  type CommitOutcome,
  type DecisionCarrier,
  DecisionTaken,
  type Participant,
} from '../../transactions/two-phase.js';
import { commitCompensating, compensationsOf } from './compensating-commit.js';
import type { LocalResponder } from './local-responder.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import type { ServerBinding } from './server-binding.js';
import { carriesDecision, commitCarrying, finishTransaction, releaseBinding } from './transaction-end.js';

// Savepoints go to every participant (cross-shard-savepoints.ts runs them before this).
const SINGLE_SHARD_ONLY = new Set(['prepare', 'commit_prepared', 'rollback_prepared']);

/** Server connections holding the client's open transaction (the server is in a transaction). */
export function participants(cycle: QueryCycle): ServerBinding[] {
  const out: ServerBinding[] = [];
  for (const b of cycle.bindings.values()) if (b.tracker.status !== 0x49) out.push(b);
  return out;
}

/**
 * Handles a unit of a transaction that spans shards when it ends the transaction. Returns
 * 'done' (answered), 'replan' (readers committed; plan the unit again: its COMMIT now goes to the
 * one shard left), or 'pass' (not ours: run the unit as usual).
 */
export async function endAcrossShards(
  cycle: QueryCycle,
  statements: PlannedStatement[],
  responder: LocalResponder,
): Promise<'done' | 'replan' | 'pass'> {
  const parts = participants(cycle);
  if (parts.length < 2) return 'pass';
  const shards = parts.map((p) => p.shard).join(', ');
  let ends: 'commit' | 'rollback' | null = null;
  for (const s of statements) {
    const action = s.facts.transaction?.action;
    if (action && SINGLE_SHARD_ONLY.has(action))
      throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', { what: s.sql.slice(0, 40), shards });
    if (action === 'commit' || action === 'rollback') ends = action;
  }
  if (ends === null) return 'pass';
  if (statements.length > 1)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: 'COMMIT or ROLLBACK sent together with other statements',
      shards,
    });
  const state = cycle.state;
  if (ends === 'rollback' || state.txStatus === 'E') {
    await Promise.allSettled(parts.map((b) => b.runInternal('ROLLBACK')));
    finishTransaction(cycle, parts, false);
    responder.complete('ROLLBACK', cycle);
    return 'done';
  }
  const writers = parts.filter((b) => cycle.wroteOn.has(b.serverName));
  // The one connection that keeps the client's COMMIT (ordinary path): the writer, else the last used.
  const keep =
    writers.length > 1
      ? null
      : (writers[0] ?? parts.find((b) => b.serverName === state.transactionServer) ?? parts[0]!);
  const readers = parts.filter((b) => b !== keep && !writers.includes(b));
  await Promise.allSettled(readers.map((b) => b.runInternal('COMMIT')));
  for (const b of readers) releaseBinding(cycle, b);
  if (keep) {
    state.transactionShard = keep.shard;
    state.transactionServer = keep.serverName;
    return 'replan';
  }
  const compensations = compensationsOf(cycle, writers);
  if (compensations) {
    cycle.committingAcrossShards = true;
    try {
      await commitCompensating(cycle, writers, compensations, responder);
    } finally {
      cycle.endCrossShardCommit();
    }
    return 'done';
  }
  const failure = twoPhaseFailure(await commitWriters(cycle, writers));
  if (failure) responder.fail(failure, 'I');
  else responder.complete('COMMIT', cycle);
  return 'done';
}

/** What a cross-shard commit came to (the coordinator's outcome). */
export type CrossShardOutcome = CommitOutcome;

/**
 * Two-phase commit of the `writers` (every other connection of the transaction already
 * committed). Afterwards the transaction is over on every connection of the session, which go
 * back to their pools (those of a client that left during it too).
 */
export async function commitWriters(cycle: QueryCycle, writers: ServerBinding[]): Promise<CrossShardOutcome> {
  cycle.committingAcrossShards = true;
  try {
    return await commitAcrossShards(cycle, writers);
  } finally {
    cycle.endCrossShardCommit();
  }
}

/** The client's error for a two-phase commit that did not commit (null: committed). */
export function twoPhaseFailure(outcome: CrossShardOutcome): ShardgateError | null {
  if (outcome.kind === 'committed') return null;
  if (outcome.kind === 'aborted') return new ShardgateError('TWO_PHASE_ABORTED', { detail: outcome.detail });
  return new ShardgateError('TWO_PHASE_OUTCOME_UNKNOWN', { gid: outcome.gid, detail: outcome.detail });
}

async function commitAcrossShards(cycle: QueryCycle, writers: ServerBinding[]): Promise<CrossShardOutcome> {
  const outcome = await twoPhaseCommit(cycle, writers);
  finishTransaction(cycle, writers, outcome.kind === 'committed');
  if (outcome.kind === 'committed' && outcome.unfinished.length > 0)
    cycle.services.log.warn(
      { gid: outcome.gid, servers: outcome.unfinished },
      'COMMIT PREPARED failed after the commit decision; recovery finishes it',
    );
  return outcome;
}

/**
 * Two-phase commit of the open transactions on `writers` (two or more server connections of this
 * session); also the commit of a COPY FROM split over shards (copy-in-runner.ts).
 */
export async function twoPhaseCommit(cycle: QueryCycle, writers: ServerBinding[]): Promise<CommitOutcome> {
  const coordinator = cycle.services.twoPhase!;
  const log = cycle.services.twoPhaseLog!;
  try {
    // The written shard where the decision log lives commits last, with the decision in its commit.
    await log.ready();
    const carrier = writers.find((b) => b.serverName === log.server() && carriesDecision(cycle, b)) ?? null;
    return await coordinator.commit(
      writers.filter((b) => b !== carrier).map((b) => pgParticipant(cycle, b)),
      carrier ? pgCarrier(cycle, carrier) : null,
    );
  } catch (err) {
    // The decision table could not be created: nothing was prepared yet.
    await Promise.allSettled(writers.map((b) => b.runInternal('ROLLBACK')));
    return { kind: 'aborted', gid: '', detail: `the decision log is unavailable: ${(err as Error).message}` };
  }
}

/**
 * A session's server connection as a two-phase participant; after PREPARE any connection of the
 * session's identity to its server will do (only the role that prepared it, or a superuser, may finish it).
 */
function pgParticipant(cycle: QueryCycle, binding: ServerBinding): Participant {
  const topology = cycle.services.topology;
  const onServer = async (sql: string): Promise<void> => {
    if (!binding.lost) {
      const r = await binding.runInternal(sql);
      if (r.error) throw new Error(`${r.error.message} (SQLSTATE ${r.error.code})`);
      return;
    }
    const server = topology.server(binding.serverName);
    if (!server) throw new Error(`server ${binding.serverName} left the topology`);
    await withPool(topology.poolFor(server, cycle.session.backend, cycle.state.database), async (c) => {
      const r = await c.query(sql);
      if (r.error) throw new Error(`${r.error.message} (SQLSTATE ${r.error.code})`);
    });
  };
  return {
    server: binding.serverName,
    shard: binding.shard,
    async prepare(gid) {
      const r = await binding.runInternal(`PREPARE TRANSACTION ${sqlText(gid)}`);
      if (r.error) throw new Error(`${r.error.message} (SQLSTATE ${r.error.code})`);
      // A transaction that had already failed is rolled back by PREPARE, without an error.
      if (r.tag !== 'PREPARE TRANSACTION')
        throw new Error(`the transaction was rolled back (${r.tag ?? 'no tag'})`);
    },
    async commitPrepared(gid) {
      await onServer(`COMMIT PREPARED ${sqlText(gid)}`);
      await learnCommitPosition(cycle, binding);
    },
    rollbackPrepared: (gid) => onServer(`ROLLBACK PREPARED ${sqlText(gid)}`),
  };
}

/**
 * read_your_writes: the commit's WAL position where replicas may serve the next read (as the
 * ordinary path learns it). Committed either way: a connection lost here is given up like one
 * lost after an ordinary COMMIT.
 */
export async function learnCommitPosition(cycle: QueryCycle, binding: ServerBinding): Promise<void> {
  if (binding.lost || !cycle.services.topology.hasReplicas(binding.shard)) return;
  try {
    const lsn = (await binding.runInternal('SELECT pg_catalog.pg_current_wal_lsn()::text')).rows[0]?.[0];
    if (lsn) cycle.state.lastWritePositions.set(binding.shard, lsn);
  } catch {
    // The transaction is committed; the position stays the one known before.
  }
}

/** The participant on the decision log's server: INSERT the decision and COMMIT, one round trip. */
function pgCarrier(cycle: QueryCycle, binding: ServerBinding): DecisionCarrier {
  return {
    ...pgParticipant(cycle, binding),
    commitWithDecision: (gid, servers) =>
      commitCarrying(cycle, binding, commitDecisionSql(gid, servers), (e) =>
        e.code === '23505' ? new DecisionTaken(gid) : null,
      ),
    async rollback() {
      await binding.runInternal('ROLLBACK');
    },
  };
}
