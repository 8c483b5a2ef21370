// One connection from shardgate to a MariaDB/MySQL server, written on our own packet codecs so a
// client session can relay raw packets through it. It connects and authenticates
// (mysql_native_password, caching_sha2_password with fast auth or RSA full auth), turns on
// session tracking (every changed variable, the schema, other state changes, and last_gtid), and
// then runs pipelined commands: each sent command queues the shape of its response, and the
// ResponseScanner hands every packet to that command's handler. The connection also watches every
// OK for its own mirror of the session (status flags, schema, variables, state it cannot replay).
import net from 'node:net';
import { ShardgateError } from '../errors.js';
import type { RowBudget } from '../executor/merge-budget.js';
import { nativeToken, rsaEncryptPassword, sha2Token } from '../protocol/mysql/auth-crypto.js';
import { CAP, COM, DEFAULT_COLLATION, MARIADB_CAP, MARKER, STATUS } from '../protocol/mysql/constants.js';
import {
  decodeAuthSwitchRequest,
  decodeHandshakeV10,
  encodeHandshakeResponse,
  encodeSslRequest,
  type HandshakeV10,
} from '../protocol/mysql/handshake.js';
import { PacketFramer } from '../protocol/mysql/packet-framer.js';
import { framePayload } from '../protocol/mysql/packet-io.js';
import {
  type PacketRole,
  type ResponseHandler,
  ResponseScanner,
  type ResponseShape,
} from '../protocol/mysql/response-scanner.js';
import { decodeErr, decodeOk, type OkPacket } from '../protocol/mysql/responses.js';
import { type BackendTls, BackendTlsError, upgradeToTls } from './backend-tls.js';
import { charsetVariables, trackResponse } from './mysql-session-mirror.js';
import type { ServerLogin } from './server-address.js';
import { StopSignalHold } from './stop-signal-hold.js';

export {
  charsetVariables,
  type SessionMirror,
  trackResponse,
  UNREPLAYED_VARIABLES,
} from './mysql-session-mirror.js';

import { type CollectedResponse, ResultCollector } from '../protocol/mysql/result-collector.js';
import { encodeTextCommand, type ParamType } from '../protocol/mysql/statements.js';

/** The server denied this user's login (its own identity, users[].backend). */
class MysqlLoginRefused extends Error {}

/** A MariaDB/MySQL server and the proxy's login on it: nothing beyond the common fields. */
export type MysqlServerAddress = ServerLogin;

export interface CollectOptions {
  maxRows?: number;
  timeoutMs?: number;
  /** A multi-shard merge's budget, shared with the statement's other shards. */
  budget?: RowBudget;
}

/** A statement prepared on this connection. */
export interface ServerStatement {
  id: number;
  paramCount: number;
  columnCount: number;
  /** Parameter types this connection last received for it (COM_STMT_EXECUTE may omit them). */
  boundTypes: ParamType[] | null;
}

/** Capabilities shardgate asks backends for; FOUND_ROWS follows the client (it changes results). */
const BACKEND_CAPABILITIES =
  CAP.LONG_PASSWORD |
  CAP.LONG_FLAG |
  CAP.CONNECT_WITH_DB |
  CAP.PROTOCOL_41 |
  CAP.TRANSACTIONS |
  CAP.SECURE_CONNECTION |
  CAP.MULTI_STATEMENTS |
  CAP.MULTI_RESULTS |
  CAP.PS_MULTI_RESULTS |
  CAP.PLUGIN_AUTH |
  CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CAP.CONNECT_ATTRS |
  CAP.SESSION_TRACK |
  CAP.DEPRECATE_EOF;

/** Every changed variable, the schema, and other state changes come back in OK packets. */
const TRACKING_SETUP =
  "SET session_track_system_variables='*', session_track_schema=ON, session_track_state_change=ON";

let nextConnectionId = 1;

