// The command phase of a MySQL session: one command at a time (pipelined commands queue), each
// planned by the shared Router and run on one backend connection (its packets relayed as they
// came: the fast path), on several shards and merged (scatter-runner.ts), or answered by
// shardgate itself. Transaction pooling: a backend connection is held while the server says
// the session is in a transaction, or while the session is pinned; otherwise it goes back to
// the pool after every command. A lost server connection (server-loss.ts, shared with the
// PostgreSQL side) ends the command or the transaction, not the session, in transaction pooling;
// a read nobody saw a byte of runs again elsewhere.

import type { BackendIdentity } from '../../backend/identity.js';
import { databaseNames } from '../../backend/identity.js';
import { UNREPLAYED_VARIABLES } from '../../backend/mysql-server-connection.js';
import type { MysqlRuntimeServer } from '../../backend/mysql-topology.js';
import { commitsTransaction, serverLossError, writesData } from '../../backend/server-loss.js';
import { giveServerSlot, takeServerSlot, userServerLimit } from '../../backend/user-quota.js';
import { ShardgateError, toShardgateError } from '../../errors.js';
import type { GateParticipant } from '../../migration/cutover-gate.js';
import { WriteAdmissions } from '../../migration/write-admissions.js';
import { writeShards } from '../../migration/write-shards.js';
import type { RoutingSession } from '../../router/inputs.js';
import type { RouteTarget } from '../../router/plan.js';
import { refusalIn } from '../../router/planner-context.js';
import type { PlannedStatement } from '../../router/router.js';
import { chooseTarget } from '../../router/unit-target.js';
import { TransactionCompensations } from '../../transactions/compensation-notes.js';
import {
  isSavepointAction,
  MYSQL_SAVEPOINTS,
  SavepointStack,
  type SavepointStatement,
} from '../../transactions/savepoints.js';
import { type BacklogOwner, ClientBacklog } from '../client-backlog.js';
import { IdleTransactionTimer } from '../idle-transaction-timer.js';
import { requireSentAlone } from '../sent-alone.js';
import { clearTransactionPlacement } from '../transaction-placement.js';
import { CAP, COM, STATUS } from './constants.js';
import { savepointAcrossShards } from './cross-shard-savepoints.js';
import {
  abandonAcrossShards,
  type CrossShardTransaction,
  endAcrossShards,
  joinAcrossShards,
  participants,
  refuseAcrossShards,
} from './distributed-commit.js';
import { checkLostTransaction, recoveringFromLoss } from './fault-recovery.js';
import { runJoin } from './join-runner.js';
import { runKeyMove } from './key-move-runner.js';
import { applyKill, killCommand, type LeadingKills, leadingKills, parseKill, runKill } from './kill.js';
import { answerLocally, setOption, statistics } from './local-answers.js';
import type { LogicalPacket } from './packet-framer.js';
import { framePayload, PacketReader } from './packet-io.js';
import { PreparedStatements } from './prepared-statements.js';
import { RelayHandler, type RelayOutcome } from './relay-handler.js';
import { RelayOutput } from './relay-output.js';
import { ReplyWriter } from './reply-writer.js';
import type { ResponseShape } from './response-scanner.js';
import { encodeErr } from './responses.js';
import { runScatter } from './scatter-runner.js';
import { MysqlBinding, MysqlServerError } from './server-binding.js';
import type { MysqlServices } from './services.js';
import {
  foundRows,
  localStatus,
  type MysqlSessionState,
  nextInTransaction,
  routingSession,
} from './session-state.js';
import { noteCollation, pins } from './statement-rules.js';
import { ClientWaitTimeout } from './wait-timeout.js';

/** What the cycle needs of its session. */
export interface CycleSession {
  readonly state: MysqlSessionState;
  /** Who the session is on the servers (identity.ts). */
  readonly backend: BackendIdentity;
  write(bytes: Buffer): void;
  /** Writes between cork and uncork leave in one syscall (client-connection.ts). */
  cork(): void;
  uncork(): void;
  fail(err: ShardgateError): void;
  close(): void;
  /** COM_CHANGE_USER: re-authenticates; resolves when the exchange is over (either way). */
  changeUser(packet: LogicalPacket): Promise<void>;
  /** Charset variables for a collation id. */
  charsetVars(collation: number): Array<[string, string]>;
  /** Backpressure: the client has unread bytes past its socket's high-water mark. */
  readonly needsDrain: boolean;
  onDrained(resume: () => void): void;
  pauseReading(): void;
  resumeReading(): void;
}

/** A command running on a server connection: what its loss means, and how to report it. */
interface Inflight {
  reject: (err: Error) => void;
  statements: readonly PlannedStatement[];
  /** Some of its response already reached the client (it cannot be run again). */
  clientSawBytes: boolean;
}

/** A command's bytes in the client's stream. */
const packetBytes = (packet: LogicalPacket) => packet.raw.length;

/** Plans a statement again (after its server was lost, so the plan may pick another). */
type Replan = () => { statements: PlannedStatement[]; target: RouteTarget };

