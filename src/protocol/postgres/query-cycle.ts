// The query cycle of an authenticated PostgreSQL session: groups frames into units, plans each
// unit, and runs it. One unit at a time: the next unit is planned only after the previous one's
// ReadyForQuery, so routing always sees the session's true transaction state and positions.
import type { PgServerConnection } from '../../backend/pg-server-connection.js';
import { mayRetryRead, ServerLostError, writesData } from '../../backend/server-loss.js';
import { mayHoldWrite, primaryServing } from '../../backend/write-hold.js';
import { ShardgateError, toShardgateError } from '../../errors.js';
import type { GateParticipant } from '../../migration/cutover-gate.js';
import { WriteAdmissions } from '../../migration/write-admissions.js';
import { writeShards } from '../../migration/write-shards.js';
import type { Plan, RouteTarget } from '../../router/plan.js';
import { refusalIn } from '../../router/planner-context.js';
import type { PlannedStatement } from '../../router/router.js';
import { chooseTarget } from '../../router/unit-target.js';
import { TransactionCompensations } from '../../transactions/compensation-notes.js';
import { PG_SAVEPOINTS, SavepointStack } from '../../transactions/savepoints.js';
import { type BacklogOwner, ClientBacklog } from '../client-backlog.js';
import { IdleTransactionTimer } from '../idle-transaction-timer.js';
import { requireSentAlone } from '../sent-alone.js';
import { applyContextSetting } from '../session-context.js';
import { encodeBackendKeyData, encodeParameterStatus, encodeReadyForQuery } from './backend-messages.js';
import type { PgClientSession } from './client-session.js';
import { type CopyInSink, runCopyIn } from './copy-in-runner.js';
import { runCopyQueryOut } from './copy-out-runner.js';
import { savepointAcrossShards } from './cross-shard-savepoints.js';
import { endAcrossShards, participants } from './distributed-commit.js';
import { decodeBind, decodeParse, decodeQuery } from './frontend-messages.js';
import { runJoin } from './join-runner.js';
import { runKeyMove } from './key-move-runner.js';
import { LocalResponder } from './local-responder.js';
import { pipelineable } from './mux-lane.js';
import { runScatter } from './scatter-runner.js';
import { ServerBinding } from './server-binding.js';
import type { SessionServices } from './services.js';
import { serverStatementName, TRACKED_STARTUP_PARAMETERS } from './session-state.js';
import { FE, newUnit, type Unit, type UnitFrame } from './units.js';

export type { PlannedStatement };

/**
 * Statements several shards answer together, each kind run by its own runner over the session's
 * connections; the first kind a unit's plans hold wins. `writes`: it takes cutover write admissions.
 */
const ACROSS_SHARDS: ReadonlyArray<{
  types: readonly Plan['type'][];
  what: string;
  writes: boolean;
  run: (
    cycle: QueryCycle,
    unit: Unit,
    statement: PlannedStatement,
    rerun: (u: Unit) => Promise<void>,
  ) => Promise<void>;
}> = [
  // A join's rewritten statement is a unit of its own: planned, run and answered as any other.
  { types: ['broadcast-join'], what: 'a cross-shard join', writes: false, run: runJoin },
  { types: ['key-move'], what: 'an UPDATE that moves rows to another shard', writes: true, run: runKeyMove },
  {
    types: ['copy-query-out'],
    what: 'a COPY (query) over several shards',
    writes: false,
    run: runCopyQueryOut,
  },
  { types: ['copy-in'], what: 'a COPY into a table on several shards', writes: true, run: runCopyIn },
  { types: ['scatter', 'split-insert'], what: 'a multi-shard statement', writes: true, run: runScatter },
];

/** The bytes a unit's messages took in the client's stream. */
function unitBytes(unit: Unit): number {
  let n = 0;
  for (const f of unit.frames) n += f.bytes.length;
  return n;
}