export class MysqlServerConnection {
  readonly id = nextConnectionId++;
  readonly createdAt = Date.now();
  lastUsedAt = Date.now();
  closed = false;
  /** The server's thread id (for KILL QUERY). */
  threadId = 0;
  /** A KILL QUERY on its way holds later commands (stop-signal-hold.ts says why). */
  readonly stops = new StopSignalHold(
    (bytes) => {
      if (!this.closed) this.socket.write(bytes);
    },
    () => {
      this.lastWriteAt = Date.now();
    },
  );
  serverVersion = '';
  /** Capabilities in effect on this connection. */
  capabilities = 0;
  /** MariaDB extended column metadata negotiated (requested whenever the server offers it). */
  extendedMetadata = false;
  /** Status flags of the last response (IN_TRANS, AUTOCOMMIT, ...). */
  status: number = STATUS.AUTOCOMMIT;
  schema: string | null;
  /** Session variables in effect beyond the server defaults, as clients set them. */
  readonly vars = new Map<string, string>();
  /** Statements prepared here, by SQL text (LRU order). */
  readonly prepared = new Map<string, ServerStatement>();
  /** A client created state that cannot be replayed (user variables, temporary tables...). */
  dirty = false;
  /** The last OK packet seen (set before the handler that owns the response sees it). */
  lastOk: OkPacket | null = null;
  /** Epoch ms of the last bytes sent and received (a server that went silent: see abortIfSilent). */
  lastWriteAt = 0;
  lastReadAt = 0;
  /** shardgate closed it (destroy, terminate): its closing says nothing about the server. */
  closedLocally = false;
  /** Called once when the socket closes or errors. */
  onClose: ((err: Error | null) => void) | null = null;
  private scanner: ResponseScanner;
  /** Internal queries waiting for their responses: failed together when the socket goes. */
  private readonly pendingQueries = new Set<(err: Error) => void>();
  private connectPhase: ((chunk: Buffer) => void) | null = null;

  private constructor(
    readonly address: MysqlServerAddress,
    /** The TCP socket, replaced by its TLS wrapper during login when TLS is on. */
    public socket: net.Socket,
    readonly foundRows: boolean,
  ) {
    this.schema = address.database;
    this.resetVars();
    this.scanner = new ResponseScanner(0);
    this.listen(socket);
  }

