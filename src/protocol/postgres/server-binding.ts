// A server connection held by a session for a while (one unit, one transaction, or the whole
// session when pinned or in session pooling). It forwards the client's bytes, rewrites the few
// messages that name prepared statements, injects what the server lacks (a deferred BEGIN, a
// re-prepare, settings), and follows the response with a ResponseTracker.
import { serialize } from 'pg-protocol';
import { type PgServerConnection, sendCancel } from '../../backend/pg-server-connection.js';
import type { PgPool } from '../../backend/pool.js';
import { giveServerSlot, takeServerSlot, userServerLimit } from '../../backend/user-quota.js';
import { ShardgateError } from '../../errors.js';
import { readCommandTag } from './backend-decoders.js';
import { encodeCloseComplete, encodeErrorResponse, encodeParseComplete } from './backend-messages.js';
import {
  decodeBind,
  decodeClose,
  decodeDescribe,
  decodeParse,
  renameStatement,
} from './frontend-messages.js';
import type { LocalResponder } from './local-responder.js';
import type { PlannedStatement, QueryCycle } from './query-cycle.js';
import { Expect, ResponseTracker } from './response-tracker.js';
import {
  builtinFunctionsLoaded,
  loadBuiltinFunctions,
  mayChangeUnseenState,
  reportedChange,
} from './server-state-changes.js';
import { serverStatementName } from './session-state.js';
import { FE, type Unit } from './units.js';

export class ServerBinding {
  readonly tracker: ResponseTracker;
  private done: (() => void) | null = null;
  private failed: ((err: Error) => void) | null = null;
  private unitError = false;
  private lastTag = '';
  private released = false;
  /** The client is in a deferred transaction this server is not part of (see run()). */
  keepClientInTransaction = false;
  /** Errors of the running unit reach the client as this one (a cutover aborting the transaction). */
  errorOverride: ShardgateError | null = null;
  /** The server's socket is paused until the client reads what it was sent (backpressure). */
  private pausedForClient = false;
  /** The user whose per-user quota this connection counts against (null: no limit). */
  private slotUser: string | null = null;

  private constructor(
    private readonly cycle: QueryCycle,
    readonly serverName: string,
    readonly shard: string,
    readonly role: 'primary' | 'replica',
    private readonly pool: PgPool,
    readonly conn: PgServerConnection,
  ) {
    const session = cycle.session;
    this.tracker = new ResponseTracker({
      forward: (bytes) => session.write(bytes),
      onMessage: (type, buf, bodyStart, end) => {
        if (type === 0x45) {
          this.unitError = true;
        } else if (type === 0x43) {
          this.lastTag = readCommandTag(buf, bodyStart, end);
        } else if (type === 0x53) {
          this.onParameterStatus(buf, bodyStart, end);
        }
      },
      onIdle: () => this.done?.(),
      rewriteError: () => (this.errorOverride ? encodeErrorResponse(this.errorOverride) : null),
    });
  }

  /** Routes the connection's bytes to this binding (after any internal queries on it). */
  attach(): void {
    const session = this.cycle.session;
    this.conn.onData = (chunk) => {
      session.cork();
      this.tracker.onData(chunk);
      session.uncork();
      // A client that does not read stops the server, never grows the proxy's buffers.
      if (session.needsDrain && !this.pausedForClient) this.pauseForClient();
    };
    this.conn.onClose = (err) => this.onServerLost(err);
  }

  /** Marks the binding done; its user's quota slot goes to the next session waiting for one. */
  private markReleased(): void {
    this.released = true;
    if (this.slotUser !== null) giveServerSlot(this.slotUser);
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
    this.pausedForClient = true;
    this.conn.socket.pause();
    this.cycle.session.onDrained(() => {
      this.pausedForClient = false;
      if (!this.released) this.conn.socket.resume();
    });
  }

