// One connection from shardgate to a PostgreSQL server. It performs startup and authentication
// with pg-protocol's serializer/parser (not hot), then hands its socket's bytes to whoever holds
// it (a client session forwarding raw bytes, or the small internal query runner below).
import net from 'node:net';
import { serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { md5ClientResponse } from '../auth/md5.js';
import { ScramClient, type ScramKeys } from '../auth/scram.js';
import { ShardgateError } from '../errors.js';
import { type BackendTls, BackendTlsError, upgradeToTls } from './backend-tls.js';
import type { ServerLogin } from './server-address.js';
import { StopSignalHold } from './stop-signal-hold.js';

export interface ServerAddress extends ServerLogin {
  /** SCRAM keys a client proved (identity.ts): used instead of `password` when a server asks for SCRAM. */
  scramKeys?: ScramKeys;
  /** Open a walsender connection (replication=database|true) instead of a normal session. */
  replication?: string;
}

export interface SimpleResult {
  rows: Array<Array<string | null>>;
  fields: string[];
  tag: string | null;
  error: { code: string; message: string } | null;
}

let nextConnectionId = 1;

/** The server answered the startup of this role with an authorization error. */
class LoginRefused extends Error {}

export class PgServerConnection {
  readonly id = nextConnectionId++;
  readonly createdAt = Date.now();
  lastUsedAt = Date.now();
  /** ParameterStatus values the server reported at startup and since. */
  readonly parameters = new Map<string, string>();
  processId = 0;
  secretKey = 0;
  /** Transaction status from the last ReadyForQuery: I, T or E. */
  txStatus = 'I';
  /** Global prepared statement names this server connection holds (LRU order). */
  readonly prepared = new Map<string, true>();
  /** Session state was changed by a client (SET, temp table, ...): reset before reuse. */
  dirty = false;
  closed = false;
  /** A CancelRequest on its way holds later writes (stop-signal-hold.ts says why). */
  readonly stops = new StopSignalHold(
    (bytes) => {
      if (!this.closed) this.socket.write(bytes);
    },
    () => {
      this.lastWriteAt = Date.now();
    },
  );
  /** Receives raw bytes while a session owns the connection. */
  onData: ((chunk: Buffer) => void) | null = null;
  /** Called once when the socket closes or errors. */
  onClose: ((err: Error | null) => void) | null = null;
  /** Epoch ms of the last bytes sent and received (a server that went silent: see abortIfSilent). */
  lastWriteAt = 0;
  lastReadAt = 0;

  private constructor(
    readonly address: ServerAddress,
    readonly socket: net.Socket,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.lastReadAt = Date.now();
      const handler = this.onData;
      if (handler) handler(chunk);
    });
    const finish = (err: Error | null) => {
      if (this.closed) return;
      this.closed = true;
      this.onClose?.(err);
    };
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(null));
  }

  static async connect(address: ServerAddress, timeoutMs: number): Promise<PgServerConnection> {
    const raw = net.connect({ host: address.host, port: address.port, noDelay: true });
    raw.setNoDelay(true);
    raw.setKeepAlive(true, 30_000);
    let socket: net.Socket = raw;
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          raw.once('connect', resolve);
          raw.once('error', reject);
        }),
        timeoutMs,
        `connect timeout after ${timeoutMs} ms`,
      );
      if (address.tls && address.tls.mode !== 'disable') {
        socket = await withTimeout(
          startTls(raw, address.tls, address.host),
          timeoutMs,
          `TLS handshake timeout after ${timeoutMs} ms`,
        );
      }
    } catch (err) {
      raw.destroy();
      throw connectError(address, err);
    }
    const conn = new PgServerConnection(address, socket);
    try {
      await withTimeout(conn.startup(), timeoutMs, `startup timeout after ${timeoutMs} ms`);
    } catch (err) {
      socket.destroy();
      throw connectError(address, err);
    }
    return conn;
  }

  private startup(): Promise<void> {
    const { user, database, password } = this.address;
    return new Promise<void>((resolve, reject) => {
      let scram: ScramClient | null = null;
      // A server that says AuthenticationOk before proving it knows the password (SASLFinal)
      // may be an impostor: SCRAM must complete.
      let scramVerified = false;
      this.readUntilReady(
        'server closed the connection during startup',
        (msg, m) => {
          switch (msg.name) {
            case 'authenticationOk':
              if (scram && !scramVerified) {
                reject(
                  new Error('the server ended SCRAM authentication without its proof (SASLFinal); refused'),
                );
                return;
              }
              break;
            case 'authenticationCleartextPassword':
              if (!this.address.allowCleartextPassword) {
                reject(
                  new Error(
                    'the server asks for the password in clear text; refused (use scram-sha-256 on the server, or set backend.allowCleartextPassword: true)',
                  ),
                );
                return;
              }
              this.socket.write(serialize.password(password));
              break;
            case 'authenticationMD5Password':
              this.socket.write(serialize.password(md5ClientResponse(user, password, m.salt as Buffer)));
              break;
            case 'authenticationSASL': {
              const mechanisms = m.mechanisms as string[];
              if (!mechanisms.includes('SCRAM-SHA-256')) {
                reject(new Error(`server offers no supported SASL mechanism (${mechanisms.join(', ')})`));
                return;
              }
              scram = new ScramClient(this.address.scramKeys ?? password);
              this.socket.write(
                serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()),
              );
              break;
            }
            case 'authenticationSASLContinue':
              if (!scram) return reject(new Error('SASLContinue before SASL'));
              this.socket.write(serialize.sendSCRAMClientFinalMessage(scram.clientFinal(m.data as string)));
              break;
            case 'authenticationSASLFinal':
              if (!scram) return reject(new Error('SASLFinal before SASL'));
              try {
                scram.verifyServerFinal(m.data as string);
                scramVerified = true;
              } catch (err) {
                reject(err);
              }
              break;
            case 'backendKeyData':
              this.processId = m.processID as number;
              this.secretKey = m.secretKey as number;
              break;
            case 'error': {
              const e = msg as unknown as { message: string; code: string };
              const text = `${e.message} (SQLSTATE ${e.code})`;
              // Class 28 (authorization) and 3D000 (no such database) are about the role, not the server.
              const refused = e.code?.startsWith('28') || e.code === '3D000';
              reject(refused ? new LoginRefused(text) : new Error(text));
              break;
            }
            default:
              break;
          }
        },
        resolve,
        reject,
      );
      this.socket.write(
        serialize.startup({
          user,
          database,
          application_name: 'shardgate',
          client_encoding: 'UTF8',
          ...(this.address.replication ? { replication: this.address.replication } : {}),
        }),
      );
    });
  }

  /**
   * Reads the server's messages until ReadyForQuery, which ends the exchange (`ready`); `each` sees
   * the others. ParameterStatus is recorded here, whatever the exchange.
   */
  private readUntilReady(
    closedText: string,
    each: (msg: BackendMessage, m: BackendMessage & Record<string, unknown>) => void,
    ready: () => void,
    fail: (err: Error) => void,
  ): void {
    const parser = new Parser();
    this.onClose = (err) => fail(err ?? new Error(closedText));
    this.onData = (chunk) => {
      parser.parse(chunk, (msg: BackendMessage) => {
        const m = msg as BackendMessage & Record<string, unknown>;
        if (msg.name === 'parameterStatus') {
          this.parameters.set(m.parameterName as string, m.parameterValue as string);
        } else if (msg.name === 'readyForQuery') {
          this.txStatus = (m.status as string) ?? 'I';
          this.onData = null;
          this.onClose = null;
          ready();
        } else each(msg, m);
      });
    };
  }

  /**
   * Runs one simple-protocol query on an idle connection and collects its result as text.
   * For internal use (validation, reset, session replay, monitors); never on a client's behalf.
   */
  query(sql: string, timeoutMs = 10_000): Promise<SimpleResult> {
    if (this.onData) return Promise.reject(new Error('connection is busy'));
    return withTimeout(
      new Promise<SimpleResult>((resolve, reject) => {
        const result: SimpleResult = { rows: [], fields: [], tag: null, error: null };
        this.readUntilReady(
          'server closed the connection',
          (msg, m) => {
            switch (msg.name) {
              case 'rowDescription':
                result.fields = (m.fields as Array<{ name: string }>).map((f) => f.name);
                break;
              case 'dataRow':
                result.rows.push(m.fields as Array<string | null>);
                break;
              case 'commandComplete':
                result.tag = m.text as string;
                break;
              case 'error':
                if (!result.error) {
                  const e = msg as unknown as { message: string; code: string };
                  result.error = { code: e.code, message: e.message };
                }
                break;
              default:
                break;
            }
          },
          () => resolve(result),
          reject,
        );
        this.write(serialize.query(sql));
      }),
      timeoutMs,
      `query timeout after ${timeoutMs} ms`,
    ).catch((err: unknown) => {
      this.onData = null;
      this.onClose = null;
      this.destroy();
      throw err;
    });
  }

  /** Runs a query and throws when the server answered with an error. */
  async exec(sql: string, timeoutMs?: number): Promise<SimpleResult> {
    const result = await this.query(sql, timeoutMs);
    if (result.error) throw new Error(`${result.error.message} (SQLSTATE ${result.error.code})`);
    return result;
  }

  write(data: Buffer | Uint8Array): void {
    if (this.closed) return;
    if (this.stops.holding) {
      this.stops.hold(data);
      return;
    }
    this.lastWriteAt = Date.now();
    this.socket.write(data);
  }

  /**
   * Waiting at least `ms` for a server that has sent nothing since the last request: dropped as
   * lost (its user fails with the coded error of a lost connection). True when dropped.
   */
  abortIfSilent(ms: number, reason: string): boolean {
    if (this.closed || this.lastWriteAt <= this.lastReadAt || Date.now() - this.lastWriteAt < ms)
      return false;
    this.closed = true;
    this.socket.destroy();
    this.onClose?.(new Error(reason));
    return true;
  }

  /** Polite close: Terminate, then end the socket. */
  terminate(): void {
    if (this.closed) return;
    try {
      this.socket.end(serialize.end());
    } catch {
      this.socket.destroy();
    }
    this.closed = true;
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** SSLRequest, then the TLS handshake when the server answers 'S'; a server without TLS is refused. */
function startTls(raw: net.Socket, config: BackendTls, host: string): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    raw.once('data', (answer: Buffer) => {
      raw.off('error', reject);
      if (answer.length !== 1 || answer[0] !== 0x53 /* S */) {
        reject(
          new BackendTlsError(
            `the server does not accept TLS (tls mode ${config.mode}); turn ssl on in the server or set its tls mode to disable`,
          ),
        );
        return;
      }
      upgradeToTls(raw, config, host).then(resolve, reject);
    });
    raw.once('error', reject);
    raw.write(serialize.requestSsl());
  });
}

