// A server connection held by a session for a while (one unit, one transaction, or the whole
// session when pinned or in session pooling). It forwards the client's bytes, rewrites the few
// messages that name prepared statements, injects what the server lacks (a deferred BEGIN, a
// re-prepare, settings), and follows the response with a ResponseTracker.
import { serialize } from 'pg-protocol';
import { giveBack } from '../../backend/give-back.js';
import type { PgPool } from '../../backend/pg-pool.js';
import {
  cancelServerStatement,
  type PgServerConnection,
  type SimpleResult,
} from '../../backend/pg-server-connection.js';
import {
  commitsTransaction,
  pgErrorSeverity,
  ServerLostError,
  serverLossError,
  writesData,
} from '../../backend/server-loss.js';
import { giveServerSlot, takeServerSlot, userServerLimit } from '../../backend/user-quota.js';
import { ShardgateError } from '../../errors.js';
import type { RowBudget } from '../../executor/merge-budget.js';
import { type CollectedResult, collect } from '../../executor/pg-collect.js';
import { readCommandTag, readErrorCode } from './backend-decoders.js';
import { CLOSE_COMPLETE, encodeErrorResponse, PARSE_COMPLETE } from './backend-messages.js';
import {
  decodeBind,
  decodeClose,
  decodeDescribe,
  decodeParse,
  renameStatement,
} from './frontend-messages.js';
import { type LaneMember, MuxLane, multiplexCounters } from './mux-lane.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import { ReadPreamble } from './read-preamble.js';
import { Expect, ResponseTracker, type TrackerSink } from './response-tracker.js';
import {
  builtinFunctionsLoaded,
  loadBuiltinFunctions,
  mayChangeUnseenState,
  reportedChange,
} from './server-state-changes.js';
import {
  invalidateServerStatement,
  invalidateServerStatementsAfterDdl,
  serverStatementName,
} from './session-state.js';
import {
  cachedPlanChangedError,
  describeOnServer,
  readShape,
  serverShapes,
  statementsToCheck,
} from './statement-shapes.js';
import { FE, type Unit } from './units.js';

export class ServerBinding implements LaneMember, TrackerSink {
  readonly tracker: ResponseTracker;
  /** Multiplexing: the connection is shared with other clients' units (mux-lane.ts). */
  private lane: MuxLane | null = null;
  /** A fresh connection for a pipelineable unit: it opens a lane when the unit is written. */
  private opensLane = false;
  /** The running unit Parsed or Closed a named statement on the server (see MuxLane). */
  touchedStatements = false;
  /** The client left while its unit was in flight on a shared connection. */
  private clientGone = false;
  private done: (() => void) | null = null;
  private failed: ((err: Error) => void) | null = null;
  private unitError = false;
  private lastTag = '';
  private released = false;
  /** The client is in a deferred transaction this server is not part of (see run()). */
  keepClientInTransaction = false;
  /**
   * The last unit ended with Flush, not Sync: the server's extended-protocol batch is open (an
   * implicit transaction, or skipping to Sync after an error). It stays with this client until a Sync.
   */
  awaitingSync = false;
  /** Errors of the running unit reach the client as this one (a cutover aborting the transaction). */
  errorOverride: ShardgateError | null = null;
  /** What the running unit is, for the error of a lost connection (see onServerLost). */
  private unitCommits = false;
  private unitWrites = false;
  /** A read outside a transaction: what of its response reached the client (see read-preamble.ts). */
  private readonly preamble = new ReadPreamble();
  /** Set by the query cycle before run(): the preamble the client saw from a lost earlier run. */
  inheritedPreamble: Buffer | null = null;
  /** The FATAL the server sent before closing, kept from a client that outlives it. */
  private serverFatal: string | null = null;
  /** The server's socket is paused until the client reads what it was sent (backpressure). */
  private pausedForClient = false;
  /** The user whose per-user quota this connection counts against (null: no limit). */
  private slotUser: string | null = null;
  /**
   * A transaction spanning shards: what to send ahead of the next unit on this server, its reply
   * swallowed (the BEGIN of a shard it joins, its lock_timeout; set by the query cycle).
   */
  transactionPreamble: string | null = null;
  /** Client statements the next unit must not run here, with the error the client gets instead. */
  private statementErrors: Map<string, Buffer> | null = null;

  private constructor(
    private readonly cycle: QueryCycle,
    readonly serverName: string,
    readonly shard: string,
    readonly role: 'primary' | 'replica',
    private readonly pool: PgPool,
    readonly conn: PgServerConnection,
  ) {
    // The binding is its tracker's sink (its methods, not closures made per checkout).
    this.tracker = new ResponseTracker(this);
  }

  /** TrackerSink: bytes of the response for the client. */
  forward(bytes: Buffer): void {
    if (!this.preamble.open && !this.preamble.mismatch) {
      this.cycle.session.write(bytes);
      return;
    }
    if (this.preamble.mismatch) return;
    const out = this.preamble.filter(bytes);
    if (out === null) {
      this.conn.destroy();
      this.lose('the read run again on this server answered with different columns', false);
    } else if (out.length > 0) {
      this.cycle.session.write(out);
    }
  }

  /** TrackerSink: the messages the binding follows (errors, command tags, settings reported). */
  onMessage(type: number, buf: Buffer, bodyStart: number, end: number): void {
    if (type === 0x45) {
      this.unitError = true;
      // What the client sees is 40001 when a cutover rewrites the error (rewriteError).
      if (this.errorOverride || readErrorCode(buf, bodyStart, end) === '40001')
        this.cycle.services.observer.onConflict?.('postgres', this.shard);
    } else if (type === 0x43) {
      this.lastTag = readCommandTag(buf, bodyStart, end);
    } else if (type === 0x53) {
      this.onParameterStatus(buf, bodyStart, end);
    }
  }