export class QueryCycle implements GateParticipant, BacklogOwner<Unit> {
  /** Units received and not yet run; past limits.maxPendingClientBytes reading stops. */
  private readonly units: ClientBacklog<Unit>;
  private building: UnitFrame[] = [];
  /** The unit the pump runs now (a cancel with nothing running on a server is for it or the next). */
  private current: Unit | null = null;
  /** Server connections this session holds: during a transaction, when pinned, in session mode. */
  readonly bindings = new Map<string, ServerBinding>();
  /** The unnamed statement of the extended protocol (Parse with an empty name). */
  unnamed: { sql: string; paramTypes: number[] } | null = null;
  private cancelKey: { processId: number; secretKey: number } | null = null;
  private clientGone = false;
  /** The client's socket closed (a runner that reads the client itself stops on it). */
  get clientLeft(): boolean {
    return this.clientGone;
  }
  /** The write admissions this session holds (until its write transaction ends). */
  private readonly writes: WriteAdmissions;
  /** The binding running the current single-target unit. */
  private running: ServerBinding | null = null;
  /**
   * A runner driving several connections itself (scatter, join, key move, COPY split over shards)
   * is in flight: their responses are read by it, so a cutover or a vanished client must wait
   * for it to end before the connections are rolled back or given back (a counter: a join runs
   * its rewritten statement as a nested unit).
   */
  private acrossShards = 0;
  /** A cutover aborted the transaction of the running unit (applied when the unit ends). */
  private cutoverAbort: { shards: readonly string[]; error: ShardgateError } | null = null;
  /** A cutover aborted the transaction while idle: the next statement reports this error. */
  private pendingCutoverError: ShardgateError | null = null;
  private seenTranslations = 0;
  /** A read being run again after losing its server: the response start its client already has. */
  private retryPreamble: Buffer | null = null;
  /** Closes the session when it stays idle inside a transaction (pool.idleTransactionTimeoutMs). */
  private readonly idleTimer = new IdleTransactionTimer(
    () => this.services.config.pool.idleTransactionTimeoutMs,
    (ms) => this.session.fail(new ShardgateError('IDLE_TRANSACTION_TIMEOUT', { ms })),
  );
  /** The servers' standard_conforming_strings (a session may SET its own). */
  private serverStandardStrings = 'on';
  /** Servers the open transaction wrote on (two-phase commit prepares these, commits the rest plainly). */
  readonly wroteOn = new Set<string>();
  /** What undoes each write of the open transaction (crossShard: compensate). */
  readonly compensations = new TransactionCompensations();
  /** The open transaction's savepoints: a shard it joins gets them (src/transactions/savepoints.ts). */
  readonly savepoints = new SavepointStack(PG_SAVEPOINTS);
  /** Servers of the open cross-shard transaction that have its lock_timeout. */
  private readonly lockTimeoutOn = new Set<string>();
  /** A two-phase COMMIT is running on this session's connections: nobody else may touch them. */
  committingAcrossShards = false;
  /** A COPY FROM STDIN split over shards is reading the client's rows (copy-in-runner.ts). */
  copyInSink: CopyInSink | null = null;
  /** A data type with crossShard: refuse the open transaction touched (it stays on one shard). */
  private crossShardRefusedBy: string | null = null;

  constructor(
    readonly session: PgClientSession,
    readonly services: SessionServices,
  ) {
    this.writes = new WriteAdmissions(services.cutover, this);
    this.units = new ClientBacklog(
      session,
      this,
      () => services.config.limits.maxPendingClientBytes,
      unitBytes,
    );
  }

  get state() {
    return this.session.state!;
  }

  async start(): Promise<void> {
    const state = this.state;
    // Startup parameters that are settings follow the client to every server connection.
    for (const [rawKey, value] of state.startupParameters) {
      const key = rawKey.toLowerCase();
      if (key === 'options') this.applyStartupOptions(value);
      else if (key === 'client_encoding' && value.toLowerCase() === 'auto') continue;
      else if (key === 'client_encoding')
        state.settings.set(key, value.toUpperCase().replace(/^UTF-?8$/, 'UTF8'));
      else if (TRACKED_STARTUP_PARAMETERS.includes(key) || isForwardedStartupSetting(key)) {
        state.settings.set(key, value);
      }
    }
    // A server answers SHOW application_name with '' when the client set none (our server
    // connections carry "shardgate", which is theirs, not the client's).
    if (!state.settings.has('application_name')) state.settings.set('application_name', '');
    const cancelTarget = { cancel: () => this.cancelRunning() };
    this.cancelKey =
      (await this.sessionServerKey(cancelTarget)) ?? this.services.cancel.register(cancelTarget);
    this.services.cutover.register(this);
    const params = await this.services.topology.serverParameters(this.session.backend, state.database);
    this.serverStandardStrings = params.get('standard_conforming_strings') ?? 'on';
    const out: Buffer[] = [];
    for (const [name, value] of params) {
      const own = state.settings.get(name.toLowerCase());
      out.push(encodeParameterStatus(name, own ?? value));
    }
    if (!params.has('application_name')) {
      out.push(encodeParameterStatus('application_name', state.settings.get('application_name') ?? ''));
    }
    out.push(encodeBackendKeyData(this.cancelKey.processId, this.cancelKey.secretKey));
    out.push(encodeReadyForQuery('I'));
    this.session.write(Buffer.concat(out));
  }

  /**
   * Session pooling: the session takes its server connection now and tells the client that
   * backend's pid and key, as PgBouncer does in session mode (drivers compare it with
   * pg_backend_pid() and pass it to pg_terminate_backend).
   */
  private async sessionServerKey(target: {
    cancel(): void;
  }): Promise<{ processId: number; secretKey: number } | null> {
    const registry = this.services.cancel;
    if (this.services.config.pool.mode !== 'session' || !registry.registerAs) return null;
    const first = this.services.router.planUtilityOnDefault(this.routingSession()).plan;
    if (first.type !== 'single') return null;
    const conn = (await this.bindingFor(first.target)).conn;
    if (!registry.registerAs(conn.processId, conn.secretKey, target)) return null;
    return { processId: conn.processId, secretKey: conn.secretKey };
  }