function connectError(address: ServerAddress, err: unknown): ShardgateError {
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof LoginRefused)
    return new ShardgateError('BACKEND_LOGIN_REFUSED', {
      ...{ server: address.name, shard: address.shard },
      role: address.user,
      detail,
    });
  const where = { server: address.name, shard: address.shard, detail };
  return err instanceof BackendTlsError
    ? new ShardgateError('BACKEND_TLS_REFUSED', where)
    : new ShardgateError('BACKEND_UNAVAILABLE', where);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Sends a CancelRequest for `conn`; later writes on it wait until it is delivered. */
export function cancelServerStatement(conn: PgServerConnection): void {
  conn.stops.stop(() => sendCancel(conn.address, conn.processId, conn.secretKey));
}

/**
 * Sends a CancelRequest for (processId, secretKey) to the server, on a new connection. With TLS
 * configured for the server the cancel key travels like the session it cancels: over TLS, with the
 * same certificate checks (a server that refuses TLS gets no cancel).
 */
export function sendCancel(
  target: { host: string; port: number; tls?: BackendTls },
  processId: number,
  secretKey: number,
): Promise<void> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: target.host, port: target.port });
    raw.setTimeout(5_000, () => raw.destroy());
    raw.on('error', () => resolve());
    raw.on('close', () => resolve());
    raw.once('connect', () => {
      const tls = target.tls;
      if (!tls || tls.mode === 'disable') {
        raw.end(serialize.cancel(processId, secretKey));
        return;
      }
      startTls(raw, tls, target.host).then(
        (secure) => {
          secure.on('error', () => raw.destroy());
          secure.end(serialize.cancel(processId, secretKey));
        },
        () => raw.destroy(),
      );
    });
  });
}
