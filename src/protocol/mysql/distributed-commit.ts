// A MySQL transaction that spans shards (the MariaDB driver of src/transactions/two-phase.ts).
// MariaDB cannot make a transaction already begun an XA transaction, so the shard the
// transaction began on keeps its plain transaction (the home: the decision is written there,
// inside its COMMIT), and each shard it joins starts with XA START <gid> before its first
// statement. At COMMIT: shards only read are committed at once; with one shard written it is
// committed alone (XA COMMIT ... ONE PHASE for an XA one); with two or more the coordinator
// prepares the XA participants (XA END; XA PREPARE) and commits the home with the decision, or
// writes the decision on its own when the home only read. ROLLBACK rolls back everywhere.
// Statements that would end the transaction on one shard only (DDL, BEGIN, SET autocommit, XA)
// are refused while it spans shards; savepoints go to every participant (cross-shard-savepoints.ts).

import { ShardgateError } from '../../errors.js';
import type { PlannedStatement } from '../../router/router.js';
import { type CompensateOutcome, compensateOutcomeError } from '../../transactions/compensating.js';
import {
  checkMysql,
  commitDecisionSqlMysql,
  MAX_XA_GID_BYTES,
  mysqlGid,
  mysqlText,
  withMysqlPool,
} from '../../transactions/mysql-two-phase.js';
import { isSavepointAction } from '../../transactions/savepoints.js';
import {
  type CommitOutcome,
  type DecisionCarrier,
  DecisionTaken,
  DefiniteFailure,
  type Participant,
} from '../../transactions/two-phase.js';
import { clearTransactionPlacement } from '../transaction-placement.js';
import type { CommandCycle } from './command-cycle.js';
import { commitCompensating, compensationsOf } from './compensating-commit.js';
import { STATUS } from './constants.js';
import type { LogicalPacket } from './packet-framer.js';
import type { CollectedResponse } from './result-collector.js';
import type { MysqlBinding } from './server-binding.js';
import { localStatus } from './session-state.js';

const ER_DUP_ENTRY = 1062;

/** The open transaction once it spans shards. */
export class CrossShardTransaction {
  /** Servers running the transaction as XA (every participant but the home). */
  readonly xa = new Set<string>();
  /** Variables every participant has while the transaction spans shards (see lockWaitTimeout). */
  readonly vars = new Map<string, string>();

  constructor(
    readonly gid: string,
    /** The server (and shard) the transaction began on: its plain transaction carries the decision. */
    readonly homeServer: string,
    readonly homeShard: string,
  ) {}

  has(server: string): boolean {
    return server === this.homeServer || this.xa.has(server);
  }
}

/** Server connections holding the client's open transaction. */
export function participants(cycle: CommandCycle): MysqlBinding[] {
  const out: MysqlBinding[] = [];
  for (const b of cycle.bindings.values()) if (b.conn.inTransaction) out.push(b);
  return out;
}

/**
 * A statement about to run on `binding` inside a transaction begun elsewhere: the binding joins
 * the transaction as an XA participant (awaited: a statement must never run outside it).
 */
export async function joinAcrossShards(cycle: CommandCycle, binding: MysqlBinding): Promise<void> {
  const state = cycle.state;
  if (!state.inTransaction || state.deferredBegin !== null || binding.conn.inTransaction) return;
  const cross = cycle.cross;
  if (cross?.has(binding.serverName)) {
    // Its transaction ended under it (a deadlock rolled it back): nothing runs outside it.
    throw new ShardgateError('TWO_PHASE_ABORTED', {
      detail: `the transaction on ${binding.serverName} ended on its own`,
    });
  }
  const others = cross ? [] : participants(cycle).filter((b) => b !== binding);
  const home = others.find((b) => b.serverName === state.transactionServer) ?? others[0] ?? null;
  if (!cross && !home) return;
  const twoPhase = cycle.services.twoPhase;
  if (!twoPhase)
    throw new ShardgateError('CROSS_SHARD_TRANSACTION', {
      first: state.transactionShard ?? '',
      second: binding.shard,
    });
  const joined =
    cross ??
    new CrossShardTransaction(mysqlGid(twoPhase.newGid(), home!.shard), home!.serverName, home!.shard);
  if (Buffer.byteLength(joined.gid) > MAX_XA_GID_BYTES)
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: `a transaction spanning shards that began on shard ${joined.homeShard} (its name is too long for an XA transaction id; use shard names of at most 40 characters)`,
    });
  if (!cycle.savepoints.known)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: 'joining another shard after a query with several statements and a savepoint failed part way',
      shards: joined.homeShard,
    });
  const timeout = cross ? null : lockWaitTimeout(cycle);
  const set = timeout ? `SET SESSION innodb_lock_wait_timeout = ${timeout}; ` : '';
  // The active savepoints, right after XA START: its state there is its state at each of them.
  const replay = cycle.savepoints
    .replay()
    .map((sp) => `; ${sp}`)
    .join('');
  const [r, atHome] = await Promise.all([
    binding.conn.query(`${set}XA START ${mysqlText(joined.gid)}${replay}`),
    set && home ? home.conn.query(set) : null,
  ]);
  const failed = r.error ?? atHome?.error;
  if (failed)
    throw new ShardgateError('TWO_PHASE_ABORTED', {
      detail: `XA START on ${binding.serverName}: ${failed.message}`,
    });
  if (timeout) joined.vars.set('innodb_lock_wait_timeout', timeout);
  cycle.cross = joined;
  joined.xa.add(binding.serverName);
}