  /** `options=-c shardgate.vip=on -c search_path=x`: context settings and ordinary settings. */
  private applyStartupOptions(options: string): void {
    const tokens = options.split(/\s+/).filter(Boolean);
    for (let i = 0; i < tokens.length; i++) {
      let token = tokens[i]!;
      if (token === '-c') token = tokens[++i] ?? '';
      else if (token.startsWith('-c')) token = token.slice(2);
      else if (token.startsWith('--')) token = token.slice(2);
      else continue;
      const eq = token.indexOf('=');
      if (eq < 0) continue;
      const name = token.slice(0, eq).toLowerCase().replace(/-/g, '_');
      const value = token.slice(eq + 1);
      if (name.startsWith('shardgate.')) {
        applyContextSetting(this.state.context, name.slice('shardgate.'.length), value, this.services);
      } else {
        this.state.settings.set(name, value);
      }
    }
  }

  onFrame(type: number, bytes: Buffer): void {
    this.idleTimer.disarm();
    // COPY FROM STDIN data goes straight to the server running the COPY.
    if (type === FE.CopyData || type === FE.CopyDone || type === FE.CopyFail) {
      const split = this.copyInSink;
      if (split) {
        // A COPY split over shards (copy-in-runner.ts) reads the rows itself.
        if (type === FE.CopyData) split.data(bytes.subarray(5));
        else if (type === FE.CopyDone) split.done();
        else split.fail(bytes.toString('utf8', 5, Math.max(5, bytes.length - 1)));
        return;
      }
      const copying = this.copyTarget();
      if (copying) {
        copying.conn.write(bytes);
        this.holdClientUntilDrained(copying.conn);
      }
      return;
    }
    this.units.received(bytes.length);
    switch (type) {
      case FE.Query:
        this.units.push(newUnit([{ type, bytes }], true));
        return;
      case FE.Parse:
      case FE.Bind:
      case FE.Describe:
      case FE.Execute:
      case FE.Close:
        this.building.push({ type, bytes });
        return;
      case FE.Sync:
        this.building.push({ type, bytes });
        this.units.push(newUnit(this.building, false));
        this.building = [];
        return;
      case FE.Flush:
        this.building.push({ type, bytes });
        this.units.push(newUnit(this.building, false, true));
        this.building = [];
        return;
      case FE.FunctionCall:
        this.units.push(newUnit([{ type, bytes }], true));
        return;
      case FE.Terminate:
        this.session.close();
        return;
      default:
        throw new ShardgateError('PROTOCOL_VIOLATION', {
          detail: `unexpected message type '${String.fromCharCode(type)}' during the query cycle`,
        });
    }
  }

  onChunkEnd(): void {
    // A batch without Sync can never run, so waiting for it would wait forever.
    if (this.units.pauseIfOverLimit() === 'stuck')
      throw new ShardgateError('PENDING_BATCH_TOO_LARGE', {
        max: this.services.config.limits.maxPendingClientBytes,
      });
    this.units.start();
  }

  /**
   * A server slower than the client, or a cancel on its way (its writes wait in memory, see
   * stop-signal-hold.ts): stop reading the client until the server's socket has room again.
   */
  holdClientUntilDrained(conn: PgServerConnection): void {
    if (this.units.paused) return;
    const stopping = conn.stops.inFlight;
    if (!stopping && !conn.socket.writableNeedDrain) return;
    this.units.pauseReading();
    const resume = () => this.units.resumeReading();
    const resumeWhenDrained = () => {
      if (conn.socket.writableNeedDrain) conn.socket.once('drain', resume);
      else resume();
    };
    if (stopping) void stopping.then(resumeWhenDrained);
    else conn.socket.once('drain', resume);
  }

  private copyTarget(): ServerBinding | null {
    for (const b of this.bindings.values()) if (b.copyIn) return b;
    return null;
  }

  // The backlog's units, one at a time (client-backlog.ts); backlogIdle clears `current` after a throw.
  startingQueued(unit: Unit): void {
    this.current = unit;
  }

  runQueued(unit: Unit): Promise<void> {
    return this.runUnit(unit);
  }

  ranQueued(): void {
    this.current = null;
  }

  backlogIdle(): void {
    this.current = null;
    this.armIdleTimer();
  }

  /** A transaction holding a server connection, and nothing to run: the client has this long. */
  private armIdleTimer(): void {
    this.idleTimer.arm(
      !this.clientGone && this.units.length === 0 && this.state.txStatus !== 'I' && this.bindings.size > 0,
    );
  }