  private listen(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.finish(err));
    socket.on('close', () => this.finish(null));
  }

  /** Login-phase switch to TLS: from now on every byte goes through the TLS socket. */
  private async startTls(tls: BackendTls): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    this.socket = await upgradeToTls(raw, tls, this.address.host);
    this.listen(this.socket);
  }

  private finish(err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    const reason = err ?? new Error('server closed the connection');
    for (const fail of this.pendingQueries) fail(reason);
    this.pendingQueries.clear();
    this.onClose?.(err);
  }

  static async connect(
    address: MysqlServerAddress,
    options: { foundRows: boolean; timeoutMs: number },
  ): Promise<MysqlServerConnection> {
    // A host that is a path names the server's unix socket (a co-located server: cheaper I/O).
    const socket = address.host.startsWith('/')
      ? net.connect({ path: address.host })
      : net.connect({ host: address.host, port: address.port, noDelay: true });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const conn = new MysqlServerConnection(address, socket, options.foundRows);
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', reject);
        }),
        options.timeoutMs,
        `connect timeout after ${options.timeoutMs} ms`,
      );
      await withTimeout(
        conn.authenticate(),
        options.timeoutMs,
        `login timeout after ${options.timeoutMs} ms`,
      );
      const setup = await withTimeout(
        conn.query(TRACKING_SETUP),
        options.timeoutMs,
        'session setup timed out',
      );
      if (setup.error) throw new Error(`session tracking setup failed: ${setup.error.message}`);
    } catch (err) {
      conn.socket.destroy();
      socket.destroy();
      if (err instanceof MysqlLoginRefused) {
        throw new ShardgateError('BACKEND_LOGIN_REFUSED', {
          server: address.name,
          shard: address.shard,
          role: address.user,
          detail: err.message,
        });
      }
      const where = {
        server: address.name,
        shard: address.shard,
        detail: err instanceof Error ? err.message : String(err),
      };
      throw new ShardgateError(
        err instanceof BackendTlsError ? 'BACKEND_TLS_REFUSED' : 'BACKEND_UNAVAILABLE',
        where,
      );
    }
    return conn;
  }

  private onData(chunk: Buffer): void {
    this.lastReadAt = Date.now();
    if (this.connectPhase) {
      this.connectPhase(chunk);
      return;
    }
    try {
      this.scanner.onData(chunk);
    } catch (err) {
      // A stream we cannot follow: this connection is done.
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Handshake and authentication; resolves after the server's OK. */
  private authenticate(): Promise<void> {
    const { password } = this.address;
    const framer = new PacketFramer(1 << 24);
    return new Promise<void>((resolve, reject) => {
      let handshake: HandshakeV10 | null = null;
      let plugin = '';
      let scramble: Buffer = Buffer.alloc(0);
      let awaitingKey = false;
      const send = (payload: Buffer, seq: number) => this.socket.write(framePayload(payload, seq));
      this.onClose = (err) => reject(err ?? new Error('server closed the connection during login'));
      this.connectPhase = (chunk) => {
        try {
          framer.push(chunk);
          for (let p = framer.next(); p; p = framer.next()) {
            const payload = p.payload;
            const next = (p.lastSeq + 1) & 0xff;
            if (!handshake) {
              if (payload[0] === MARKER.ERR) throw new Error(decodeErr(payload).message);
              handshake = decodeHandshakeV10(payload);
              this.threadId = handshake.connectionId;
              this.serverVersion = handshake.serverVersion;
              this.capabilities =
                (BACKEND_CAPABILITIES | (this.foundRows ? CAP.FOUND_ROWS : 0)) & handshake.capabilities;
              // Offered only with CLIENT_MYSQL clear, which the reply must leave clear too.
              this.extendedMetadata = (handshake.mariadbCapabilities & MARIADB_CAP.EXTENDED_METADATA) !== 0;
              if (this.extendedMetadata) this.capabilities &= ~CAP.LONG_PASSWORD;
              plugin = handshake.authPlugin;
              scramble = handshake.scramble;
              const tls = this.address.tls;
              if (!tls || tls.mode === 'disable') {
                send(this.handshakeResponse(plugin, scramble), next);
                continue;
              }
              if (!(handshake.capabilities & CAP.SSL))
                throw new BackendTlsError(
                  `the server does not accept TLS (tls mode ${tls.mode}); turn ssl on in the server or set its tls mode to disable`,
                );
              // SSLRequest, the TLS handshake, then the login packet with the next sequence id.
              this.capabilities |= CAP.SSL;
              send(encodeSslRequest(this.capabilities, DEFAULT_COLLATION, this.mariadbCapabilities()), next);
              const afterTls = (next + 1) & 0xff;
              this.startTls(tls)
                .then(() => send(this.handshakeResponse(plugin, scramble), afterTls))
                .catch((err: unknown) => {
                  this.connectPhase = null;
                  reject(err);
                });
              continue;
            }
            const marker = payload[0];
            if (marker === MARKER.OK) {
              this.connectPhase = null;
              this.onClose = null;
              this.scanner = new ResponseScanner(this.capabilities);
              const ok = decodeOk(payload, this.capabilities);
              this.status = ok.status;
              resolve();
              return;
            }
            if (marker === MARKER.ERR) {
              const e = decodeErr(payload);
              // Access denied (1044, 1045) is about the user's own identity, not the server.
              throw e.errno === 1044 || e.errno === 1045
                ? new MysqlLoginRefused(e.message)
                : new Error(e.message);
            }
            if (marker === MARKER.AUTH_SWITCH) {
              const sw = decodeAuthSwitchRequest(payload);
              plugin = sw.plugin;
              scramble = sw.data;
              send(
                pluginToken(plugin, password, scramble, this.address.allowCleartextPassword ?? false),
                next,
              );
            } else if (marker === MARKER.AUTH_MORE_DATA) {
              const data = payload.subarray(1);
              if (awaitingKey) {
                awaitingKey = false;
                send(rsaEncryptPassword(password, scramble, data), next);
              } else if (data[0] === 0x04) {
                // caching_sha2_password full authentication: ask for the RSA key (no TLS here).
                awaitingKey = true;
                send(Buffer.from([0x02]), next);
              }
              // 0x03: fast authentication succeeded; the OK follows.
            } else {
              throw new Error(`unexpected packet 0x${(marker ?? 0).toString(16)} during login`);
            }
          }
        } catch (err) {
          this.connectPhase = null;
          reject(err);
        }
      };
    });
  }

  /** HandshakeResponse41 for the server's auth plugin. */
  private mariadbCapabilities(): number {
    return this.extendedMetadata ? MARIADB_CAP.EXTENDED_METADATA : 0;
  }

  private handshakeResponse(plugin: string, scramble: Buffer): Buffer {
    const { user, password, database } = this.address;
    return encodeHandshakeResponse({
      capabilities: this.capabilities,
      mariadbCapabilities: this.mariadbCapabilities(),
      maxPacketSize: 1 << 30,
      collation: DEFAULT_COLLATION,
      user,
      authResponse: pluginToken(plugin, password, scramble, this.address.allowCleartextPassword ?? false),
      database,
      authPlugin: plugin,
      attributes: new Map([
        ['_client_name', 'shardgate'],
        ['program_name', 'shardgate'],
      ]),
    });
  }

  /** Idle: no command waiting for its response. */
  get idle(): boolean {
    return this.scanner.idle;
  }

  get inTransaction(): boolean {
    return (this.status & STATUS.IN_TRANS) !== 0;
  }

  /** Writes a command already framed (a client's packets, relayed as they came). */
  sendRaw(raw: Buffer, shape: ResponseShape | null, handler: ResponseHandler | null): void {
    if (shape && handler) this.scanner.expect(shape, this.observe(handler));
    this.lastUsedAt = Date.now();
    if (this.stops.holding) {
      this.stops.hold(raw);
      return;
    }
    this.lastWriteAt = this.lastUsedAt;
    this.socket.write(raw);
  }

  /** Frames and writes one command payload (sequence 0). */
  send(payload: Buffer, shape: ResponseShape | null, handler: ResponseHandler | null): void {
    this.sendRaw(framePayload(payload, 0), shape, handler);
  }

  /** Follows the connection's own state in every response, then hands packets to `handler`. */
  private observe(handler: ResponseHandler): ResponseHandler {
    return {
      onPacket: (packet, role: PacketRole, final) => {
        trackResponse(this, packet.payload, role, this.capabilities);
        handler.onPacket(packet, role, final);
      },
      onChunkEnd: handler.onChunkEnd ? () => handler.onChunkEnd!() : undefined,
    };
  }

  /** Runs a text command and collects its whole response (shardgate's own statements). */
  query(sql: string, options: CollectOptions = {}): Promise<CollectedResponse> {
    return this.collect(encodeTextCommand(COM.QUERY, sql), 'result', false, options);
  }

  collect(
    payload: Buffer,
    shape: ResponseShape,
    binary: boolean,
    options: CollectOptions = {},
  ): Promise<CollectedResponse> {
    if (this.closed) return Promise.reject(new Error('connection is closed'));
    const done = new Promise<CollectedResponse>((resolve, reject) => {
      this.pendingQueries.add(reject);
      this.send(
        payload,
        shape,
        new ResultCollector({
          capabilities: this.capabilities,
          extendedMetadata: this.extendedMetadata,
          binary,
          maxRows: options.maxRows ?? 100_000,
          ...(options.budget ? { budget: options.budget } : {}),
          onDone: (response) => {
            this.pendingQueries.delete(reject);
            resolve(response);
          },
        }),
      );
    });
    if (!options.timeoutMs) return done;
    return withTimeout(done, options.timeoutMs, `query timed out after ${options.timeoutMs} ms`).catch(
      (err) => {
        this.destroy(err);
        throw err;
      },
    );
  }

  /** Runs a statement; throws on a server error. */
  async exec(sql: string, timeoutMs?: number): Promise<CollectedResponse> {
    const r = await this.query(sql, timeoutMs ? { timeoutMs } : {});
    if (r.error) throw new Error(`${r.error.errno} ${r.error.message}`);
    return r;
  }

  /** COM_RESET_CONNECTION: drops everything the session created; our tracking setup is redone. */
  async reset(): Promise<void> {
    const r = await this.collect(Buffer.from([COM.RESET_CONNECTION]), 'result', false);
    if (r.error) throw new Error(r.error.message);
    this.resetVars();
    this.prepared.clear();
    this.dirty = false;
    // The reset keeps the current schema; tracking is off again until set up.
    const setup = await this.exec(`${TRACKING_SETUP}; SELECT DATABASE()`);
    this.schema = setup.results[1]?.rows[0]?.[0]?.toString() ?? null;
  }

  /** The variables a fresh login has: the character set of the handshake collation. */
  private resetVars(): void {
    this.vars.clear();
    for (const [k, v] of charsetVariables('utf8mb4', 'utf8mb4_general_ci')) this.vars.set(k, v);
  }

  /**
   * Waiting at least `ms` for a server that has sent nothing since the last request: dropped as
   * lost (its user fails with the coded error of a lost connection). True when dropped.
   */
  abortIfSilent(ms: number, reason: string): boolean {
    if (this.closed || this.lastWriteAt <= this.lastReadAt || Date.now() - this.lastWriteAt < ms)
      return false;
    this.finish(new Error(reason));
    this.socket.destroy();
    return true;
  }

  destroy(err: Error | null = null): void {
    if (!this.closed) this.closedLocally = true;
    this.finish(err);
    this.socket.destroy();
  }

  /** COM_QUIT, then close. */
  terminate(): void {
    if (this.closed) return;
    this.closedLocally = true;
    this.socket.end(framePayload(Buffer.from([COM.QUIT]), 0));
    this.finish(null);
    setTimeout(() => this.socket.destroy(), 1_000).unref();
  }
}

function pluginToken(plugin: string, password: string, scramble: Buffer, allowClear: boolean): Buffer {
  if (plugin === 'caching_sha2_password') return sha2Token(password, scramble);
  if (plugin === 'mysql_native_password') return nativeToken(password, scramble);
  if (plugin === 'mysql_clear_password') {
    if (!allowClear)
      throw new Error(
        'the server asks for mysql_clear_password (the password in clear text); refused (set backend.allowCleartextPassword: true to allow it)',
      );
    return Buffer.from(`${password}\0`);
  }
  throw new Error(`the server asks for auth plugin ${plugin}, which shardgate does not speak`);
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