  /** TrackerSink: every request of the unit was answered. */
  onIdle(): void {
    this.done?.();
  }

  /** TrackerSink: the ErrorResponse the client sees instead of the server's (null: the server's). */
  rewriteError(buf: Buffer, start: number, end: number): Buffer | null {
    if (this.errorOverride) return encodeErrorResponse(this.errorOverride);
    if (!this.outlivesServer) return null;
    const { severity, message } = pgErrorSeverity(buf, start + 5, end);
    if (severity !== 'FATAL' && severity !== 'PANIC') return null;
    // The server is closing this connection; the client's session is not its to close.
    this.serverFatal = message;
    return EMPTY;
  }

  /** Rows of the unit's last CommandComplete ("SELECT 5", "INSERT 0 3"), null without a count. */
  get rowCount(): number | null {
    const m = /\s(\d+)$/.exec(this.lastTag);
    return m ? Number(m[1]) : null;
  }

  /** Routes the connection's bytes to this binding (after any internal queries on it). */
  attach(): void {
    if (this.lane) {
      this.lane.attachConn();
      return;
    }
    this.conn.onData = (chunk) => this.receive(chunk);
    this.conn.onClose = (err) => this.onServerLost(err);
  }

  /** Server bytes of this binding's units. */
  receive(chunk: Buffer): void {
    const session = this.cycle.session;
    session.cork();
    this.tracker.onData(chunk);
    session.uncork();
    // A client that does not read stops the server, never grows the proxy's buffers. On a lane,
    // a unit already answered holds nothing back: the bytes after it are other clients'.
    if (session.needsDrain && !this.pausedForClient && !this.clientGone && !(this.lane && this.tracker.idle))
      this.pauseForClient();
  }

  /** The shared connection was lost (a lane tells each of its members). */
  serverLost(err: Error | null, shun = true): void {
    if (shun) this.onServerLost(err);
    else this.lose(err?.message ?? 'server connection dropped', false);
  }

  /** Marks the binding done; its user's quota slot goes to the next session waiting for one. */
  private markReleased(): void {
    this.released = true;
    if (this.slotUser !== null) giveServerSlot('postgres', this.slotUser);
    this.slotUser = null;
  }

  /** A setting changed on the server (set_config in a function, SET inside a DO block...). */
  private onParameterStatus(buf: Buffer, bodyStart: number, end: number): void {
    const change = reportedChange(buf, bodyStart, end);
    if (!change) return;
    if (change.kind === 'identity') {
      this.conn.dirty = true;
      return;
    }
    // It follows the client like a SET; the next client of this connection gets it reset.
    serverSettings(this.conn).set(change.name, change.value);
    this.cycle.state.settings.set(change.name, change.value);
  }

  private pauseForClient(): void {
    // Units of other clients behind this one wait too: none are added while it lasts.
    const lane = this.lane;
    lane?.stopJoining();
    this.pausedForClient = true;
    this.conn.socket.pause();
    // They wait no longer than a checkout would (pool.checkoutTimeoutMs) for a client that reads
    // nothing: then it is closed, its unit's rest read unseen, and the lane goes on.
    const ms = this.cycle.services.config.pool.checkoutTimeoutMs;
    const stall = lane?.othersHeldBy(this)
      ? setTimeout(() => {
          // Units behind it may have been answered and gone meanwhile: alone, it may read slowly.
          if (!this.pausedForClient || this.released || !this.lane?.othersHeldBy(this)) return;
          multiplexCounters.stalledClientsClosed++;
          this.cycle.session.fail(new ShardgateError('MULTIPLEX_CLIENT_STALLED', { ms }), true);
        }, ms)
      : null;
    this.cycle.session.onDrained(() => {
      if (stall) clearTimeout(stall);
      this.pausedForClient = false;
      if (!this.released) this.conn.socket.resume();
    });
  }