  /** `attempt`: how many times this unit was re-planned after losing its server (a safe read). */
  private async runUnit(unit: Unit, attempt = 0): Promise<void> {
    // Run again after losing its server: not on a server until it is sent again.
    if (attempt > 0) unit.sent = false;
    if (attempt === 0) {
      // Answered unsent, unless a server is inside a Flush-ended batch this unit's Sync closes:
      // then it is sent, and cancelled there (server-binding.ts, run).
      if (unit.cancelRequested && !this.awaitingSync()) {
        new LocalResponder(this.session, unit).fail(
          new ShardgateError('QUERY_CANCELED'),
          this.state.txStatus,
        );
        return;
      }
      this.retryPreamble = null;
      // A cached answer needs no parsing or planning (src/cache/pg-result-cache.ts says why).
      if (this.pendingCutoverError === null && this.services.resultCache?.serveBeforePlanning(this, unit))
        return;
    }
    const responder = new LocalResponder(this.session, unit);
    let statements: PlannedStatement[];
    try {
      statements = this.planUnit(unit);
    } catch (err) {
      responder.fail(toShardgateError(err), this.state.txStatus);
      return;
    }
    if (this.state.txStatus !== 'I' || this.state.deferredBegin || statements.length > 1) {
      this.crossShardRefusedBy ??= refusalIn(statements, this.services.topology.view().dataTypes);
      this.compensations.planned(statements);
    }
    try {
      this.services.resultCache?.beforeUnit(this.state, statements);
      if (this.pendingCutoverError) {
        const pending = this.pendingCutoverError;
        // Reported once: a ROLLBACK ends the failed transaction without hearing it again.
        this.pendingCutoverError = null;
        if (!isRollback(statements)) {
          responder.fail(pending, 'E');
          return;
        }
      }
      const local = await responder.tryAnswerLocally(statements, this);
      if (local) return;
      const plans = statements.map((s) => s.plan);
      const error = plans.find((p) => p.type === 'error');
      if (error && error.type === 'error') {
        responder.fail(new ShardgateError(error.code, error.params), this.state.txStatus);
        return;
      }
      if (this.state.txStatus !== 'I' && this.bindings.size > 1) {
        if (participants(this).length > 1 && (await savepointAcrossShards(this, statements, responder)))
          return;
        const ended = await endAcrossShards(this, statements, responder);
        if (ended === 'done') return;
        if (ended === 'replan') return this.runUnit(unit);
      }
      for (const kind of ACROSS_SHARDS) {
        const plan = plans.find((p) => kind.types.includes(p.type));
        if (!plan) continue;
        requireSentAlone(statements, kind.what, 'message');
        // Held by a cutover: plan again against the topology that is current after it.
        if (kind.writes && (await this.admitWrites(writeShards(plan)))) return this.runUnit(unit);
        await this.runAcrossShards(() => kind.run(this, unit, statements[0]!, (u) => this.runUnit(u)));
        return;
      }
      const target = chooseTarget(statements, this.crossShardAllowed);
      if (target.role === 'primary' && writesData(statements) && (await this.admitWrites([target.shard]))) {
        return this.runUnit(unit);
      }
      try {
        const cache = this.services.resultCache;
        if (cache)
          await cache.run(this, unit, statements, target, (t) => this.runSingle(unit, statements, t));
        else await this.runSingle(unit, statements, target);
      } catch (err) {
        if (await this.heldThroughFailover(err, statements, attempt)) return this.runUnit(unit, attempt + 1);
        if (!this.mayRetryElsewhere(err, statements, attempt)) throw err;
        if (err instanceof ServerLostError && err.preamble) this.retryPreamble = err.preamble;
        // The server is shunned by now: planning again picks another replica, else the primary.
        this.services.topology.faultCounters.readRetries++;
        return this.runUnit(unit, attempt + 1);
      }
    } catch (err) {
      const e = toShardgateError(err);
      if (e.fatal) {
        this.session.fail(e);
        return;
      }
      responder.fail(e, this.state.txStatus);
    } finally {
      if (this.state.txStatus === 'I' && !this.state.deferredBegin) {
        if (this.writes.holding) this.writes.release();
        this.wroteOn.clear();
        this.compensations.clear();
        this.savepoints.clear();
        this.lockTimeoutOn.clear();
        this.crossShardRefusedBy = null;
      }
      this.services.resultCache?.afterUnit(this.state);
    }
  }

  /** A read outside a transaction whose server died or refused it, before any byte reached the client. */
  private mayRetryElsewhere(err: unknown, statements: PlannedStatement[], attempt: number): boolean {
    const s = this.state;
    return mayRetryRead(err, {
      inTransaction: s.txStatus !== 'I' || s.deferredBegin !== null,
      statements,
      attempt,
      maxRetries: this.services.config.routing.readRetriesOnServerLoss,
    });
  }