export class CommandCycle implements GateParticipant, BacklogOwner<LogicalPacket> {
  /** Commands received and not yet run; past limits.maxPendingClientBytes the client is not read. */
  private readonly queue: ClientBacklog<LogicalPacket>;
  private clientGone = false;
  /** Backend connections this session holds (transaction, pinned, session pooling). */
  readonly bindings = new Map<string, MysqlBinding>();
  /** Commands in flight on a backend connection: failed if the connection dies. */
  private readonly inflight = new Map<MysqlBinding, Inflight>();
  readonly statements: PreparedStatements;
  /** The open transaction once it spans shards (distributed-commit.ts). */
  cross: CrossShardTransaction | null = null;
  /** Servers the open transaction wrote on (two-phase commit prepares these, commits the rest plainly). */
  readonly wroteOn = new Set<string>();
  /** What undoes each write of the open transaction (crossShard: compensate). */
  readonly compensations = new TransactionCompensations();
  /** The open transaction's savepoints: a shard it joins gets them (src/transactions/savepoints.ts). */
  readonly savepoints = new SavepointStack(MYSQL_SAVEPOINTS);
  /** A two-phase COMMIT is running on this session's connections: nobody else may touch them. */
  committingAcrossShards = false;
  /** A data type with crossShard: refuse the open transaction touched (it stays on one shard). */
  crossShardRefusedBy: string | null = null;
  /** Closes the session when it stays idle inside a transaction (pool.idleTransactionTimeoutMs). */
  private readonly idleTimer = new IdleTransactionTimer(
    () => this.services.config.pool.idleTransactionTimeoutMs,
    (ms) => this.session.fail(new ShardgateError('IDLE_TRANSACTION_TIMEOUT', { ms })),
  );
  /** Closes the session after the wait_timeout the client set (wait-timeout.ts). */
  private readonly waitTimeout = new ClientWaitTimeout(() =>
    this.session.fail(new ShardgateError('CLIENT_WAIT_TIMEOUT')),
  );

  /** The cutover write admissions this session holds, until its transaction ends. */
  private readonly writes: WriteAdmissions;
  /** A cutover aborted the transaction while a command ran: applied when the command ends. */
  private cutoverAbort: { shards: readonly string[]; error: ShardgateError } | null = null;
  /** A KILL QUERY came while the running command was not on a server yet (see killRunning). */
  private killBeforeSent = false;
  /** The running command has reached a server (see killRunning). */
  private commandSent = false;

  constructor(
    readonly session: CycleSession,
    readonly services: MysqlServices,
  ) {
    this.queue = new ClientBacklog(
      session,
      this,
      () => services.config.limits.maxPendingClientBytes,
      packetBytes,
    );
    this.statements = new PreparedStatements(this);
    this.writes = new WriteAdmissions(services.cutover, this);
    services.cutover.register(this);
  }

  get state(): MysqlSessionState {
    return this.session.state;
  }

  /** One client command packet (the framer joined any 16 MB continuations). */
  onPacket(packet: LogicalPacket): void {
    this.idleTimer.disarm();
    this.waitTimeout.disarm();
    if (packet.seq !== 0) {
      throw new ShardgateError('MYSQL_PACKETS_OUT_OF_ORDER', { expected: 0, got: packet.seq });
    }
    this.queue.add(packet);
    // A command always comes whole here, so the queue is never stuck.
    this.queue.pauseIfOverLimit();
    this.queue.start();
  }

  get clientLeft(): boolean {
    return this.clientGone;
  }

  // The backlog's commands, one at a time (client-backlog.ts).
  startingQueued(): void {
    this.commandSent = false;
  }

  runQueued(packet: LogicalPacket): Promise<void> {
    return this.run(packet);
  }

  ranQueued(): void {
    this.killBeforeSent = false;
    this.afterCommandForCutover();
  }

  backlogIdle(): void {
    this.killBeforeSent = false;
    // A transaction holding a server connection, and nothing to run: the client has this long.
    this.idleTimer.arm(
      !this.clientGone && this.queue.length === 0 && this.state.inTransaction && this.bindings.size > 0,
    );
    if (!this.clientGone && this.queue.length === 0) this.waitTimeout.arm(this.state.vars);
  }

  reply(packet: LogicalPacket): ReplyWriter {
    return new ReplyWriter((packet.lastSeq + 1) & 0xff, this.state.capabilities, this.state.extendedMetadata);
  }