  /**
   * `pipelined`: the unit about to run may share a connection with other clients' units
   * (mux-lane.ts pipelineable()); it joins a lane that takes it, else opens one on its connection.
   */
  static async acquire(
    cycle: QueryCycle,
    serverName: string,
    pipelined: Unit | null = null,
    /** A connection tryAcquireIdle already took (its settings need a sync). */
    taken: PgServerConnection | null = null,
  ): Promise<ServerBinding> {
    const topology = cycle.services.topology;
    const server = topology.server(serverName);
    if (!server) throw new ShardgateError('INTERNAL', { detail: `unknown server ${serverName}` });
    const config = cycle.services.config;
    /** When a pipelineable unit began waiting for room in a lane (the pool's queue counts from there). */
    let waitingSince: number | undefined;
    if (pipelined && builtinFunctionsLoaded()) {
      // No quota slot: a unit behind another one takes no server connection of its own.
      const pool = topology.poolFor(server, cycle.session.backend, cycle.state.database);
      const state = cycle.state;
      const deadline = Date.now() + config.pool.checkoutTimeoutMs;
      for (;;) {
        const lane = MuxLane.find(
          pool,
          config.pool.multiplex.depth,
          state.settings,
          serverSettings,
          pipelined,
          state.prepared,
        );
        if (lane) {
          const binding = new ServerBinding(cycle, serverName, server.shard, server.role, pool, lane.conn);
          binding.lane = lane;
          lane.reserve(binding);
          server.view.outstanding++;
          return binding;
        }
        // An idle connection or room for another: this unit opens a lane on it (below).
        if (!pool.exhausted || Date.now() >= deadline) break;
        if (!MuxLane.worthWaiting(pool, state.settings, serverSettings)) break;
        // Every connection is busy, some as lanes: room in one comes sooner than a free connection.
        waitingSince ??= deadline - config.pool.checkoutTimeoutMs;
        await MuxLane.waitForRoom(pool, deadline - Date.now());
      }
    }
    // Per-user quota first: a user at its limit waits here, holding nothing.
    const user = cycle.state.user;
    const counted = userServerLimit(config, user) > 0;
    const turn = counted ? takeServerSlot(config, 'postgres', user) : null;
    if (turn) await turn;
    const pool = topology.poolFor(server, cycle.session.backend, cycle.state.database);
    let conn: PgServerConnection;
    try {
      // Session pooling: the client owns the connection from here (checked, see acquire()).
      const session = config.pool.mode === 'session';
      conn =
        taken ??
        (session ? null : pool.tryAcquire()) ??
        (await (pipelined ? MuxLane.acquireFromPool(pool, waitingSince) : pool.acquire(undefined, session)));
    } catch (err) {
      if (counted) giveServerSlot('postgres', user);
      throw err;
    }
    const binding = new ServerBinding(cycle, serverName, server.shard, server.role, pool, conn);
    binding.slotUser = counted ? user : null;
    binding.opensLane = pipelined !== null;
    server.view.outstanding++;
    try {
      if (!builtinFunctionsLoaded()) await loadBuiltinFunctions(conn);
      // Usually the connection has the client's settings already: no round trip, no promise.
      if (settingsDiffer(cycle.state.settings, serverSettings(conn))) await binding.syncSettings();
      binding.attach();
    } catch (err) {
      server.view.outstanding--;
      binding.markReleased();
      pool.discard(conn);
      if (err instanceof ShardgateError || !conn.closed) throw err;
      // The connection died under the settings sync: nothing ran, nothing reached the client.
      const detail = err instanceof Error ? err.message : String(err);
      topology.shun(serverName, detail);
      throw new ServerLostError('BACKEND_LOST', { server: serverName, shard: server.shard, detail }, true);
    }
    return binding;
  }

  /**
   * The usual checkout without a promise: transaction pooling, no per-user limit, an idle
   * connection that already carries the client's settings. Null: acquire() (it waits, connects,
   * syncs); a promise when the idle connection taken needs its settings synced first.
   */
  static tryAcquireIdle(
    cycle: QueryCycle,
    serverName: string,
  ): ServerBinding | Promise<ServerBinding> | null {
    const config = cycle.services.config;
    if (config.pool.mode === 'session' || !builtinFunctionsLoaded()) return null;
    if (userServerLimit(config, cycle.state.user) > 0) return null;
    const topology = cycle.services.topology;
    const server = topology.server(serverName);
    if (!server) return null;
    const pool = topology.poolFor(server, cycle.session.backend, cycle.state.database);
    const conn = pool.tryAcquire();
    if (!conn) return null;
    if (settingsDiffer(cycle.state.settings, serverSettings(conn)))
      return ServerBinding.acquire(cycle, serverName, null, conn);
    const binding = new ServerBinding(cycle, serverName, server.shard, server.role, pool, conn);
    server.view.outstanding++;
    binding.attach();
    return binding;
  }

  /** Transaction pooling: the client never owned this connection, so its loss must not end the session. */
  private get outlivesServer(): boolean {
    return this.cycle.services.config.pool.mode === 'transaction' && !this.cycle.state.pinnedReason;
  }

  get idle(): boolean {
    return this.tracker.idle;
  }

  get copyIn(): boolean {
    return this.tracker.copyIn;
  }

  /** Brings the server connection's settings in line with the client's (one round trip, only on a difference). */
  private async syncSettings(): Promise<void> {
    const want = this.cycle.state.settings;
    const have = serverSettings(this.conn);
    const statements = settingsDiff(want, have);
    if (statements.length === 0) return;
    const result = await this.conn.query(statements.join('; '));
    if (result.error && /^(57P|08)/.test(result.error.code)) {
      // The server is shutting down or gone, not refusing the setting: a lost connection.
      this.conn.destroy();
      throw new Error(result.error.message);
    }
    if (result.error) {
      throw new ShardgateError('INVALID_HINT', {
        name: 'session setting',
        value: '',
        detail: result.error.message,
      });
    }
    have.clear();
    for (const [k, v] of want) have.set(k, v);
  }

  /**
   * Before a unit binds a statement the client described earlier: where this connection lacks it,
   * prepare it here and compare its result shape with the one the client was told (a driver decodes
   * rows by that). A different shape fails the Bind with the server's own 0A000, as a direct
   * connection would; the unit itself never runs a statement the client would misread.
   */
  /**
   * On a lane, a statement the unit binds is missing from the shared connection (evicted since the
   * lane took the unit): checking its shape there would be an internal round trip that swallows
   * other clients' replies, so the unit needs a connection of its own (query-cycle runSingle).
   */
  needsOwnConnection(unit: Unit): boolean {
    if (!this.lane) return false;
    for (const stmt of statementsToCheck(unit, this.cycle.state.prepared))
      if (!this.conn.prepared.has(stmt.serverName)) return true;
    return false;
  }

  /** Null when the unit binds no statement to check (the common case: no promise made). */
  checkStatementShapes(unit: Unit): Promise<void> | null {
    this.statementErrors = null;
    const stmts = statementsToCheck(unit, this.cycle.state.prepared);
    return stmts.length === 0 ? null : this.checkShapes(unit, stmts);
  }