  /** A write that could not reach its primary, held until the shard has one again (write-hold.ts). */
  private async heldThroughFailover(
    err: unknown,
    statements: PlannedStatement[],
    attempt: number,
  ): Promise<boolean> {
    const holdMs = this.services.config.routing.holdWritesOnPrimaryLossMs;
    const s = this.state;
    const inTransaction = s.txStatus !== 'I' || s.deferredBegin !== null;
    if (attempt > 0 || !mayHoldWrite(err, { inTransaction, statements, holdMs })) return false;
    const shard = String((err as ShardgateError).params.shard);
    return primaryServing(() => this.services.topology.view(), shard, holdMs);
  }

  /** A server connection of this session was lost in transaction pooling: the session lives on. */
  onServerLost(error: ServerLostError): void {
    const s = this.state;
    if (s.txStatus === 'I') return;
    s.transactionShard = null;
    s.transactionServer = null;
    if (error.code === 'BACKEND_LOST_OUTCOME_UNKNOWN') {
      // A lost COMMIT ends the transaction either way; the client must check what happened.
      s.txStatus = 'I';
      s.deferredBegin = null;
      s.transactionReadOnly = false;
      return;
    }
    if (this.running === null) {
      // Idle in the transaction: it is gone on the server; the next statement says why.
      s.txStatus = 'E';
      s.proxyAborted = true;
      this.savepoints.forget();
      this.pendingCutoverError = error;
    }
  }

  // ---- cutover gate (src/migration/cutover-gate.ts) ------------------------------------------

  /** Takes write admissions on `shards`; true when a cutover held them (the unit must be re-planned). */
  private admitWrites(shards: string[]): Promise<boolean> {
    return this.writes.admit(shards);
  }

  openTransactionShard(): string | null {
    const s = this.state;
    return s.txStatus !== 'I' ? s.transactionShard : null;
  }

  abortForCutover(shards: readonly string[], error: ShardgateError): void {
    // A two-phase COMMIT finishes on its own (soon) and then releases its write admissions.
    if (this.committingAcrossShards) return;
    const running = this.running;
    if (running && shards.includes(running.shard)) {
      // Cancel the statement; its error reaches the client as 40001; the rest when it ends.
      this.cutoverAbort = { shards, error };
      running.errorOverride = error;
      running.cancel();
      return;
    }
    if (this.acrossShards > 0) {
      // A multi-shard runner reads its connections' responses: it finishes (or fails) on its own,
      // then runAcrossShards rolls the transaction back and the next statement hears why.
      this.cutoverAbort = { shards, error };
      return;
    }
    this.finishCutoverAbort(shards, error);
  }

  /** Runs a multi-shard runner; what a cutover or a vanished client did meanwhile applies after it. */
  private async runAcrossShards(run: () => Promise<void>): Promise<void> {
    this.acrossShards++;
    try {
      await run();
    } finally {
      this.acrossShards--;
      if (this.acrossShards === 0) this.afterAcrossShards();
    }
  }

  private afterAcrossShards(): void {
    const abort = this.cutoverAbort;
    if (abort) {
      this.cutoverAbort = null;
      // Outside a transaction the runner ended its own; runUnit gives the write admissions back.
      if (this.state.txStatus !== 'I') this.finishCutoverAbort(abort.shards, abort.error);
    }
    if (this.clientGone && !this.committingAcrossShards) this.abandonBindings();
  }

  /** Rolls back the server transaction on `shards`; the client's transaction is failed. */
  private finishCutoverAbort(shards: readonly string[], reportNext: ShardgateError | null): void {
    const s = this.state;
    for (const binding of [...this.bindings.values()]) {
      if (!shards.includes(binding.shard)) continue;
      this.bindings.delete(binding.serverName);
      binding.abandon();
    }
    if (s.txStatus !== 'I') {
      s.txStatus = 'E';
      s.proxyAborted = true;
      // Its part on the lost shards is gone: no ROLLBACK TO brings the transaction back.
      this.savepoints.forget();
      s.transactionShard = null;
      s.transactionServer = null;
      this.pendingCutoverError = reportNext;
    }
    this.writes.release();
  }

  /** Analyzes and plans every statement of a unit. */
  private planUnit(unit: Unit): PlannedStatement[] {
    const router = this.services.router;
    const session = this.routingSession();
    const out: PlannedStatement[] = [];
    if (unit.simple) {
      const frame = unit.frames[0]!;
      if (frame.type === FE.FunctionCall) return [router.planUtilityOnDefault(session)];
      const sql = decodeQuery(frame.bytes);
      return router.planSimple(sql, session);
    }
    // Extended protocol: plan each Bind (it has the parameters); Parse-only units plan the text.
    let pendingParse: { name: string; sql: string; paramTypes: number[] } | null = null;
    let added = 0;
    for (const frame of unit.frames) {
      if (frame.type === FE.Parse) {
        const p = decodeParse(frame.bytes);
        if (p.name !== '' && !this.state.prepared.has(p.name)) this.checkPreparedLimit(++added);
        pendingParse = { name: p.name, sql: p.query, paramTypes: p.paramTypes };
      } else if (frame.type === FE.Bind) {
        const b = decodeBind(frame.bytes);
        const stmt =
          b.statement === ''
            ? pendingParse && pendingParse.name === ''
              ? pendingParse
              : this.unnamed
            : pendingParse && pendingParse.name === b.statement
              ? pendingParse
              : (this.state.prepared.get(b.statement) ?? null);
        if (!stmt) {
          throw new ShardgateError('PROTOCOL_VIOLATION', {
            detail: `prepared statement "${b.statement}" does not exist`,
          });
        }
        out.push(
          ...router.planExtended(stmt.sql, session, {
            values: b.values,
            formats: b.paramFormats,
            types: stmt.paramTypes,
          }),
        );
      }
    }
    if (out.length === 0) {
      // Parse/Describe/Close only: no data is touched; any server of the session's shard will do.
      out.push(
        pendingParse
          ? router.planDescribeOnly(pendingParse.sql, session)
          : router.planUtilityOnDefault(session),
      );
    }
    return out;
  }