/**
 * transactions.lockTimeoutMs as innodb_lock_wait_timeout (whole seconds): no server sees a
 * deadlock whose cycle crosses shards, the timeout breaks it (docs/transactions.md). A session
 * that set its own keeps it.
 */
function lockWaitTimeout(cycle: CommandCycle): string | null {
  const ms = cycle.services.config.transactions.lockTimeoutMs;
  if (ms <= 0 || cycle.state.vars.has('innodb_lock_wait_timeout')) return null;
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * Statements that would end or split the transaction on one shard only are refused while it spans
 * shards; `endsHere`: COMMIT and ROLLBACK are handled by the caller (a query), else refused too.
 */
export function refuseAcrossShards(
  cycle: CommandCycle,
  statements: readonly PlannedStatement[],
  endsHere: boolean,
): void {
  if (!cycle.cross) return;
  const shards = participants(cycle)
    .map((b) => b.shard)
    .join(', ');
  for (const s of statements) {
    const action = s.facts.transaction?.action;
    const set = s.facts.session;
    const ends = action === 'commit' || action === 'rollback';
    const what =
      action && (!ends || !endsHere)
        ? ends
          ? 'COMMIT or ROLLBACK as a prepared statement (send it as a query)'
          : isSavepointAction(action)
            ? 'SAVEPOINT, ROLLBACK TO or RELEASE as a prepared statement (send it as a query)'
            : s.sql.slice(0, 40)
        : s.facts.kind === 'ddl'
          ? 'DDL (it commits implicitly)'
          : /^\s*xa\b/i.test(s.sql)
            ? 'XA'
            : set?.action === 'set' && set.name === 'autocommit'
              ? 'SET autocommit'
              : /^\s*lock\s+tables?\b/i.test(s.sql)
                ? 'LOCK TABLES (it commits implicitly)'
                : null;
    if (what) throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', { what, shards });
  }
}

/**
 * COMMIT or ROLLBACK of a transaction that spans shards, sent as a query: answered here ('done');
 * 'pass' when the transaction does not span shards or the query does not end it.
 */
export async function endAcrossShards(
  cycle: CommandCycle,
  packet: LogicalPacket,
  statements: readonly PlannedStatement[],
): Promise<'done' | 'pass'> {
  const cross = cycle.cross;
  if (!cross) return 'pass';
  const ends = statements.find((s) => {
    const a = s.facts.transaction?.action;
    return a === 'commit' || a === 'rollback';
  });
  if (!ends) return 'pass';
  const parts = participants(cycle);
  if (statements.length > 1)
    throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
      what: 'COMMIT or ROLLBACK sent together with other statements',
      shards: parts.map((b) => b.shard).join(', '),
    });
  if (ends.facts.transaction!.action === 'rollback') await rollBackAcrossShards(cycle);
  else await commitAcrossShards(cycle);
  cycle.session.write(cycle.reply(packet).ok(localStatus(cycle.state)).bytes());
  return 'done';
}

/** Rolls the open cross-shard transaction back on every participant; the session leaves it. */
export async function rollBackAcrossShards(cycle: CommandCycle): Promise<void> {
  const parts = participants(cycle);
  await rollBackAll(parts, cycle.cross);
  finishTransaction(cycle, parts);
}

/**
 * Commits the open cross-shard transaction (a client's COMMIT, or a shard-key move's own
 * transaction); the session leaves it either way. Throws the coded error of a commit that failed.
 */