  private async checkShapes(unit: Unit, stmts: ReturnType<typeof statementsToCheck>): Promise<void> {
    // Nothing internal ever runs on a shared connection (see needsOwnConnection).
    if (this.lane && this.needsOwnConnection(unit))
      throw new ShardgateError('INTERNAL', { detail: 'statement shape check on a shared server connection' });
    const conn = this.conn;
    const shapes = serverShapes(conn);
    const max = this.cycle.services.config.pool.maxPreparedStatements;
    for (const stmt of stmts) {
      let shape: string | undefined;
      if (conn.prepared.has(stmt.serverName)) {
        shape = shapes.get(stmt.serverName);
      } else {
        // Mid-batch or in a failed transaction nothing can be prepared apart: as before.
        if (this.awaitingSync || this.tracker.status === 0x45 || this.released || conn.closed) continue;
        const oldest =
          max > 0 && conn.prepared.size >= max ? (conn.prepared.keys().next().value as string) : null;
        conn.onData = null;
        conn.onClose = null;
        let outcome: Awaited<ReturnType<typeof describeOnServer>> | null = null;
        try {
          outcome = await describeOnServer(conn, stmt, oldest);
        } catch {
          // Lost: run() reports it like any lost connection.
        }
        this.attach();
        if (conn.closed) {
          this.onServerLost(null);
          return;
        }
        if (!outcome) continue;
        if (oldest !== null) conn.prepared.delete(oldest);
        if ('error' in outcome) {
          this.failStatement(stmt.clientName, outcome.error);
          continue;
        }
        conn.prepared.set(stmt.serverName, true);
        shapes.set(stmt.serverName, outcome.shape);
        shape = outcome.shape;
      }
      if (shape === undefined || shape === stmt.shape) continue;
      this.failStatement(stmt.clientName, cachedPlanChangedError());
      // Later Parses of this text get a fresh server statement, planned against the new schema.
      invalidateServerStatement(stmt.sql, stmt.paramTypes, stmt.serverName);
    }
  }

  private failStatement(clientName: string, error: Buffer): void {
    if (!this.statementErrors) this.statementErrors = new Map();
    this.statementErrors.set(clientName, error);
  }

  /** Forwards one unit; resolves when its last response reached the client (true: no error). */
  run(unit: Unit, statements: PlannedStatement[]): Promise<boolean> {
    const state = this.cycle.state;
    const conn = this.conn;
    const out: Buffer[] = [];
    this.unitError = false;
    this.lastTag = '';
    this.touchedStatements = false;
    this.awaitingSync = !unit.simple && unit.flushOnly;
    const isWrite = statements.some(
      (s) => (s.plan.type === 'single' && s.plan.write) || s.facts.kind === 'ddl',
    );
    this.unitCommits = commitsTransaction(statements);
    this.unitWrites = isWrite || writesData(statements);
    this.preamble.begin(
      !this.unitWrites && state.txStatus === 'I' && !state.deferredBegin,
      this.inheritedPreamble,
    );
    this.inheritedPreamble = null;
    // A unit that only prepares or describes touches no data: it must not bind the transaction
    // to this server, so a deferred BEGIN waits for the first unit that executes something.
    const describeOnly = !unit.simple && !unit.frames.some((f) => f.type === FE.Execute);
    this.keepClientInTransaction = describeOnly && state.deferredBegin !== null;
    // A BEGIN shardgate answered itself goes first; its response is the client's already.
    if (state.deferredBegin && !describeOnly) {
      out.push(serialize.query(state.deferredBegin));
      this.tracker.push({ expect: Expect.Query, swallow: true, forwardErrors: true });
      state.beginStatement = state.deferredBegin;
      state.deferredBegin = null;
      state.transactionShard = this.shard;
      state.transactionServer = this.serverName;
    }
    if (this.transactionPreamble && !describeOnly) {
      out.push(serialize.query(this.transactionPreamble));
      this.tracker.push({ expect: Expect.Query, swallow: true, forwardErrors: true });
      this.transactionPreamble = null;
    }
    if (unit.simple) {
      out.push(unit.frames[0]!.bytes);
      this.tracker.push({ expect: Expect.Query, swallow: false });
    } else if (isPlainExtended(unit) && !this.keepClientInTransaction) {
      // Unnamed statements and portals only: forward the unit as-is, follow it as one entry.
      for (const frame of unit.frames) {
        if (frame.type === FE.Parse) {
          const p = decodeParse(frame.bytes);
          this.cycle.unnamed = { sql: p.query, paramTypes: p.paramTypes };
        }
        out.push(frame.bytes);
      }
      this.tracker.push({ expect: Expect.Fast, swallow: false });
    } else {
      this.encodeExtended(unit, out);
    }
    this.statementErrors = null;
    // read_your_writes: learn the commit position of a write at no extra round trip. Inside a
    // transaction the position only matters at COMMIT.
    const commits = statements.some((s) => s.facts.transaction?.action === 'commit');
    const opensTransaction = statements.some((s) => s.facts.transaction?.action === 'begin');
    const probe = commits || (isWrite && state.txStatus === 'I' && !opensTransaction && !state.deferredBegin);
    let position: string | null = null;
    if (probe && this.role === 'primary' && this.cycle.services.topology.hasReplicas(this.shard)) {
      out.push(serialize.query('SELECT pg_catalog.pg_current_wal_lsn()::text'));
      this.tracker.push({ expect: Expect.Query, swallow: true, capture: (v) => (position = v) });
    }
    if (this.released) {
      // The connection went away between checkout and now: nothing was sent.
      return Promise.reject(
        new ServerLostError(
          'BACKEND_LOST',
          { server: this.serverName, shard: this.shard, detail: 'server closed the connection' },
          !this.preamble.passed,
          this.preamble.passed ? null : this.preamble.seen(),
        ),
      );
    }
    return new Promise<boolean>((resolve, reject) => {
      this.done = () => {
        this.done = null;
        this.failed = null;
        this.afterUnit(statements, position, isWrite);
        resolve(!this.unitError);
      };
      this.failed = (err) => {
        this.done = null;
        this.failed = null;
        reject(err);
      };
      // The unit is complete when every request sent for it has been answered (tracker idle).
      conn.lastUsedAt = Date.now();
      if (this.opensLane) {
        // Its first unit makes the connection a lane: other clients' units may follow it now.
        // Only at the pool's bound: below it the next unit takes a connection of its own (find()
        // joins lanes only then), so a lane would cost work per unit and help nobody.
        this.opensLane = false;
        if (this.pool.exhausted) {
          this.lane = MuxLane.open(this.pool, conn);
          this.lane.reserve(this);
        }
      }
      const lane = this.lane;
      if (lane) {
        lane.enter(this);
        lane.write(joined(out));
      } else {
        conn.write(joined(out));
      }
      unit.sent = true;
      this.tracker.flushSynthetic();
      if (unit.cancelRequested) this.cancel();
    });
  }