  /** A Parse answered by shardgate itself: later Binds find the statement as if a server had it. */
  rememberParse(p: { name: string; query: string; paramTypes: number[] }): void {
    if (p.name === '') this.unnamed = { sql: p.query, paramTypes: p.paramTypes };
    else
      this.state.prepared.set(p.name, {
        clientName: p.name,
        serverName: serverStatementName(p.query, p.paramTypes),
        sql: p.query,
        paramTypes: p.paramTypes,
      });
  }

  /** Prepared statements per session are bounded (each holds its text in memory). */
  private checkPreparedLimit(adding: number): void {
    const max = this.services.config.limits.maxPreparedStatementsPerSession;
    if (this.state.prepared.size + adding > max)
      throw new ShardgateError('PREPARED_STATEMENT_LIMIT', { max });
  }

  routingSession() {
    const s = this.state;
    const translations = this.services.cutover.translations;
    if (translations.version !== this.seenTranslations) {
      this.seenTranslations = translations.version;
      translations.apply(s.lastWritePositions);
    }
    return {
      context: s.context,
      inTransaction: s.txStatus !== 'I' || s.deferredBegin !== null,
      transactionReadOnly: s.transactionReadOnly,
      transactionShard: s.transactionShard,
      transactionServer: s.transactionServer,
      ...(this.bindings.size > 1 && s.txStatus !== 'I'
        ? { transactionServers: this.participantServers() }
        : {}),
      crossShardTransactions: this.crossShardAllowed,
      crossShardRefusedBy: this.crossShardRefusedBy,
      lastWritePositions: s.lastWritePositions,
      backslashQuotes: isOff(s.settings.get('standard_conforming_strings') ?? this.serverStandardStrings),
    };
  }

  private get crossShardAllowed(): boolean {
    return (
      this.services.twoPhase !== undefined && this.services.config.transactions.crossShard === 'two_phase'
    );
  }

  /** Shard -> server of every connection holding the open transaction. */
  private participantServers(): Map<string, string> {
    const out = new Map<string, string>();
    for (const b of participants(this)) out.set(b.shard, b.serverName);
    return out;
  }

  /** All single-target statements of a unit must agree on one server. */
  private async runSingle(unit: Unit, statements: PlannedStatement[], target: RouteTarget): Promise<void> {
    const started = performance.now();
    const pipelined = pipelineable(unit, statements, this.state, this.services.config.pool) ? unit : null;
    // An idle connection ready for this client: no promise on the way (bindingNow).
    const now = pipelined ? null : this.bindingNow(target);
    let binding = now instanceof ServerBinding ? now : await (now ?? this.bindingFor(target, pipelined));
    if (binding.needsOwnConnection(unit)) {
      // Not written yet: it leaves the lane and runs on a connection of its own.
      binding.release();
      this.bindings.delete(binding.serverName);
      binding = await this.bindingFor({ shard: target.shard, server: binding.serverName, role: target.role });
    }
    const state = this.state;
    if (state.txStatus !== 'I' && state.deferredBegin === null) this.crossShardPreamble(binding);
    if (target.role === 'primary' && writesData(statements)) this.wroteOn.add(binding.serverName);
    binding.inheritedPreamble = this.retryPreamble;
    this.retryPreamble = null;
    let outcome: 'ok' | 'error' = 'error';
    this.running = binding;
    try {
      const checking = binding.checkStatementShapes(unit);
      if (checking) await checking;
      outcome = (await binding.run(unit, statements)) ? 'ok' : 'error';
    } finally {
      this.running = null;
      // Kept only once run, on the server that ran it (compensation-notes.ts says why).
      if (target.role === 'primary' && writesData(statements))
        this.compensations.applied(binding.serverName, statements, outcome === 'ok');
      if (statements.some((s) => s.facts.kind === 'transaction'))
        this.savepoints.track(savepointStatements(statements), outcome === 'ok');
      // A failed statement in a transaction spanning shards fails it everywhere (until ROLLBACK).
      if (state.txStatus === 'E' && this.bindings.size > 1 && participants(this).length > 1)
        state.proxyAborted = true;
      const abort = this.cutoverAbort;
      if (abort) {
        this.cutoverAbort = null;
        binding.errorOverride = null;
        // The client saw 40001 if the statement failed; else it learns at its next statement.
        if (this.state.txStatus !== 'I')
          this.finishCutoverAbort(abort.shards, outcome === 'ok' ? abort.error : null);
      }
      this.afterUnit(binding);
      const first = statements[0]!;
      const plan = first.plan;
      this.services.observer.onStatement({
        protocol: 'postgres',
        shard: binding.shard,
        server: binding.serverName,
        role: binding.role,
        kind: first.facts.kind,
        outcome,
        latencySeconds: (performance.now() - started) / 1000,
        level: plan.level,
        keys: plan.keys,
        scatter: false,
        tables: first.facts.tables,
        fingerprint: first.fingerprint,
        rows: binding.rowCount,
      });
    }
  }

