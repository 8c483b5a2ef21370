// The part of a client session both front ends share: the socket (reading, writing, backpressure,
// the switch to TLS, closing), the login deadline and the lazily made logger. Each protocol's
// session extends it with its framing, login and command phase.
import type net from 'node:net';
import type tlsModule from 'node:tls';
import type { Logger } from 'pino';
import { ShardgateError } from '../errors.js';
import { secureClientSocket, whenDrained } from './client-socket.js';

export abstract class ClientConnection {
  protected socket: net.Socket;
  /** The socket was switched to TLS (a client asks once). */
  protected tlsDone = false;
  /** Between the switch and the TLS handshake's end: nothing is read. */
  protected pausedForTls = false;
  private startupTimer: NodeJS.Timeout | null;
  private childLog: Logger | null = null;

  constructor(
    socket: net.Socket,
    private readonly parentLog: Logger,
    startupTimeoutMs: number,
    /** What did not complete in time: 'login', 'startup'. */
    phaseName: string,
  ) {
    this.socket = socket;
    this.startupTimer = setTimeout(() => {
      this.fail(
        new ShardgateError('PROTOCOL_VIOLATION', { detail: `${phaseName} did not complete in time` }),
      );
    }, startupTimeoutMs);
    this.startupTimer.unref();
    this.attach(socket);
  }

  /** Whether the session has ended (then nothing more is written). */
  protected abstract get ended(): boolean;
  /** What this session's log lines carry. */
  protected abstract logBindings(): Record<string, unknown>;
  protected abstract onData(chunk: Buffer): void;
  abstract fail(err: ShardgateError, forceFatal?: boolean): void;
  abstract close(): void;

  /**
   * This session's logger, made on first use: most sessions never log, and a pino child costs
   * about 1 KiB of heap per session (its bindings, per-level functions, its own hidden classes).
   */
  get log(): Logger {
    this.childLog ??= this.parentLog.child(this.logBindings());
    return this.childLog;
  }

  private attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  write(bytes: Buffer): void {
    if (!this.ended) this.socket.write(bytes);
  }

  /** Batches the writes made while handling one server chunk into one syscall (writev). */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** The client is not reading fast enough: its socket holds more than its high-water mark. */
  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Calls `resume` once the client has read what we sent (or is gone). */
  onDrained(resume: () => void): void {
    whenDrained(this.socket, resume);
  }

  /** Stops reading the client (its queued statements reached their bound), or starts again. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.ended && !this.pausedForTls) this.socket.resume();
  }

  /** Switches the socket to TLS; `head`: TLS bytes that arrived with the request. */
  protected upgradeToTls(
    tls: { module: typeof tlsModule; context: tlsModule.SecureContext },
    head?: Buffer,
  ): void {
    this.pausedForTls = true;
    const secure = secureClientSocket(this.socket, tls, head);
    this.socket = secure;
    this.tlsDone = true;
    secure.on('secure', () => {
      this.pausedForTls = false;
    });
    this.attach(secure);
  }

  /** Login is done: the startup deadline no longer applies. */
  protected stopStartupTimer(): void {
    if (this.startupTimer) clearTimeout(this.startupTimer);
    this.startupTimer = null;
  }

  /** Closes the socket politely, and for good a second later. */
  protected endSocket(): void {
    this.stopStartupTimer();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1_000).unref();
  }
}