  /** Rewrites messages that name prepared statements; passes everything else untouched. */
  private encodeExtended(unit: Unit, out: Buffer[]): void {
    const state = this.cycle.state;
    const conn = this.conn;
    const maxPrepared = this.cycle.services.config.pool.maxPreparedStatements;
    const tracker = this.tracker;
    for (const frame of unit.frames) {
      const bytes = frame.bytes;
      switch (frame.type) {
        case FE.Parse: {
          const p = decodeParse(bytes);
          if (p.name === '') {
            this.cycle.unnamed = { sql: p.query, paramTypes: p.paramTypes };
            out.push(bytes);
            tracker.push({ expect: Expect.Parse, swallow: false });
            break;
          }
          const serverName = serverStatementName(p.query, p.paramTypes);
          const stmt = { clientName: p.name, serverName, sql: p.query, paramTypes: p.paramTypes };
          const previous = state.prepared.get(p.name);
          state.prepared.set(p.name, stmt);
          // A Parse that fails (or is skipped after an earlier error) creates no statement.
          const forgetClientName = () => {
            if (state.prepared.get(p.name) !== stmt) return;
            if (previous) state.prepared.set(p.name, previous);
            else state.prepared.delete(p.name);
          };
          if (conn.prepared.has(serverName)) {
            tracker.push({
              expect: Expect.Synthetic,
              swallow: false,
              bytes: PARSE_COMPLETE,
              onFailed: forgetClientName,
            });
          } else {
            out.push(renameStatement(bytes, serverName));
            serverShapes(conn).delete(serverName);
            tracker.push({
              expect: Expect.Parse,
              swallow: false,
              onFailed: () => {
                forgetClientName();
                conn.prepared.delete(serverName);
              },
            });
            rememberPrepared(conn, serverName, maxPrepared, out, tracker);
            this.touchedStatements = true;
          }
          break;
        }
        case FE.Bind: {
          const b = decodeBind(bytes);
          if (b.statement === '') {
            if (!unit.frames.some((f) => f.type === FE.Parse) && this.cycle.unnamed) {
              // The unnamed statement was parsed in an earlier unit, maybe on another server.
              const u = this.cycle.unnamed;
              out.push(serialize.parse({ name: '', text: u.sql, types: u.paramTypes }));
              tracker.push({ expect: Expect.Parse, swallow: true, forwardErrors: true });
            }
            out.push(bytes);
            tracker.push({ expect: Expect.Bind, swallow: false });
          } else {
            const refused = this.statementErrors?.get(b.statement);
            if (refused) {
              this.refuseBind(refused, out);
              break;
            }
            const serverName = this.ensurePrepared(b.statement, out);
            out.push(renameStatement(bytes, serverName));
            tracker.push({
              expect: Expect.Bind,
              swallow: false,
              onFailed: this.onStatementFailed(b.statement),
            });
          }
          break;
        }
        case FE.Describe: {
          const d = decodeDescribe(bytes);
          const named = d.kind === 'S' && d.name !== '';
          let onDescribed: ((type: number, buf: Buffer, start: number, end: number) => void) | undefined;
          if (named) {
            const serverName = this.ensurePrepared(d.name, out);
            out.push(renameStatement(bytes, serverName));
            const stmt = state.prepared.get(d.name);
            // What the client is told now is what it will decode this statement's rows by.
            onDescribed = (type, buf, start, end) => {
              const shape = readShape(type, buf, start, end);
              if (stmt) stmt.shape = shape;
              serverShapes(conn).set(serverName, shape);
            };
          } else {
            out.push(bytes);
          }
          tracker.push({
            expect: d.kind === 'S' ? Expect.DescribeStatement : Expect.DescribePortal,
            swallow: false,
            ...(named ? { onFailed: this.onStatementFailed(d.name), onDescribed } : {}),
          });
          break;
        }
        case FE.Close: {
          const c = decodeClose(bytes);
          if (c.kind === 'S' && c.name !== '') {
            // Server copies stay cached for other clients; the client's name goes away.
            state.prepared.delete(c.name);
            tracker.push({ expect: Expect.Synthetic, swallow: false, bytes: CLOSE_COMPLETE });
          } else {
            out.push(bytes);
            tracker.push({ expect: Expect.Close, swallow: false });
          }
          break;
        }
        case FE.Execute:
          out.push(bytes);
          tracker.push({ expect: Expect.Execute, swallow: false });
          break;
        case FE.Sync:
          out.push(bytes);
          tracker.push({
            expect: Expect.Sync,
            swallow: false,
            ...(this.keepClientInTransaction ? { readyStatus: 0x54 } : {}),
          });
          break;
        case FE.Flush:
          out.push(bytes);
          break;
        default:
          out.push(bytes);
      }
    }
  }