  /**
   * The statement that gives a server connection of a transaction spanning shards its
   * lock_timeout (see crossShardPreamble), once per connection; null when it has it or none is set.
   */
  crossShardLockTimeout(binding: ServerBinding): string | null {
    const ms = this.services.config.transactions.lockTimeoutMs;
    if (ms <= 0 || this.lockTimeoutOn.has(binding.serverName)) return null;
    this.lockTimeoutOn.add(binding.serverName);
    return `SET LOCAL lock_timeout = ${ms}`;
  }

  /**
   * The active savepoints, set again on a shard the transaction joins (right after its BEGIN: its
   * state there is its state at each of them). Refused when shardgate lost track of them.
   */
  savepointReplay(): string[] {
    if (!this.savepoints.known)
      throw new ShardgateError('CROSS_SHARD_STATEMENT_IN_TRANSACTION', {
        what: 'joining another shard after a message with several statements and a savepoint failed part way',
        shards: [...participants(this).map((b) => b.shard)].join(', '),
      });
    return this.savepoints.replay();
  }

  /** A ROLLBACK TO undid the lock_timeout set after its savepoint: each participant gets it again. */
  forgetLockTimeouts(): void {
    this.lockTimeoutOn.clear();
  }

  /**
   * A transaction joining another shard starts there as it started (its BEGIN). Once it spans
   * shards, every participant gets transactions.lockTimeoutMs: no server sees a deadlock whose
   * cycle crosses shards, the timeout breaks it (see docs/transactions.md).
   */
  private crossShardPreamble(binding: ServerBinding): void {
    const state = this.state;
    const joining = binding.tracker.status === 0x49;
    if (joining && state.txStatus === 'E') throw new ShardgateError('TRANSACTION_ABORTED');
    if (!joining && (this.bindings.size < 2 || state.txStatus !== 'T')) return;
    const parts: string[] = joining ? [state.beginStatement ?? 'BEGIN'] : [];
    const ms = this.services.config.transactions.lockTimeoutMs;
    if (ms > 0 && !this.lockTimeoutOn.has(binding.serverName)) {
      parts.push(`SET LOCAL lock_timeout = ${ms}`);
      this.lockTimeoutOn.add(binding.serverName);
    }
    if (joining) parts.push(...this.savepointReplay());
    if (parts.length > 0) binding.transactionPreamble = parts.join('; ');
  }

  /**
   * The server connection for `target` when it needs no waiting: the session's own, or an idle one
   * of the pool with the client's settings (ServerBinding.tryAcquireIdle). Null: bindingFor.
   */
  private bindingNow(target: RouteTarget): ServerBinding | Promise<ServerBinding> | null {
    if (target.wait) return null;
    const existing = this.bindings.get(target.server);
    if (existing) return existing;
    const taken = ServerBinding.tryAcquireIdle(this, target.server);
    // A promise: the idle connection taken syncs the client's settings first.
    if (taken instanceof Promise) return taken.then((b) => this.keepBinding(target.server, b));
    return taken && this.keepBinding(target.server, taken);
  }

  /**
   * Gets (or reuses) the server connection for a target, waiting for replay when asked.
   * `pipelined`: a unit that may share a connection with other clients' (pool.multiplex).
   */
  async bindingFor(target: RouteTarget, pipelined: Unit | null = null): Promise<ServerBinding> {
    let serverName = target.server;
    if (target.wait) {
      const caughtUp = await this.services.topology.waitForPosition(
        target.server,
        target.wait.position,
        target.wait.maxWaitMs,
      );
      if (!caughtUp) serverName = target.wait.fallbackServer;
    }
    const existing = this.bindings.get(serverName);
    if (existing) return existing;
    // A transaction holds exactly one server; a different one here is a routing bug upstream.
    return this.keepBinding(serverName, await ServerBinding.acquire(this, serverName, pipelined));
  }

