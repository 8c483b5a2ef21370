// Accepts PostgreSQL clients: connection limits, TLS material, one PgClientSession per socket.
// A session's failure never reaches the listener or another session.
import { lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ShardgateError } from '../errors.js';
import { encodeErrorResponse } from '../protocol/postgres/backend-messages.js';
import { PgClientSession } from '../protocol/postgres/client-session.js';
import type { SessionServices } from '../protocol/postgres/services.js';
import { PreAuthLimit } from './pre-auth-limit.js';

export class PgListener {
  private server: net.Server;
  private unixServer: net.Server | null = null;
  /** The Unix socket file, when listening on one. */
  socketPath: string | null = null;
  readonly sessions = new Set<PgClientSession>();
  private totalAccepted = 0;

  constructor(
    private readonly services: Omit<SessionServices, 'onSessionClosed' | 'onAuthenticated'>,
    /** Shared with the MySQL listener: the per-address count covers both protocols. */
    private readonly preAuth = new PreAuthLimit(() => services.config.limits.maxUnauthenticatedPerAddress),
  ) {
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => services.log.error({ err }, 'postgres listener error'));
  }

  get accepted(): number {
    return this.totalAccepted;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, exclusive: false }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /**
   * Also listens on `<dir>/.s.PGSQL.<port>`, the path libpq builds from host=<dir>. A socket file
   * left by a shardgate that died is replaced only when nothing answers on it.
   */
  async listenUnix(dir: string, port: number): Promise<string> {
    const socketPath = path.join(dir, `.s.PGSQL.${port}`);
    if (await staleSocket(socketPath)) unlinkSync(socketPath);
    const server = net.createServer((socket) => this.accept(socket));
    server.on('error', (err) => this.services.log.error({ err }, 'postgres unix socket listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: socketPath, readableAll: true, writableAll: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.unixServer = server;
    this.socketPath = socketPath;
    return socketPath;
  }

  /** For node:cluster workers: serve a server handle the primary process listens on. */
  get netServer(): net.Server {
    return this.server;
  }

  private accept(socket: net.Socket): void {
    this.totalAccepted++;
    socket.on('error', () => socket.destroy());
    const max = this.services.config.limits.maxClientConnections;
    if (this.sessions.size >= max) {
      // Answer before the startup packet: libpq shows the message.
      socket.end(encodeErrorResponse(new ShardgateError('TOO_MANY_CLIENTS', { max }), 'FATAL'));
      return;
    }
    const release = this.preAuth.acquire(socket.remoteAddress);
    if (!release) {
      const perAddress = this.services.config.limits.maxUnauthenticatedPerAddress;
      const err = new ShardgateError('TOO_MANY_UNAUTHENTICATED', {
        address: socket.remoteAddress ?? '?',
        max: perAddress,
      });
      socket.end(encodeErrorResponse(err, 'FATAL'));
      return;
    }
    try {
      const session = new PgClientSession(socket, {
        ...this.services,
        onAuthenticated: release,
        onSessionClosed: (s) => {
          release();
          if (this.sessions.delete(s)) this.services.observer.onClientCount?.('postgres', -1);
        },
      });
      this.sessions.add(session);
      this.services.observer.onClientCount?.('postgres', 1);
    } catch (err) {
      release();
      this.services.log.error({ err }, 'failed to start a client session');
      socket.destroy();
    }
  }

  async close(): Promise<void> {
    const unix = this.unixServer;
    if (unix) await new Promise<void>((resolve) => unix.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.fail(new ShardgateError('ADMIN_SHUTDOWN'));
    this.sessions.clear();
  }
}

/** A socket file exists at `socketPath` and no server accepts on it. */
async function staleSocket(socketPath: string): Promise<boolean> {
  try {
    if (!lstatSync(socketPath).isSocket()) return false;
  } catch {
    return false;
  }
  return new Promise<boolean>((resolve) => {
    const probe = net.connect({ path: socketPath });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', () => resolve(true));
  });
}