  /** Makes sure the server holds the client's statement; injects a Parse whose reply is dropped. */
  private ensurePrepared(clientName: string, out: Buffer[]): string {
    const stmt = this.cycle.state.prepared.get(clientName);
    if (!stmt) {
      throw new ShardgateError('PROTOCOL_VIOLATION', {
        detail: `prepared statement "${clientName}" does not exist`,
      });
    }
    if (!this.conn.prepared.has(stmt.serverName)) {
      const conn = this.conn;
      out.push(serialize.parse({ name: stmt.serverName, text: stmt.sql, types: stmt.paramTypes }));
      serverShapes(conn).delete(stmt.serverName);
      this.tracker.push({
        expect: Expect.Parse,
        swallow: true,
        forwardErrors: true,
        onFailed: () => conn.prepared.delete(stmt.serverName),
      });
      rememberPrepared(
        conn,
        stmt.serverName,
        this.cycle.services.config.pool.maxPreparedStatements,
        out,
        this.tracker,
      );
      this.touchedStatements = true;
    } else {
      // LRU: touch.
      this.conn.prepared.delete(stmt.serverName);
      this.conn.prepared.set(stmt.serverName, true);
    }
    return stmt.serverName;
  }

  /**
   * The client's Bind fails with `error` (checkStatementShapes) and runs nothing. The server fails
   * the batch too (a Parse that cannot succeed, its own error dropped): it skips to the Sync and
   * aborts the transaction or the batch's implicit one, as the client's Bind failing there would.
   */
  private refuseBind(error: Buffer, out: Buffer[]): void {
    this.unitError = true;
    this.tracker.push({ expect: Expect.Synthetic, swallow: false, bytes: error });
    out.push(serialize.parse({ name: '', text: 'shardgate: the statement cannot run here', types: [] }));
    this.tracker.push({ expect: Expect.Parse, swallow: true });
  }

  /**
   * A Bind or Describe of a client's statement failed. `cached plan must not change result type`
   * (0A000, after DDL) stays true for this server-side statement for good, and it is shared: later
   * Parses of the same text get a fresh server name, as a re-prepare on a direct connection would.
   */
  private onStatementFailed(clientName: string): (error: Buffer | null) => void {
    return (error) => {
      if (!error || readErrorCode(error) !== '0A000') return;
      const stmt = this.cycle.state.prepared.get(clientName);
      if (stmt) invalidateServerStatement(stmt.sql, stmt.paramTypes, stmt.serverName);
    };
  }

  private afterUnit(statements: PlannedStatement[], position: string | null, isWrite: boolean): void {
    const state = this.cycle.state;
    const status = String.fromCharCode(this.tracker.status) as 'I' | 'T' | 'E';
    const wasInTransaction = state.txStatus !== 'I';
    if (this.keepClientInTransaction) return;
    state.txStatus = status;
    if (status !== 'I') {
      state.transactionShard = this.shard;
      state.transactionServer = this.serverName;
      for (const s of statements) {
        if (s.facts.transaction?.action === 'begin') {
          state.transactionReadOnly = s.facts.transaction.readOnly;
          state.beginStatement = s.sql;
        }
      }
    }
    if (position && (isWrite || wasInTransaction) && status === 'I') {
      state.lastWritePositions.set(this.shard, position);
    }
    // Session settings made by the client follow it to other server connections.
    if (!this.unitError) {
      for (const s of statements) {
        const f = s.facts.session;
        if (f && !f.local && (f.action === 'set' || f.action === 'reset' || f.action === 'discard')) {
          applySetting(
            state.settings,
            serverSettings(this.conn),
            f.action,
            f.name,
            f.value,
            status !== 'I' || wasInTransaction,
            state.pendingSettings,
          );
          if (f.action === 'discard' && (f.name === 'all' || f.name === 'plans')) this.conn.prepared.clear();
        }
        if (s.facts.pinsSession && !state.pinnedReason) state.pinnedReason = s.facts.kind;
      }
    }
    if (status === 'I' && state.pendingSettings.size > 0) {
      if (this.lastTag === 'COMMIT') {
        for (const [k, v] of state.pendingSettings) {
          if (v === null) state.settings.delete(k);
          else state.settings.set(k, v);
        }
      } else {
        // Rolled back: the server's values reverted too.
        const have = serverSettings(this.conn);
        for (const k of state.pendingSettings.keys()) {
          const v = state.settings.get(k);
          if (v === undefined) have.delete(k);
          else have.set(k, v);
        }
      }
      state.pendingSettings.clear();
    }
    if (!this.unitError && statements.some((s) => s.facts.kind === 'ddl'))
      invalidateServerStatementsAfterDdl();
    // State no SET shows (DO, CALL, user functions): reset before another client gets the connection.
    if (mayChangeUnseenState(statements)) this.conn.dirty = true;
    if (this.unitError && statements.some((s) => s.facts.kind !== 'read')) {
      // A failed unit may have left prepared statements half-known: forget ours, re-prepare lazily.
      this.conn.dirty = true;
    }
  }

  /**
   * Runs shardgate's own statement on this connection between units (PREPARE TRANSACTION,
   * COMMIT PREPARED...); nothing of it reaches the client. A connection lost here is given up.
   */
  async runInternal(sql: string): Promise<SimpleResult> {
    const conn = this.conn;
    if (this.released || conn.closed) throw new Error(`the connection to ${this.serverName} was lost`);
    conn.onData = null;
    conn.onClose = null;
    try {
      const result = await conn.query(sql);
      this.tracker.status = conn.txStatus.charCodeAt(0);
      return result;
    } finally {
      if (!conn.closed) this.attach();
      else this.giveUpLost();
    }
  }