  static async acquire(cycle: QueryCycle, serverName: string): Promise<ServerBinding> {
    const topology = cycle.services.topology;
    const server = topology.server(serverName);
    if (!server) throw new ShardgateError('INTERNAL', { detail: `unknown server ${serverName}` });
    // Per-user quota first: a user at its limit waits here, holding nothing.
    const config = cycle.services.config;
    const user = cycle.state.user;
    const counted = userServerLimit(config, user) > 0;
    const turn = counted ? takeServerSlot(config, user) : null;
    if (turn) await turn;
    let conn: PgServerConnection;
    try {
      conn = await server.pool.acquire();
    } catch (err) {
      if (counted) giveServerSlot(user);
      throw err;
    }
    const binding = new ServerBinding(cycle, serverName, server.shard, server.role, server.pool, conn);
    binding.slotUser = counted ? user : null;
    server.view.outstanding++;
    try {
      if (!builtinFunctionsLoaded()) await loadBuiltinFunctions(conn);
      await binding.syncSettings();
      binding.attach();
    } catch (err) {
      server.view.outstanding--;
      binding.markReleased();
      server.pool.discard(conn);
      throw err;
    }
    return binding;
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
    const statements: string[] = [];
    for (const [name, value] of want) {
      if (have.get(name) !== value)
        statements.push(`SELECT pg_catalog.set_config(${quote(name)}, ${quote(value)}, false)`);
    }
    for (const name of have.keys()) {
      if (!want.has(name)) statements.push(`RESET ${quoteIdent(name)}`);
    }
    if (statements.length === 0) return;
    const result = await this.conn.query(statements.join('; '));
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

  /** Forwards one unit; resolves when its last response reached the client (true: no error). */
  run(unit: Unit, statements: PlannedStatement[], responder: LocalResponder): Promise<boolean> {
    const state = this.cycle.state;
    const conn = this.conn;
    const out: Buffer[] = [];
    this.unitError = false;
    this.lastTag = '';
    const isWrite = statements.some(
      (s) => (s.plan.type === 'single' && s.plan.write) || s.facts.kind === 'ddl',
    );
    // A unit that only prepares or describes touches no data: it must not bind the transaction
    // to this server, so a deferred BEGIN waits for the first unit that executes something.
    const describeOnly = !unit.simple && !unit.frames.some((f) => f.type === FE.Execute);
    this.keepClientInTransaction = describeOnly && state.deferredBegin !== null;
    // A BEGIN shardgate answered itself goes first; its response is the client's already.
    if (state.deferredBegin && !describeOnly) {
      out.push(serialize.query(state.deferredBegin));
      this.tracker.push({ expect: Expect.Query, swallow: true, forwardErrors: true });
      state.deferredBegin = null;
      state.transactionShard = this.shard;
      state.transactionServer = this.serverName;
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
    void responder;
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
      if (out.length === 1) conn.write(out[0]!);
      else conn.write(Buffer.concat(out));
      this.tracker.flushSynthetic();
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
          state.prepared.set(p.name, {
            clientName: p.name,
            serverName,
            sql: p.query,
            paramTypes: p.paramTypes,
          });
          if (conn.prepared.has(serverName)) {
            tracker.push({ expect: Expect.Synthetic, swallow: false, bytes: encodeParseComplete() });
          } else {
            out.push(renameStatement(bytes, serverName));
            rememberPrepared(conn, serverName, maxPrepared, out, tracker);
            tracker.push({ expect: Expect.Parse, swallow: false });
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
          } else {
            const serverName = this.ensurePrepared(b.statement, out);
            out.push(renameStatement(bytes, serverName));
          }
          tracker.push({ expect: Expect.Bind, swallow: false });
          break;
        }
        case FE.Describe: {
          const d = decodeDescribe(bytes);
          if (d.kind === 'S' && d.name !== '') {
            const serverName = this.ensurePrepared(d.name, out);
            out.push(renameStatement(bytes, serverName));
          } else {
            out.push(bytes);
          }
          tracker.push({
            expect: d.kind === 'S' ? Expect.DescribeStatement : Expect.DescribePortal,
            swallow: false,
          });
          break;
        }
        case FE.Close: {
          const c = decodeClose(bytes);
          if (c.kind === 'S' && c.name !== '') {
            // Server copies stay cached for other clients; the client's name goes away.
            state.prepared.delete(c.name);
            tracker.push({ expect: Expect.Synthetic, swallow: false, bytes: encodeCloseComplete() });
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
      out.push(serialize.parse({ name: stmt.serverName, text: stmt.sql, types: stmt.paramTypes }));
      rememberPrepared(
        this.conn,
        stmt.serverName,
        this.cycle.services.config.pool.maxPreparedStatements,
        out,
        this.tracker,
      );
      this.tracker.push({ expect: Expect.Parse, swallow: true, forwardErrors: true });
    } else {
      // LRU: touch.
      this.conn.prepared.delete(stmt.serverName);
      this.conn.prepared.set(stmt.serverName, true);
    }
    return stmt.serverName;
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
        if (s.facts.transaction?.action === 'begin') state.transactionReadOnly = s.facts.transaction.readOnly;
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
    // State no SET shows (DO, CALL, user functions): reset before another client gets the connection.
    if (mayChangeUnseenState(statements)) this.conn.dirty = true;
    if (this.unitError && statements.some((s) => s.facts.kind !== 'read')) {
      // A failed unit may have left prepared statements half-known: forget ours, re-prepare lazily.
      this.conn.dirty = true;
    }
  }

  cancel(): void {
    const c = this.conn;
    void sendCancel(c.address.host, c.address.port, c.processId, c.secretKey);
  }

  /** Return the connection to its pool (session idle, transaction finished). */
  release(): void {
    if (this.released) return;
    this.markReleased();
    const server = this.cycle.services.topology.server(this.serverName);
    if (server) server.view.outstanding--;
    const conn = this.conn;
    conn.onData = null;
    if (this.pausedForClient) conn.socket.resume();
    if (conn.dirty || this.cycle.state.pinnedReason || this.tracker.status !== 0x49 || !this.tracker.idle) {
      // Anything we cannot replay is wiped before another client sees this connection.
      void this.resetAndRelease();
      return;
    }
    this.pool.release(conn);
  }

  private async resetAndRelease(): Promise<void> {
    const conn = this.conn;
    try {
      if (this.tracker.status !== 0x49) await conn.exec('ROLLBACK');
      await conn.exec(this.cycle.services.config.pool.resetQuery);
      conn.prepared.clear();
      serverSettings(conn).clear();
      conn.dirty = false;
      this.pool.release(conn);
    } catch {
      this.pool.discard(conn);
    }
  }

  /** The client went away: cancel anything running, roll back, then reset or drop. */
  abandon(): void {
    if (this.released) return;
    if (!this.tracker.idle) {
      // Mid-query: the response stream is in an unknown place; drop the connection.
      this.markReleased();
      const server = this.cycle.services.topology.server(this.serverName);
      if (server) server.view.outstanding--;
      this.cancel();
      this.pool.discard(this.conn);
      return;
    }
    this.release();
  }

  private onServerLost(err: Error | null): void {
    if (this.released) return;
    this.markReleased();
    const server = this.cycle.services.topology.server(this.serverName);
    if (server) server.view.outstanding--;
    this.pool.discard(this.conn);
    this.cycle.bindings.delete(this.serverName);
    const error = new ShardgateError('BACKEND_DIED', {
      server: this.serverName,
      shard: this.shard,
      detail: err?.message ?? 'server closed the connection',
    });
    this.cycle.state.txStatus = 'I';
    if (this.failed) this.failed(error);
    else this.cycle.session.fail(error);
  }
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
    tracker.push({ expect: Expect.Close, swallow: true });
  }
}

const settingsByConn = new WeakMap<PgServerConnection, Map<string, string>>();

/** Settings a server connection carries beyond its defaults (what clients SET on it). */
export function serverSettings(conn: PgServerConnection): Map<string, string> {
  let map = settingsByConn.get(conn);
  if (!map) {
    map = new Map([
      ['application_name', 'shardgate'],
      ['client_encoding', 'UTF8'],
    ]);
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

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_.]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
