// Accepts MySQL clients (the twin of pg-listener.ts): connection limit, TLS material, one
// MysqlClientSession per socket. A session's failure never reaches the listener or another
// session. Before listening it learns the server version and collations from the default primary
// (defaults when it cannot be reached yet).
import net from 'node:net';
import { ShardgateError } from '../errors.js';
import { MysqlClientSession } from '../protocol/mysql/client-session.js';
import { framePayload } from '../protocol/mysql/packet-io.js';
import { encodeShardgateError } from '../protocol/mysql/responses.js';
import type { KillTarget, MysqlServices } from '../protocol/mysql/services.js';
import { PreAuthLimit } from './pre-auth-limit.js';

export class MysqlListener {
  private server: net.Server;
  readonly sessions = new Set<MysqlClientSession>();
  private totalAccepted = 0;

  constructor(
    private readonly services: Omit<MysqlServices, 'onSessionClosed' | 'onAuthenticated'>,
    /** Shared with the PostgreSQL listener: the per-address count covers both protocols. */
    private readonly preAuth = new PreAuthLimit(() => services.config.limits.maxUnauthenticatedPerAddress),
  ) {
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => services.log.error({ err }, 'mysql listener error'));
  }

  get accepted(): number {
    return this.totalAccepted;
  }

  async listen(host: string, port: number): Promise<number> {
    try {
      await this.services.server.load(this.services.topology);
    } catch (err) {
      this.services.log.warn(
        { err: (err as Error).message },
        'mysql front end: default primary not reachable yet',
      );
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, exclusive: false }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get netServer(): net.Server {
    return this.server;
  }

  private accept(socket: net.Socket): void {
    this.totalAccepted++;
    socket.on('error', () => socket.destroy());
    const max = this.services.config.limits.maxClientConnections;
    if (this.sessions.size >= max) {
      // Before the handshake: MySQL clients read an ERR in place of the greeting.
      socket.end(framePayload(encodeShardgateError(new ShardgateError('TOO_MANY_CLIENTS', { max })), 0));
      return;
    }
    const release = this.preAuth.acquire(socket.remoteAddress);
    if (!release) {
      const perAddress = this.services.config.limits.maxUnauthenticatedPerAddress;
      const err = new ShardgateError('TOO_MANY_UNAUTHENTICATED', {
        address: socket.remoteAddress ?? '?',
        max: perAddress,
      });
      socket.end(framePayload(encodeShardgateError(err), 0));
      return;
    }
    try {
      const session = new MysqlClientSession(socket, {
        ...this.services,
        onAuthenticated: release,
        onSessionClosed: (s: KillTarget) => {
          release();
          if (this.sessions.delete(s as MysqlClientSession))
            this.services.observer.onClientCount?.('mysql', -1);
        },
      });
      this.sessions.add(session);
      this.services.observer.onClientCount?.('mysql', 1);
    } catch (err) {
      release();
      this.services.log.error({ err }, 'failed to start a mysql client session');
      socket.destroy();
    }
  }

  async close(): Promise<void> {
    // Stop accepting first; the close callback waits for open sockets, so end sessions before it.
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.fail(new ShardgateError('ADMIN_SHUTDOWN'));
    this.sessions.clear();
    await closed;
  }
}