  /** A checked-out connection joins the session's, unless the client left meanwhile. */
  private keepBinding(serverName: string, binding: ServerBinding): ServerBinding {
    if (this.clientGone) {
      // The client left while we waited: onClientGone cannot see this connection, give it back
      // (a COPY FROM STDIN started for nobody would hold it forever).
      binding.release();
      throw new ShardgateError('QUERY_CANCELED');
    }
    this.bindings.set(serverName, binding);
    return binding;
  }

  /** After a unit: release server connections the session no longer needs (transaction pooling). */
  afterUnit(binding: ServerBinding): void {
    const s = this.state;
    if (s.txStatus === 'I' && !s.deferredBegin) {
      s.transactionShard = null;
      s.transactionServer = null;
      s.transactionReadOnly = false;
    }
    if (this.services.config.pool.mode === 'session' || s.pinnedReason) return;
    // A describe-only unit ran outside the (deferred) transaction: its server is free again.
    const serverIdle = binding.keepClientInTransaction && binding.tracker.status === 0x49;
    if ((s.txStatus !== 'I' && !serverIdle) || binding.copyIn || !binding.idle || binding.awaitingSync)
      return;
    this.bindings.delete(binding.serverName);
    binding.release();
  }

  releaseAll(): void {
    for (const binding of this.bindings.values()) binding.release();
    this.bindings.clear();
  }

  private awaitingSync(): boolean {
    for (const binding of this.bindings.values()) if (binding.awaitingSync) return true;
    return false;
  }

  private cancelRunning(): void {
    let running = false;
    for (const binding of this.bindings.values()) if (binding.cancel()) running = true;
    if (running) return;
    // No statement of this session runs on a server: the cancel is for the unit it runs next
    // (still being planned, or pipelined behind the one that just ended), which PostgreSQL would
    // be running already. It is answered 57014 unsent, or cancelled as soon as it is sent. A
    // Flush-ended unit is left alone: after its error the server would skip to a Sync we do not see.
    // A unit already sent whose server is idle is doing shardgate's own work (a two-phase COMMIT,
    // a key move's steps): that cancel is dropped, as a server drops one that finds it idle.
    const current = this.current;
    const next = current === null ? this.units.next : current.sent ? undefined : current;
    if (next && !next.flushOnly) next.cancelRequested = true;
  }

  /** The client vanished: roll back and return server connections, never leak their state. */
  onClientGone(): void {
    this.clientGone = true;
    this.copyInSink?.fail('the client went away');
    this.services.resultCache?.onSessionGone(this.state);
    this.idleTimer.disarm();
    this.services.cutover.unregister(this);
    if (this.cancelKey) this.services.cancel.unregister(this.cancelKey.processId);
    // A two-phase COMMIT in progress finishes first (endCrossShardCommit gives the connections back);
    // so does a multi-shard runner (runAcrossShards does).
    if (this.committingAcrossShards || this.acrossShards > 0) return;
    this.abandonBindings();
  }

  /**
   * A two-phase COMMIT is over (decided and finished, or rolled back). A client that left during
   * it was not given its connections back by onClientGone: they go back now, in every pooling
   * mode (session pooling and pinned sessions keep them otherwise, for a client that is gone).
   */
  endCrossShardCommit(): void {
    this.committingAcrossShards = false;
    // Inside a multi-shard runner (a key move's commit): runAcrossShards gives them back after it.
    if (this.clientGone && this.acrossShards === 0) this.abandonBindings();
  }

  private abandonBindings(): void {
    for (const binding of this.bindings.values()) binding.abandon();
    this.bindings.clear();
  }

  sendReady(): void {
    this.session.write(encodeReadyForQuery(this.state.txStatus));
  }
}

/** Startup parameters that are not settings: the connection's identity and protocol options. */
const NOT_SETTINGS = new Set(['user', 'database', 'options', 'replication']);

/**
 * Any other startup parameter is a setting PostgreSQL applies at connection start (custom
 * `some.var`, `work_mem`, ...); it follows the client to every server connection. `_pq_.*` are
 * protocol extensions, and `shardgate.*` belongs to shardgate's routing context.
 */
function isForwardedStartupSetting(key: string): boolean {
  return !NOT_SETTINGS.has(key) && !key.startsWith('_pq_.') && !key.startsWith('shardgate.');
}

/** A PostgreSQL boolean setting's value that means false (off, false, no, 0 and their prefixes). */
function isOff(value: string): boolean {
  return /^(of|off|f|fa|fal|fals|false|n|no|0)$/i.test(value.trim().replace(/^'|'$/g, ''));
}

function savepointStatements(statements: PlannedStatement[]) {
  return statements.map((s) => ({
    action: s.facts.transaction?.action ?? null,
    name: s.facts.transaction?.savepoint ?? null,
  }));
}

function isRollback(statements: PlannedStatement[]): boolean {
  const t = statements.length === 1 ? statements[0]!.facts.transaction : null;
  return t?.action === 'rollback';
}