  private async run(packet: LogicalPacket): Promise<void> {
    const command = packet.payload[0];
    try {
      switch (command) {
        case COM.QUERY:
          this.state.questions++;
          await this.query(packet);
          return;
        case COM.STMT_PREPARE:
          await this.statements.prepare(packet);
          return;
        case COM.STMT_EXECUTE:
          this.state.questions++;
          await this.statements.execute(packet);
          return;
        case COM.STMT_CLOSE:
          this.statements.close(packet);
          return;
        case COM.STMT_RESET:
          this.statements.reset(packet);
          return;
        case COM.STMT_SEND_LONG_DATA:
          this.statements.longData(packet);
          return;
        case COM.STMT_FETCH:
          throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
            detail: 'server-side cursors (COM_STMT_FETCH); execute without a cursor type',
          });
        case COM.PING:
          this.session.write(this.reply(packet).ok(localStatus(this.state)).bytes());
          return;
        case COM.QUIT:
          this.session.close();
          return;
        case COM.INIT_DB:
          await this.initDb(packet);
          return;
        case COM.FIELD_LIST:
          await this.onSessionServer(packet, 'field-list');
          return;
        case COM.RESET_CONNECTION:
          this.resetSession();
          this.session.write(this.reply(packet).ok(localStatus(this.state)).bytes());
          return;
        case COM.CHANGE_USER:
          this.resetSession();
          await this.session.changeUser(packet);
          return;
        case COM.SET_OPTION:
          setOption(this, packet);
          return;
        case COM.STATISTICS:
          statistics(this, packet);
          return;
        case COM.PROCESS_KILL: {
          const id = new PacketReader(packet.payload, 1).u32('the connection id');
          await runKill(this, packet, { query: false, id });
          return;
        }
        default:
          throw new ShardgateError('UNKNOWN_COMMAND', {
            detail: `0x${(command ?? 0).toString(16).padStart(2, '0')}`,
          });
      }
    } catch (err) {
      this.replyError(packet, err);
    }
  }

  /** Reports a failed command: the server's own ERR, or a shardgate error (fatal ones close). */
  replyError(packet: LogicalPacket, err: unknown): void {
    if (err instanceof MysqlServerError) {
      const w = this.reply(packet);
      this.session.write(w.packet(encodeErr(err.packet)).bytes());
      return;
    }
    const e = toShardgateError(err);
    if (e.fatal) {
      this.session.fail(e);
      return;
    }
    this.session.write(this.reply(packet).error(e).bytes());
  }

  // --- COM_QUERY ------------------------------------------------------------------------------

  private async query(packet: LogicalPacket): Promise<void> {
    const sql = packet.payload.toString('utf8', 1);
    const kill = parseKill(sql);
    if (kill) {
      await runKill(this, packet, kill);
      return;
    }
    const statements = this.services.router.planSimple(sql, this.routing());
    if (statements.length > 1 && !this.state.multiStatements) {
      throw new ShardgateError('SQL_PARSE_ERROR', {
        detail:
          'several statements in one query need the client flag CLIENT_MULTI_STATEMENTS (mysql2: multipleStatements: true); send one statement at a time',
      });
    }
    if (statements.length > 1) {
      const split = leadingKills(sql);
      if (split) {
        await this.killsThenRest(packet, split);
        return;
      }
    }
    this.checkLostTransaction(statements);
    if (answerLocally(this, packet, statements)) return;
    for (const s of statements) {
      if (s.plan.type === 'error') throw new ShardgateError(s.plan.code, s.plan.params);
    }
    const join = statements.find((s) => s.plan.type === 'broadcast-join');
    if (join) {
      requireSentAlone(statements, 'a cross-shard join', 'query');
      await runJoin(this, packet, join);
      return;
    }
    await this.runPlanned(packet, statements, () => this.services.router.planSimple(sql, this.routing()));
  }

  /** Runs one query's planned statements (the client's, or a cross-shard join's rewritten one). */
  async runPlanned(
    packet: LogicalPacket,
    statements: PlannedStatement[],
    plan: () => PlannedStatement[],
  ): Promise<void> {
    if (this.cross) {
      if (await savepointAcrossShards(this, packet, statements)) return;
      refuseAcrossShards(this, statements, true);
      if ((await endAcrossShards(this, packet, statements)) === 'done') return;
    }
    const move = statements.find((s) => s.plan.type === 'key-move');
    if (move) {
      requireSentAlone(statements, 'an UPDATE that moves rows to another shard', 'query');
      if (await this.admitWrites(writeShards(move.plan))) return this.query(packet);
      await runKeyMove(this, packet, move, move.sql);
      return;
    }
    const multi = statements.find((s) => s.plan.type === 'scatter' || s.plan.type === 'split-insert');
    if (multi) {
      requireSentAlone(statements, 'a multi-shard statement', 'query');
      // Held by a cutover: plan again against the topology that is current after it.
      if (await this.admitWrites(writeShards(multi.plan))) return this.query(packet);
      // A write on several shards has no one server to compensate on: two-phase commit then.
      if (nextInTransaction(this.state)) this.compensations.planned(statements);
      await this.recoveringFromLoss(statements, () => runScatter(this, packet, multi, null));
      return;
    }
    const replan = () => {
      const again = plan();
      return { statements: again, target: chooseTarget(again, this.crossShardAllowed) };
    };
    const target = chooseTarget(statements, this.crossShardAllowed);
    await this.runSingleRetrying(packet, packet.raw, 'result', statements, target, replan);
  }

  /**
   * `KILL a; ...`: each KILL answered here (an OK saying more results follow, or the ERR that
   * ends the query, as a server stops at a failing statement), then the rest run as a query of
   * its own whose replies continue the sequence ids.
   */
  private async killsThenRest(packet: LogicalPacket, split: LeadingKills): Promise<void> {
    let at = packet;
    for (let i = 0; i < split.kills.length; i++) {
      try {
        if ((await applyKill(this, split.kills[i]!)) === 'closed') return;
      } catch (err) {
        this.replyError(at, err);
        return;
      }
      const more = i < split.kills.length - 1 || split.rest !== null;
      const reply = this.reply(at).ok(localStatus(this.state) | (more ? STATUS.MORE_RESULTS_EXISTS : 0));
      this.session.write(reply.bytes());
      at = { ...at, lastSeq: reply.nextSeq - 1 };
    }
    if (split.rest === null) return;
    const payload = Buffer.concat([Buffer.of(COM.QUERY), Buffer.from(split.rest, 'utf8')]);
    const rest: LogicalPacket = { seq: 0, lastSeq: at.lastSeq, payload, raw: framePayload(payload, 0) };
    try {
      await this.query(rest);
    } catch (err) {
      this.replyError(rest, err);
    }
  }

  /** What the router needs of the session (session-state.ts), with its cross-shard transaction. */
  routing(): RoutingSession {
    const allowed = this.crossShardAllowed;
    if (!allowed && !this.cross) return routingSession(this.state);
    let servers: Map<string, string> | null = null;
    if (this.cross) {
      servers = new Map();
      for (const b of participants(this)) servers.set(b.shard, b.serverName);
    }
    return routingSession(this.state, { allowed, servers, refusedBy: this.crossShardRefusedBy });
  }

  /** A transaction may join other shards (transactions.crossShard: two_phase). */
  get crossShardAllowed(): boolean {
    return (
      this.services.twoPhase !== undefined && this.services.config.transactions.crossShard === 'two_phase'
    );
  }

  /** See fault-recovery.ts. */
  checkLostTransaction(statements: readonly PlannedStatement[]): void {
    checkLostTransaction(this.state, statements);
  }

  /** See fault-recovery.ts. */
  recoveringFromLoss<T>(
    statements: readonly PlannedStatement[],
    attempt: (n: number) => Promise<T>,
  ): Promise<T> {
    return recoveringFromLoss(this.state, this.services, statements, attempt, () => this.clientGone);
  }

  /** runSingle, with a read that lost its server re-planned and run elsewhere (see recoveringFromLoss). */
  runSingleRetrying(
    packet: LogicalPacket,
    raw: Buffer | ((binding: MysqlBinding) => Buffer | Promise<Buffer>),
    shape: ResponseShape,
    statements: PlannedStatement[],
    target: RouteTarget,
    replan: Replan,
  ): Promise<RelayOutcome> {
    return this.admittedThenRun({ statements, target }, replan, (first) =>
      this.recoveringFromLoss(first.statements, (n) => {
        const plan = n === 0 ? first : replan();
        return this.runSingle(packet, raw, shape, plan.statements, plan.target);
      }),
    );
  }

  /** A write waits at the cutover gate while its shard is held, then is planned again. */
  private admittedThenRun<T>(
    plan: { statements: PlannedStatement[]; target: RouteTarget },
    replan: Replan,
    run: (plan: { statements: PlannedStatement[]; target: RouteTarget }) => Promise<T>,
  ): Promise<T> {
    // A read never waits at the gate: run at once, no promise of its own.
    if (plan.target.role !== 'primary' || !writesData(plan.statements)) return run(plan);
    return this.admittedWriteThenRun(plan, replan, run);
  }

  private async admittedWriteThenRun<T>(
    plan: { statements: PlannedStatement[]; target: RouteTarget },
    replan: Replan,
    run: (plan: { statements: PlannedStatement[]; target: RouteTarget }) => Promise<T>,
  ): Promise<T> {
    let current = plan;
    while (
      current.target.role === 'primary' &&
      writesData(current.statements) &&
      (await this.admitWrites([current.target.shard]))
    )
      current = replan();
    return run(current);
  }

  // --- cutover gate (src/migration/cutover-gate.ts; the same rules as the PostgreSQL side) ------

  /** Takes write admissions on `shards`; true when a cutover held them (plan again, then admit). */
  admitWrites(shards: string[]): Promise<boolean> {
    return this.writes.admit(shards);
  }

  openTransactionShard(): string | null {
    // Set from a transaction's first statement (a deferred BEGIN) until it ends.
    return this.state.transactionShard;
  }

  abortForCutover(shards: readonly string[], error: ShardgateError): void {
    // A two-phase COMMIT finishes on its own (soon) and then releases its write admissions.
    if (this.committingAcrossShards) return;
    if (this.queue.busy) {
      // Stop what runs on those shards; the transaction is ended once the command returns.
      this.cutoverAbort = { shards, error };
      for (const binding of this.inflight.keys()) if (shards.includes(binding.shard)) killQueryOn(binding);
      return;
    }
    this.finishCutoverAbort(shards, error);
  }

  /** After every command: a pending cutover abort, then the write admission once no transaction is open. */
  private afterCommandForCutover(): void {
    const abort = this.cutoverAbort;
    this.cutoverAbort = null;
    if (abort && this.state.transactionShard !== null) this.finishCutoverAbort(abort.shards, abort.error);
    if (this.writes.holding && this.state.transactionShard === null && !this.cross) this.writes.release();
  }

  /**
   * Rolls the transaction back on its server (the connection is kept: session state lives on it);
   * the client's next statement gets `error` (40001, errno 1213) until it ends the transaction.
   */
  private finishCutoverAbort(shards: readonly string[], error: ShardgateError): void {
    const state = this.state;
    if (this.cross) abandonAcrossShards(this, error);
    else if (state.transactionShard !== null && shards.includes(state.transactionShard)) {
      const binding = state.transactionServer ? this.bindings.get(state.transactionServer) : undefined;
      state.inTransaction = false;
      state.deferredBegin = null;
      clearTransactionPlacement(state);
      state.lostTransaction = error;
      this.wroteOn.clear();
      this.savepoints.clear();
      if (binding) {
        this.pipelined(binding, 'ROLLBACK');
        this.releaseIfFree(binding);
      }
    }
    this.writes.release();
  }

  /** COM_INIT_DB: config may restrict databases; the server says whether the database exists. */
  private async initDb(packet: LogicalPacket): Promise<void> {
    const database = packet.payload.toString('utf8', 1);
    const allowed = databaseNames(this.services.config);
    if (allowed.length > 0 && !allowed.includes(database)) {
      throw new ShardgateError('UNKNOWN_DATABASE', { database, known: allowed.join(', ') });
    }
    await this.onSessionServer(packet, 'result');
  }

  /** A command that touches no table data: the session's server, else the default primary. */
  private async onSessionServer(packet: LogicalPacket, shape: ResponseShape): Promise<void> {
    const planned = this.services.router.planUtilityOnDefault(this.routing());
    if (planned.plan.type !== 'single')
      throw new ShardgateError('INTERNAL', { detail: 'no server for a command' });
    await this.runSingle(packet, packet.raw, shape, [planned], planned.plan.target);
  }

  // --- running on one server -------------------------------------------------------------------

  /**
   * Runs a command on one server: the session's bound connection or one from the pool, synced
   * to the session; a deferred BEGIN is pipelined ahead; the response is relayed.
   */
  async runSingle(
    packet: LogicalPacket,
    raw: Buffer | ((binding: MysqlBinding) => Buffer | Promise<Buffer>),
    shape: ResponseShape,
    statements: PlannedStatement[],
    target: RouteTarget,
    relay: { clientStatementId?: number; onOutcome?: (o: RelayOutcome, b: MysqlBinding) => void } = {},
  ): Promise<RelayOutcome> {
    const started = performance.now();
    const got = this.bindingFor(target);
    const binding = got instanceof Promise ? await got : got;
    let outcome: RelayOutcome | null = null;
    /** The server this transaction's write runs on: its compensations are kept once it ran. */
    let writer: string | null = null;
    const state = this.state;
    try {
      const syncing = binding.sync(state, this.cross?.vars ?? null);
      if (syncing) await syncing;
      if (this.cross) refuseAcrossShards(this, statements, false);
      // A transaction joining another shard: XA START there first (distributed-commit.ts).
      if (state.inTransaction && !binding.conn.inTransaction && (this.cross || this.bindings.size > 1))
        await joinAcrossShards(this, binding);
      // autocommit=0: the first write of a transaction counts as one (a commit must not treat its server as a reader).
      if (nextInTransaction(state)) {
        if (target.role === 'primary' && writesData(statements)) {
          this.wroteOn.add(binding.serverName);
          writer = binding.serverName;
        }
        this.crossShardRefusedBy ??= refusalIn(statements, this.services.topology.view().dataTypes);
        this.compensations.planned(statements);
      }
      const made = typeof raw === 'function' ? raw(binding) : raw;
      const bytes = made instanceof Promise ? await made : made;
      // The client left while its connection was acquired or synced: nothing would stop the command
      // now (the kill of onClientGone went to what ran then), so it never starts.
      if (this.clientGone) throw new ShardgateError('QUERY_CANCELED');
      this.sendDeferredBegin(binding, statements);
      outcome = await this.relay(
        binding,
        bytes,
        shape,
        (packet.lastSeq + 1) & 0xff,
        statements,
        relay.clientStatementId,
      );
      relay.onOutcome?.(outcome, binding);
      return outcome;
    } catch (err) {
      // Lost under the settings sync or a statement sent ahead: nothing reached the client.
      if (outcome === null && !(err instanceof ShardgateError))
        throw this.lossBeforeReply(binding, statements) ?? err;
      throw err;
    } finally {
      // Before afterCommand, which clears them when the transaction ended (compensation-notes.ts).
      if (writer !== null) this.compensations.applied(writer, statements, outcome !== null && !outcome.error);
      if (statements.some((s) => s.facts.kind === 'transaction'))
        this.savepoints.track(savepointStatements(statements), outcome !== null && !outcome.error);
      if (outcome) this.afterCommand(binding, statements, outcome);
      else this.releaseIfFree(binding);
      // A participant's transaction ended under it (a deadlock): it ends on every shard.
      if (this.cross?.has(binding.serverName) && !binding.conn.inTransaction && !binding.conn.closed)
        abandonAcrossShards(
          this,
          new ShardgateError('TWO_PHASE_ABORTED', {
            detail: `the transaction was rolled back on ${binding.serverName}${outcome?.error ? ` (${outcome.error.message})` : ''}`,
          }),
        );
      if (outcome?.error?.sqlstate === '40001') this.services.observer.onConflict?.('mysql', binding.shard);
      const first = statements[0]!;
      this.services.observer.onStatement({
        protocol: 'mysql',
        shard: binding.shard,
        server: binding.serverName,
        role: binding.role,
        kind: first.facts.kind,
        outcome: outcome && !outcome.error ? 'ok' : 'error',
        latencySeconds: (performance.now() - started) / 1000,
        level: first.plan.level,
        keys: first.plan.keys,
        scatter: false,
        tables: first.facts.tables,
        fingerprint: first.fingerprint,
      });
    }
  }

  /**
   * A BEGIN answered earlier goes to the server with the transaction's first statement, after a
   * pending SET TRANSACTION; both are pipelined ahead of the statement.
   */
  sendDeferredBegin(binding: MysqlBinding, statements: PlannedStatement[]): void {
    if (statements.every((s) => s.facts.kind === 'empty')) return;
    const next = this.state.nextTransaction;
    if (next) {
      this.state.nextTransaction = null;
      this.pipelined(binding, next);
    }
    const begin = this.state.deferredBegin;
    if (!begin) return;
    // A SAVEPOINT needs the transaction begun (outside one MySQL accepts it and keeps nothing).
    if (
      statements.every(
        (s) => s.facts.kind === 'transaction' && !isSavepointAction(s.facts.transaction?.action),
      )
    )
      return;
    this.state.deferredBegin = null;
    this.state.transactionShard = binding.shard;
    this.state.transactionServer = binding.serverName;
    this.pipelined(binding, begin);
  }

  /** A statement sent ahead of the client's; its reply is dropped (a failure is logged). */
  private pipelined(binding: MysqlBinding, sql: string): void {
    binding.conn.query(sql).then(
      (r) => {
        if (r.error) this.services.log.warn({ err: r.error.message, sql }, 'statement sent ahead failed');
      },
      () => undefined,
    );
  }

  /** Sends raw command bytes and relays the response; rejects if the server connection dies. */
  relay(
    binding: MysqlBinding,
    raw: Buffer,
    shape: ResponseShape,
    firstSeq: number,
    statements: readonly PlannedStatement[],
    clientStatementId?: number,
  ): Promise<RelayOutcome> {
    return new Promise<RelayOutcome>((resolve, reject) => {
      const running: Inflight = { reject, statements, clientSawBytes: false };
      this.inflight.set(binding, running);
      const out = new RelayOutput(this.session, binding.conn.socket, running);
      const handler = new RelayHandler({
        out,
        conn: binding.conn,
        clientCapabilities: this.state.capabilities,
        clientExtendedMetadata: this.state.extendedMetadata,
        firstSeq,
        ...(clientStatementId !== undefined ? { clientStatementId } : {}),
        onDone: (outcome) => {
          // The response is complete: nothing more comes from the server for it.
          out.done();
          this.inflight.delete(binding);
          resolve(outcome);
        },
        ...(this.outlivesServer
          ? {
              onServerEnding: (message: string) => {
                out.done();
                this.onServerLost(binding, new Error(message), false);
              },
            }
          : {}),
      });
      binding.conn.sendRaw(raw, shape, handler);
      this.commandSent = true;
      if (this.killBeforeSent) {
        this.killBeforeSent = false;
        this.killJustSent(binding, KILL_JUST_SENT_ATTEMPTS);
      }
    });
  }

  /** Gets (or reuses) the connection for a target; read_your_writes waits with MASTER_GTID_WAIT. */
  bindingFor(target: RouteTarget): MysqlBinding | Promise<MysqlBinding> {
    const held = this.bindings.get(target.server);
    if (held) return held;
    if (target.wait) return this.bindingAfterWait(target);
    return this.bindingOn(target.server);
  }

  /** A pooled connection to a server: at once when one is idle (the common case), else awaited. */
  private bindingOn(serverName: string): MysqlBinding | Promise<MysqlBinding> {
    const server = this.server(serverName);
    // Per-user quota first: a user at its limit waits for its turn, holding nothing.
    const user = this.quotaUser();
    const turn = user === null ? null : takeServerSlot(this.services.config, 'mysql', user);
    if (turn === null) {
      const idle = MysqlBinding.tryAcquire(server, this.session.backend, foundRows(this.state), user);
      if (idle) {
        this.hold(idle);
        return idle;
      }
    }
    return this.acquireAfter(turn, server, user).then((binding) => {
      // The client left while this waited: onClientGone gave back what it held, and this goes
      // back too (session pooling or a pinned session would keep it otherwise).
      if (this.clientGone) {
        binding.release(this.state.pinnedReason !== null);
        throw new ShardgateError('QUERY_CANCELED');
      }
      this.hold(binding);
      return binding;
    });
  }

  private server(serverName: string): MysqlRuntimeServer {
    const server = this.services.topology.server(serverName);
    if (!server) throw new ShardgateError('INTERNAL', { detail: `unknown server ${serverName}` });
    return server;
  }

  /** The user whose server connections are counted (pool.maxServerConnectionsPerUser), or null. */
  private quotaUser(): string | null {
    const user = this.state.user;
    return userServerLimit(this.services.config, user) > 0 ? user : null;
  }

  /** Waits for the quota turn (if any), then for a pooled connection; a failure gives the slot back. */
  private async acquireAfter(
    turn: Promise<void> | null,
    server: MysqlRuntimeServer,
    user: string | null,
  ): Promise<MysqlBinding> {
    if (turn) await turn;
    try {
      return await MysqlBinding.acquire(server, this.session.backend, foundRows(this.state), user);
    } catch (err) {
      if (user !== null) giveServerSlot('mysql', user);
      throw err;
    }
  }

  private async bindingAfterWait(target: RouteTarget): Promise<MysqlBinding> {
    const waited = await this.waitOnReplica(target);
    if (waited) return waited;
    const serverName = target.wait!.fallbackServer;
    return this.bindings.get(serverName) ?? this.bindingOn(serverName);
  }

  private hold(binding: MysqlBinding): void {
    this.bindings.set(binding.serverName, binding);
    binding.conn.onClose = (err) => this.onServerLost(binding, err, binding.conn.closedLocally);
  }

  /** The replica's connection once it has replayed the session's write; null to fall back. */
  private async waitOnReplica(target: RouteTarget): Promise<MysqlBinding | null> {
    const wait = target.wait!;
    const server = this.services.topology.server(target.server);
    if (!server || wait.maxWaitMs <= 0) return null;
    const user = this.quotaUser();
    const turn = user === null ? null : takeServerSlot(this.services.config, 'mysql', user);
    const binding = await this.acquireAfter(turn, server, user);
    try {
      const seconds = (wait.maxWaitMs / 1000).toFixed(3);
      const position = wait.position.replace(/[^0-9,-]/g, '');
      const r = await binding.conn.query(`SELECT MASTER_GTID_WAIT('${position}', ${seconds})`, {
        timeoutMs: wait.maxWaitMs + 5_000,
      });
      if (!r.error && r.results[0]?.rows[0]?.[0]?.toString() === '0') {
        this.hold(binding);
        return binding;
      }
    } catch {
      binding.discard();
      return null;
    }
    binding.release(false);
    return null;
  }

  /** What a command's response changed, then transaction pooling's release decision. */
  afterCommand(binding: MysqlBinding, statements: PlannedStatement[], outcome: RelayOutcome): void {
    const state = this.state;
    state.status = outcome.status;
    state.inTransaction = (outcome.status & STATUS.IN_TRANS) !== 0;
    if (!state.inTransaction && !state.deferredBegin) {
      this.wroteOn.clear();
      this.compensations.clear();
      this.savepoints.clear();
      this.crossShardRefusedBy = null;
    }
    if (state.inTransaction) {
      state.transactionShard = binding.shard;
      state.transactionServer = binding.serverName;
    } else if (!state.deferredBegin) {
      clearTransactionPlacement(state);
    }
    if (outcome.gtid && binding.role === 'primary') state.lastWritePositions.set(binding.shard, outcome.gtid);
    for (const [name, value] of outcome.vars)
      if (!UNREPLAYED_VARIABLES.has(name)) state.vars.set(name, value);
    for (const s of statements) if (!outcome.error) noteCollation(s, state, binding);
    if (outcome.schema !== null) state.schema = outcome.schema;
    for (const s of statements) {
      if (s.facts.transaction?.action === 'begin' && state.inTransaction)
        state.transactionReadOnly = s.facts.transaction.readOnly;
      if (outcome.error) continue;
      if (s.facts.pinsSession && !state.pinnedReason && pins(s)) state.pinnedReason = s.facts.kind;
      if (s.facts.kind === 'ddl') this.services.server.forgetStatements();
    }
    if (outcome.opaqueStateChange && !state.pinnedReason) {
      state.pinnedReason = 'session state (user variables, temporary tables or SQL prepared statements)';
    }
    this.releaseIfFree(binding);
  }

  /** Transaction pooling: the connection goes back unless the session still needs it. */
  releaseIfFree(binding: MysqlBinding): void {
    const state = this.state;
    if (binding.isReleased) {
      this.bindings.delete(binding.serverName);
      return;
    }
    if (this.services.config.pool.mode === 'session' || state.pinnedReason) return;
    if (state.inTransaction && state.transactionServer === binding.serverName) return;
    if (this.cross?.has(binding.serverName)) return;
    if (!binding.conn.idle || this.inflight.has(binding)) return;
    this.bindings.delete(binding.serverName);
    binding.release(false);
  }

  /** Transaction pooling: the session does not own its server connections, and outlives them. */
  private get outlivesServer(): boolean {
    return this.services.config.pool.mode !== 'session' && this.state.pinnedReason === null;
  }

  /**
   * A connection this session holds is gone. Session pooling (or a pinned session) keeps the
   * server's behaviour: the client owned it, and is closed. Otherwise only the command, or the
   * transaction, fails (server-loss.ts), and the session goes on.
   */
  private onServerLost(binding: MysqlBinding, err: Error | null, local: boolean): void {
    // A connection this session already gave back is its pool's business.
    if (this.bindings.get(binding.serverName) !== binding && !this.inflight.has(binding)) return;
    if (this.committingAcrossShards) {
      // The two-phase COMMIT finishes without it (recovery commits what it prepared there).
      this.bindings.delete(binding.serverName);
      return;
    }
    this.bindings.delete(binding.serverName);
    binding.discard();
    const topology = this.services.topology;
    const detail = err?.message ?? 'server closed the connection';
    // A connection shardgate closed itself (a timeout, a stream it could not follow) says
    // nothing about the server.
    if (!local) topology.shun(binding.serverName, detail);
    topology.faultCounters.serverConnectionsLost++;
    const params = { server: binding.serverName, shard: binding.shard, detail };
    const running = this.inflight.get(binding);
    this.inflight.delete(binding);
    const state = this.state;
    // Set by the transaction's first statement (a deferred BEGIN pipelined ahead) and kept while
    // the server says IN_TRANS.
    const crossShard = this.cross?.has(binding.serverName) ?? false;
    const inTransaction = state.transactionServer === binding.serverName || crossShard;
    if (inTransaction) {
      state.inTransaction = false;
      clearTransactionPlacement(state);
    }
    if (!this.outlivesServer) {
      state.inTransaction = false;
      // The client's SET wait_timeout reached this connection too: an idle client's server
      // closed it for that, as the server would have closed the client.
      const error =
        !running && this.waitTimeout.lapsedOnServer(state.vars)
          ? new ShardgateError('CLIENT_WAIT_TIMEOUT')
          : new ShardgateError('BACKEND_DIED', params);
      if (running) running.reject(error);
      else if (!this.clientGone) this.session.fail(error);
      return;
    }
    const statements = running?.statements ?? [];
    const error = serverLossError(
      {
        inTransaction,
        commits: commitsTransaction(statements),
        writes: writesData(statements),
        clientSawBytes: running?.clientSawBytes ?? false,
      },
      params,
      null,
    );
    if (error.code === 'BACKEND_LOST_IN_TRANSACTION') state.lostTransaction = error;
    // The rest of a transaction that spanned shards is rolled back everywhere.
    if (crossShard) abandonAcrossShards(this, state.lostTransaction ?? error);
    running?.reject(error);
  }

  /**
   * The coded error of a command whose connection was lost before any of its response reached the
   * client (a scatter part, a settings sync); null while the connection is open.
   */
  lossBeforeReply(binding: MysqlBinding, statements: readonly PlannedStatement[]): Error | null {
    if (!binding.conn.closed) return null;
    const state = this.state;
    if (state.lostTransaction) return state.lostTransaction;
    return serverLossError(
      {
        inTransaction: state.inTransaction || state.deferredBegin !== null,
        commits: commitsTransaction(statements),
        writes: writesData(statements),
        clientSawBytes: false,
      },
      { server: binding.serverName, shard: binding.shard, detail: 'server closed the connection' },
      null,
    );
  }

  /** COM_RESET_CONNECTION / COM_CHANGE_USER: a fresh session on the same socket. */
  resetSession(): void {
    const state = this.state;
    this.cross = null;
    this.wroteOn.clear();
    this.compensations.clear();
    this.savepoints.clear();
    this.crossShardRefusedBy = null;
    for (const b of this.bindings.values()) b.release(true);
    this.bindings.clear();
    state.vars = new Map(this.session.charsetVars(state.collation));
    state.inTransaction = false;
    state.deferredBegin = null;
    state.nextTransaction = null;
    clearTransactionPlacement(state);
    state.lostTransaction = null;
    state.prepared.clear();
    state.pinnedReason = null;
    state.status = STATUS.AUTOCOMMIT;
    state.multiStatements = (state.capabilities & CAP.MULTI_STATEMENTS) !== 0;
  }

  /**
   * KILL QUERY on this session: stop what its backend connections run now. A command not yet on a
   * server (waiting for a connection) would be running on a server of its own: it is killed as
   * soon as it is sent, rather than the KILL being dropped.
   */
  killRunning(): void {
    for (const binding of this.inflight.keys()) killQueryOn(binding);
    // After the command reached a server, nothing of it runs there now (shardgate's own work
    // follows): that KILL is dropped, as a server drops one that finds its thread idle.
    if (this.inflight.size === 0 && this.queue.busy && !this.commandSent) this.killBeforeSent = true;
  }

  /**
   * KILL QUERY for a command written just now. The server may not have begun it when the KILL
   * arrives (the thread still reading it, on a busy host): then the server drops the KILL, as it
   * drops one that finds a thread idle. So while the same command is still running once the KILL
   * was delivered, it is sent again, a few times at most. No later command is hit: the check is
   * for this command's own entry, and the connection's writes wait while a KILL is on its way.
   */
  private killJustSent(binding: MysqlBinding, attempts: number): void {
    const running = this.inflight.get(binding);
    killQueryOn(binding);
    if (!running || attempts <= 1) return;
    void (binding.conn.stops.inFlight ?? Promise.resolve()).then(() => {
      const again = setTimeout(() => {
        if (this.inflight.get(binding) === running) this.killJustSent(binding, attempts - 1);
      }, KILL_AGAIN_AFTER_MS);
      again.unref();
    });
  }

  /** The client vanished: roll back and return (or drop) every backend connection. */
  onClientGone(): void {
    this.clientGone = true;
    this.services.cutover.unregister(this);
    this.idleTimer.disarm();
    this.waitTimeout.disarm();
    // A two-phase COMMIT in progress finishes first (endCrossShardCommit gives the connections back).
    if (this.committingAcrossShards) return;
    this.dropBindings();
  }

  /**
   * A two-phase COMMIT is over (decided and finished, or rolled back). A client that left during
   * it was not given its connections back by onClientGone: they go back now, in every pooling
   * mode (session pooling and pinned sessions keep them otherwise, for a client that is gone).
   */
  endCrossShardCommit(): void {
    this.committingAcrossShards = false;
    if (this.clientGone) this.dropBindings();
  }

  private dropBindings(): void {
    for (const binding of this.bindings.values()) {
      if (this.inflight.has(binding)) {
        // Mid-command: the connection is dropped (its stream is mid-response), so the server ends
        // it whole. KILL QUERY could arrive before the command starts there and stop nothing.
        void killConnectionOn(binding);
        binding.discard();
      } else {
        binding.release(this.state.pinnedReason !== null);
      }
    }
    this.inflight.clear();
    this.bindings.clear();
  }
}
/** KILLs of a command killed before it was sent (see killJustSent), and the pause between them. */
const KILL_JUST_SENT_ATTEMPTS = 3;
const KILL_AGAIN_AFTER_MS = 100;

/** KILL QUERY <thread> on a fresh connection to the same server. */
function killQueryOn(binding: MysqlBinding): void {
  const conn = binding.conn;
  conn.stops.stop(() => killCommand(binding.server, `KILL QUERY ${conn.threadId}`));
}

/** KILL CONNECTION <thread>: for a connection shardgate drops, whatever it runs or is about to run. */
async function killConnectionOn(binding: MysqlBinding): Promise<void> {
  await killCommand(binding.server, `KILL CONNECTION ${binding.conn.threadId}`);
}

/** A query's statements as the savepoint stack sees them (DDL commits implicitly in MySQL). */
function savepointStatements(statements: readonly PlannedStatement[]): SavepointStatement[] {
  return statements.map((s) => ({
    action: s.facts.transaction?.action ?? (s.facts.kind === 'ddl' ? 'commit' : null),
    name: s.facts.transaction?.savepoint ?? null,
  }));
}