  /** Shardgate's own request (protocol messages ending in Sync) on this connection, its response collected. */
  async collectInternal(request: Buffer, budget: RowBudget): Promise<CollectedResult> {
    const conn = this.conn;
    if (this.released || conn.closed) throw new Error(`the connection to ${this.serverName} was lost`);
    try {
      const result = await collect(conn, request, budget, false);
      this.tracker.status = result.status;
      return result;
    } finally {
      if (!conn.closed) this.attach();
      else this.giveUpLost();
    }
  }

  /** The connection died under shardgate's own statement: out of the session, out of the pool. */
  private giveUpLost(): void {
    if (this.released) return;
    this.discardLost();
    this.cycle.services.topology.shun(this.serverName, 'connection lost during a two-phase commit step');
  }

  /** Released: the session's server slot and this server's outstanding count are given back. */
  private releaseServer(): void {
    this.markReleased();
    const server = this.cycle.services.topology.server(this.serverName);
    if (server) server.view.outstanding--;
  }

  /** A lost (or given up) connection: released, out of the pool and out of the session. */
  private discardLost(): void {
    this.releaseServer();
    this.pool.discard(this.conn);
    this.cycle.bindings.delete(this.serverName);
  }

  get lost(): boolean {
    return this.released || this.conn.closed;
  }

  /** Returns false when nothing of this session runs here (the cancel is not for this server). */
  cancel(): boolean {
    // Nothing of this session runs here: a cancel signal reaches the server late (a new
    // connection to the postmaster), and by then the connection may run another statement, this
    // client's next one or, back in the pool, another client's. PostgreSQL drops a cancel that
    // finds its backend idle; one that comes late does not (conn.stops holds the next one back).
    if (this.tracker.idle) return false;
    const lane = this.lane;
    if (lane) {
      // A cancel reaches whatever statement the server runs: with other clients' units in flight
      // on this connection it could be theirs, so it is sent only while this unit is alone.
      lane.stopJoining();
      if (!lane.alone(this)) return true;
    }
    cancelServerStatement(this.conn);
    return true;
  }

  /** Return the connection to its pool (session idle, transaction finished). */
  release(): void {
    if (this.released) return;
    this.releaseServer();
    const conn = this.conn;
    const lane = this.lane;
    if (lane) {
      if (this.pausedForClient) {
        this.pausedForClient = false;
        conn.socket.resume();
      }
      // Other clients' units still hold the connection: the last one returns it.
      if (!lane.leave(this)) return;
      this.lane = null;
    }
    conn.onData = null;
    if (this.pausedForClient) conn.socket.resume();
    if (this.awaitingSync) {
      // Mid-batch (the server may be skipping to a Sync that never comes): no one else can use it.
      this.pool.discard(conn);
      return;
    }
    // Anything we cannot replay is wiped before another client sees this connection.
    const reset =
      conn.dirty || this.cycle.state.pinnedReason || this.tracker.status !== 0x49 || !this.tracker.idle;
    giveBack(this.pool, conn, reset ? () => this.wipe() : null);
  }

  /** Rolls back and runs the reset query: what the next client must not see is gone. */
  private async wipe(): Promise<void> {
    const conn = this.conn;
    if (this.tracker.status !== 0x49) await conn.exec('ROLLBACK');
    await conn.exec(this.cycle.services.config.pool.resetQuery);
    conn.prepared.clear();
    serverSettings(conn).clear();
    conn.dirty = false;
  }

  /** The client went away: cancel anything running, roll back, then reset or drop. */
  abandon(): void {
    if (this.released) return;
    if (this.lane && !this.tracker.idle) {
      // Other clients' units follow this one on the connection: it finishes unseen, then the
      // query cycle releases it (dropping the connection would fail theirs).
      this.clientGone = true;
      if (this.pausedForClient) {
        this.pausedForClient = false;
        this.conn.socket.resume();
      }
      return;
    }
    if (!this.tracker.idle) {
      // Mid-query: the response stream is in an unknown place; drop the connection.
      this.releaseServer();
      this.cancel();
      this.pool.discard(this.conn);
      return;
    }
    this.release();
  }

  private onServerLost(err: Error | null): void {
    this.lose(this.serverFatal ?? err?.message ?? 'server closed the connection', true);
  }