export async function commitAcrossShards(cycle: CommandCycle): Promise<void> {
  const cross = cycle.cross!;
  const parts = participants(cycle);
  cycle.committingAcrossShards = true;
  let outcome: CommitOutcome | CompensateOutcome;
  try {
    outcome = await commitAll(cycle, cross, parts);
    finishTransaction(cycle, parts);
  } finally {
    // A client gone during the commit gets its connections given back here.
    cycle.endCrossShardCommit();
  }
  if (!('gid' in outcome)) {
    // Compensate mode: committed, or the coded error of what happened instead.
    const error = compensateOutcomeError(outcome);
    if (error) throw error;
  } else if (outcome.kind === 'committed') {
    if (outcome.unfinished.length > 0)
      cycle.services.log.warn(
        { gid: outcome.gid, servers: outcome.unfinished },
        'XA COMMIT failed after the commit decision; recovery finishes it',
      );
  } else if (outcome.kind === 'aborted') {
    throw new ShardgateError('TWO_PHASE_ABORTED', { detail: outcome.detail });
  } else {
    throw new ShardgateError('TWO_PHASE_OUTCOME_UNKNOWN', { gid: outcome.gid, detail: outcome.detail });
  }
}

/**
 * Readers first, then the writers: alone when one wrote; when several did, in compensate mode
 * when every write has a compensation (compensating-commit.ts), else by two-phase commit.
 */
async function commitAll(
  cycle: CommandCycle,
  cross: CrossShardTransaction,
  parts: MysqlBinding[],
): Promise<CommitOutcome | CompensateOutcome> {
  const wrote = (b: MysqlBinding) => cycle.wroteOn.has(b.serverName);
  const writers = parts.filter(wrote);
  const readers = parts.filter((b) => !wrote(b));
  const ok = (): CommitOutcome => ({ kind: 'committed', gid: cross.gid, unfinished: [] });
  await Promise.allSettled(readers.map((b) => commitOnePhase(cycle, cross, b)));
  if (writers.length === 0) return ok();
  if (writers.length === 1) {
    try {
      await commitOnePhase(cycle, cross, writers[0]!);
      return ok();
    } catch (err) {
      // The server answered: the transaction is rolled back there (nothing else wrote).
      return { kind: 'aborted', gid: cross.gid, detail: (err as Error).message };
    }
  }
  const compensations = compensationsOf(cycle, writers);
  if (compensations)
    return commitCompensating(
      cycle,
      cross,
      writers,
      compensations,
      (b, r) => learnGtid(cycle, b, r),
      () => rollBackAll(writers, cross),
    );
  const home = writers.find((b) => b.serverName === cross.homeServer) ?? null;
  const log = cycle.services.twoPhaseLog!;
  try {
    await log.ready(cross.homeShard);
  } catch (err) {
    await rollBackAll(writers, cross);
    const detail = `the decision log on shard ${cross.homeShard} is unavailable: ${(err as Error).message}`;
    return { kind: 'aborted', gid: cross.gid, detail };
  }
  return cycle.services.twoPhase!.commit(
    writers.filter((b) => b !== home).map((b) => xaParticipant(cycle, b, cross.gid)),
    home ? homeCarrier(cycle, home) : null,
    cross.gid,
  );
}

/** Commits one participant on its own: COMMIT, or XA END + XA COMMIT ... ONE PHASE. */
async function commitOnePhase(
  cycle: CommandCycle,
  cross: CrossShardTransaction,
  b: MysqlBinding,
): Promise<void> {
  const gid = mysqlText(cross.gid);
  const sql = cross.xa.has(b.serverName) ? `XA END ${gid}; XA COMMIT ${gid} ONE PHASE` : 'COMMIT';
  learnGtid(cycle, b, checkOn(b, await b.conn.query(sql)));
}

/** Rolls back every participant; the statements are sent at once (errors ignored: see settle). */
function rollBackAll(parts: readonly MysqlBinding[], cross: CrossShardTransaction | null): Promise<unknown> {
  return Promise.allSettled(
    parts.flatMap((b) => {
      if (!cross?.xa.has(b.serverName)) return [b.conn.query('ROLLBACK')];
      const gid = mysqlText(cross.gid);
      // XA END fails when the server already ended it (a deadlock): the rollback runs either way.
      return [b.conn.query(`XA END ${gid}`), b.conn.query(`XA ROLLBACK ${gid}`)];
    }),
  );
}

/**
 * A participant's transaction was lost or ended under the client (its connection died, a
 * deadlock rolled it back): every other participant is rolled back, so nothing of the
 * transaction commits, and the client hears `error` until it ends the transaction. The session
 * is out of the transaction at once; the connections go back when their rollback is done.
 */