  /** The connection is gone (or given up): fail the unit or the transaction, and maybe the session. */
  private lose(detail: string, shun: boolean): void {
    if (this.released) return;
    this.discardLost();
    const topology = this.cycle.services.topology;
    if (shun) topology.shun(this.serverName, detail);
    topology.faultCounters.serverConnectionsLost++;
    const params = { server: this.serverName, shard: this.shard, detail };
    const state = this.cycle.state;
    if (!this.outlivesServer) {
      // Session pooling (or a pinned session): the client owned this connection; as on the server.
      const error = new ShardgateError('BACKEND_DIED', params);
      state.txStatus = 'I';
      // The client already has the server's FATAL (57P01 after pg_terminate_backend, 57P02...):
      // like a direct connection, it sees that and then a plain close, not a second error of ours.
      if (this.tracker.fatalForwarded) this.cycle.session.close();
      if (this.failed) this.failed(error);
      else this.cycle.session.fail(error);
      return;
    }
    const running = this.failed !== null;
    const error = serverLossError(
      {
        inTransaction: state.txStatus !== 'I',
        commits: running && this.unitCommits,
        writes: running && this.unitWrites,
        clientSawBytes: this.preamble.passed,
      },
      params,
      this.preamble.passed ? null : this.preamble.seen(),
    );
    this.cycle.onServerLost(error);
    if (this.failed) this.failed(error);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The unit's bytes as one buffer. A unit forwarded as the client sent it is usually one stretch of
 * the client's chunk (the framer hands out views of it): then a view of that stretch, no copy.
 */
function joined(parts: Buffer[]): Buffer {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.buffer !== first.buffer || p.byteOffset !== end) return Buffer.concat(parts);
    end += p.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** A Sync-terminated unit that names no prepared statement: nothing to rename or inject. */
function isPlainExtended(unit: Unit): boolean {
  if (unit.flushOnly) return false;
  let parsed = false;
  for (const f of unit.frames) {
    const t = f.type;
    if (t === FE.Parse) parsed = true;
    // A Bind of the unnamed statement parsed in an earlier unit may land on another server.
    if (t === FE.Bind && !parsed) return false;
    // Parse/Bind/Describe/Close carry a name right after the header; an empty name is one NUL.
    if (t === FE.Parse || t === FE.Close || t === FE.Describe) {
      const nameAt = t === FE.Parse ? 5 : 6;
      if (f.bytes[nameAt] !== 0) return false;
    } else if (t === FE.Bind) {
      // portal name, then statement name
      if (f.bytes[5] !== 0 || f.bytes[6] !== 0) return false;
    }
  }
  return true;
}

function rememberPrepared(
  conn: PgServerConnection,
  serverName: string,
  max: number,
  out: Buffer[],
  tracker: ResponseTracker,
): void {
  conn.prepared.set(serverName, true);
  if (max > 0 && conn.prepared.size > max) {
    const oldest = conn.prepared.keys().next().value as string;
    conn.prepared.delete(oldest);
    out.push(serialize.close({ type: 'S', name: oldest }));
    // Skipped after an error: the server still holds it.
    tracker.push({ expect: Expect.Close, swallow: true, onFailed: () => conn.prepared.set(oldest, true) });
  }
}

const settingsByConn = new WeakMap<PgServerConnection, Map<string, string>>();

/** Whether `have` (a server connection's settings) differs from `want`, without allocating. */
function settingsDiffer(want: ReadonlyMap<string, string>, have: ReadonlyMap<string, string>): boolean {
  if (want.size !== have.size) return true;
  for (const [name, value] of want) if (have.get(name) !== value) return true;
  return false;
}

/** The statements that bring `have` (a server connection's settings) to `want`. */
function settingsDiff(want: ReadonlyMap<string, string>, have: ReadonlyMap<string, string>): string[] {
  const statements: string[] = [];
  for (const [name, value] of want) {
    if (have.get(name) !== value)
      statements.push(`SELECT pg_catalog.set_config(${quote(name)}, ${quote(value)}, false)`);
  }
  for (const name of have.keys()) {
    if (!want.has(name)) statements.push(`RESET ${quoteIdent(name)}`);
  }
  return statements;
}

/**
 * Gives `conn`, a connection opened ahead of a cutover (RuntimeTopology.prewarm), the settings the
 * clients of `like` (the source shard's pool) use, so a write the block releases finds it ready:
 * without this every fresh connection costs its first client a settings round trip (a client
 * without application_name wants '', a new connection carries "shardgate"). What they use is read
 * here, once, from the source connection a client synced last (its settings are that client's
 * after syncSettings): nothing is recorded per checkout. Throws when the server refuses: the caller
 * drops the connection.
 */
export async function warmLike(conn: PgServerConnection, like: PgPool): Promise<void> {
  // Shardgate's own checkouts (parameters, probes) sync nothing: a connection a client synced
  // carries settings other than a fresh one's (an empty map is one reset to them).
  const fresh = freshSettings();
  const source = like
    .openConnections()
    .find((c) => serverSettings(c).size > 0 && settingsDiffer(serverSettings(c), fresh));
  if (!source) return;
  // A copy: a client may SET on the source while this round trip runs; record what was sent.
  const want = new Map(serverSettings(source));
  const have = serverSettings(conn);
  const statements = settingsDiff(want, have);
  if (statements.length === 0) return;
  const result = await conn.query(statements.join('; '));
  if (result.error) throw new Error(result.error.message);
  have.clear();
  for (const [k, v] of want) have.set(k, v);
}

/** What a connection shardgate opened carries (its startup parameters). */
function freshSettings(): Map<string, string> {
  return new Map([
    ['application_name', 'shardgate'],
    ['client_encoding', 'UTF8'],
  ]);
}

/** Settings a server connection carries beyond its defaults (what clients SET on it). */
export function serverSettings(conn: PgServerConnection): Map<string, string> {
  let map = settingsByConn.get(conn);
  if (!map) {
    map = freshSettings();
    settingsByConn.set(conn, map);
  }
  return map;
}

function applySetting(
  settings: Map<string, string>,
  serverHas: Map<string, string>,
  action: 'set' | 'reset' | 'discard',
  name: string | null,
  value: string | null,
  inTransaction: boolean,
  pending: Map<string, string | null>,
): void {
  if (action === 'discard' || (action === 'reset' && (name === 'all' || name === null))) {
    if (action === 'discard' && name !== 'all') return;
    settings.clear();
    serverHas.clear();
    return;
  }
  if (!name) return;
  const newValue = action === 'set' ? value : null;
  if (newValue === null) serverHas.delete(name);
  else serverHas.set(name, newValue);
  if (inTransaction) {
    pending.set(name, newValue);
    return;
  }
  if (newValue === null) settings.delete(name);
  else settings.set(name, newValue);
}

function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Always quoted: a setting may be named by a reserved word (`RESET some.var` is a syntax error). */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