export function abandonAcrossShards(cycle: CommandCycle, error: Error): void {
  const cross = cycle.cross;
  const parts = participants(cycle);
  for (const b of parts) cycle.bindings.delete(b.serverName);
  leaveTransaction(cycle);
  cycle.state.lostTransaction = error;
  void rollBackAll(parts, cross).then(() => {
    for (const b of parts) settle(b);
  });
}

/** A connection after the transaction: back to its pool, or closed when still inside one. */
function settle(b: MysqlBinding): void {
  // A prepared XA transaction left to recovery outlives its closed connection; a reset would end it.
  if (b.conn.inTransaction || b.conn.closed) b.discard();
  else b.release(false);
}

/** An XA participant: XA END + XA PREPARE; XA COMMIT / ROLLBACK from any connection once prepared. */
function xaParticipant(cycle: CommandCycle, b: MysqlBinding, gid: string): Participant {
  const xid = mysqlText(gid);
  const onServer = async (sql: string) => {
    if (!b.conn.closed) {
      learnGtid(cycle, b, checkOn(b, await b.conn.query(sql)));
      return;
    }
    // The connection is gone: the prepared transaction outlives it (MariaDB 10.5+).
    await withMysqlPool(b.server.pool, async (c) => checkOn(b, await c.query(sql)));
  };
  return {
    server: b.serverName,
    shard: b.shard,
    async prepare() {
      checkOn(b, await b.conn.query(`XA END ${xid}; XA PREPARE ${xid}`));
    },
    commitPrepared: () => onServer(`XA COMMIT ${xid}`),
    rollbackPrepared: () => onServer(`XA ROLLBACK ${xid}`),
  };
}

/** The home participant: INSERT the decision and COMMIT its plain transaction in one round trip. */
function homeCarrier(cycle: CommandCycle, b: MysqlBinding): DecisionCarrier {
  return {
    server: b.serverName,
    shard: b.shard,
    prepare: () => Promise.reject(new Error('the home participant is not prepared')),
    commitPrepared: () => Promise.resolve(),
    rollbackPrepared: () => Promise.resolve(),
    async commitWithDecision(gid, servers) {
      const r = await b.conn.query(`${commitDecisionSqlMysql(gid, servers)}; COMMIT`);
      if (r.error) {
        // The first failing statement stops the rest: COMMIT did not run.
        await b.conn.query('ROLLBACK').catch(() => undefined);
        if (r.error.errno === ER_DUP_ENTRY) throw new DecisionTaken(gid);
        throw new DefiniteFailure(
          `${r.error.message} (errno ${r.error.errno}); the decision is written by the session's own identity on ${b.serverName}: grant it INSERT on shardgate_twopc.decisions`,
        );
      }
      learnGtid(cycle, b, r);
    },
    async rollback() {
      await b.conn.query('ROLLBACK');
    },
  };
}

function checkOn(b: MysqlBinding, r: CollectedResponse): CollectedResponse {
  try {
    return checkMysql(r);
  } catch (err) {
    throw new Error(`${b.serverName}: ${(err as Error).message}`);
  }
}

/** read_your_writes: the commit's GTID, as the ordinary path learns it from session tracking. */
function learnGtid(cycle: CommandCycle, b: MysqlBinding, r: CollectedResponse): void {
  if (b.role !== 'primary') return;
  for (const set of r.results) {
    const gtid = set.ok?.session?.variables.find((v) => v[0] === 'last_gtid')?.[1];
    if (gtid) cycle.state.lastWritePositions.set(b.shard, gtid);
  }
}

/** The session is out of the transaction (its connections are another matter). */
function leaveTransaction(cycle: CommandCycle): void {
  const state = cycle.state;
  state.inTransaction = false;
  state.status &= ~STATUS.IN_TRANS;
  state.deferredBegin = null;
  clearTransactionPlacement(state);
  cycle.cross = null;
  cycle.wroteOn.clear();
  cycle.compensations.clear();
  cycle.savepoints.clear();
  cycle.crossShardRefusedBy = null;
}

/** The transaction is over on every participant: its connections go back (or are closed, see settle). */
function finishTransaction(cycle: CommandCycle, parts: readonly MysqlBinding[]): void {
  leaveTransaction(cycle);
  for (const b of parts) {
    if (b.conn.inTransaction || b.conn.closed) {
      cycle.bindings.delete(b.serverName);
      settle(b);
    }
  }
  for (const b of [...cycle.bindings.values()]) cycle.releaseIfFree(b);
}
