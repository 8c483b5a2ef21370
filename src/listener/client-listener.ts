// What both front ends' listeners do the same way: accept sockets, refuse over the client limit
// and over the per-address pre-auth limit (an error frame the client reads in place of the
// greeting), count sessions for the metrics, and shut down. The protocol part is a FrontEnd that
// opens its session and encodes a refusal.
import net from 'node:net';
import type { Logger } from 'pino';
import type { ShardgateConfig } from '../config/schema.js';
import { ShardgateError } from '../errors.js';
import type { StatementObserver } from '../observability/statement-observer.js';
import { PreAuthLimit } from './pre-auth-limit.js';

/** What a listener needs of the services it hands its sessions. */
export interface ListenerServices {
  config: ShardgateConfig;
  log: Logger;
  observer: StatementObserver;
}

/** A client session as the listener sees it: it can be ended with an error. */
export interface ListenedSession {
  fail(err: ShardgateError): void;
}

/** Called by a session: once when it has logged in, once when it is gone. */
export interface SessionHooks {
  onAuthenticated(): void;
  onSessionClosed(session: unknown): void;
}

/** One protocol's part of a listener. */
export interface FrontEnd<S extends ListenedSession, V extends ListenerServices> {
  protocol: 'postgres' | 'mysql';
  /** The session of one accepted socket; it calls the hooks. */
  openSession(socket: net.Socket, services: V & SessionHooks): S;
  /** The error frame a client reads in place of the greeting when it is refused. */
  refusal(err: ShardgateError): Buffer;
}

export class ClientListener<S extends ListenedSession, V extends ListenerServices> {
  readonly sessions = new Set<S>();
  private readonly servers: net.Server[] = [];
  private readonly server: net.Server;
  private totalAccepted = 0;

  constructor(
    private readonly front: FrontEnd<S, V>,
    /** What the sessions get, the hooks added. */
    protected readonly services: V,
    /** Shared by both listeners: the per-address count covers both protocols. */
    private readonly preAuth = new PreAuthLimit(() => services.config.limits.maxUnauthenticatedPerAddress),
  ) {
    this.server = this.createServer(`${front.protocol} listener error`, { noDelay: true });
  }

  get accepted(): number {
    return this.totalAccepted;
  }

  /** For node:cluster workers: serve a server handle the primary process listens on. */
  get netServer(): net.Server {
    return this.server;
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

  /** Another socket server whose clients this listener serves (a Unix socket). */
  protected createServer(errorMessage: string, options: net.ServerOpts = {}): net.Server {
    const server = net.createServer(options, (socket) => this.accept(socket));
    server.on('error', (err) => this.services.log.error({ err }, errorMessage));
    this.servers.push(server);
    return server;
  }

  private accept(socket: net.Socket): void {
    this.totalAccepted++;
    socket.on('error', () => socket.destroy());
    const { maxClientConnections: max, maxUnauthenticatedPerAddress } = this.services.config.limits;
    if (this.sessions.size >= max) {
      socket.end(this.front.refusal(new ShardgateError('TOO_MANY_CLIENTS', { max })));
      return;
    }
    const release = this.preAuth.acquire(socket.remoteAddress);
    if (!release) {
      const err = new ShardgateError('TOO_MANY_UNAUTHENTICATED', {
        address: socket.remoteAddress ?? '?',
        max: maxUnauthenticatedPerAddress,
      });
      socket.end(this.front.refusal(err));
      return;
    }
    try {
      const session = this.front.openSession(socket, {
        ...this.services,
        onAuthenticated: release,
        onSessionClosed: (s) => {
          release();
          if (this.sessions.delete(s as S)) this.services.observer.onClientCount?.(this.front.protocol, -1);
        },
      });
      this.sessions.add(session);
      this.services.observer.onClientCount?.(this.front.protocol, 1);
    } catch (err) {
      release();
      this.services.log.error({ err }, `failed to start a ${this.front.protocol} client session`);
      socket.destroy();
    }
  }

  /**
   * Stops accepting and ends every session with ADMIN_SHUTDOWN. Node's close callback waits for
   * every open socket, so sessions are ended before it is awaited, not after.
   */
  async close(): Promise<void> {
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    // Each session leaves the set (and the client gauge) through onSessionClosed.
    for (const session of [...this.sessions]) session.fail(new ShardgateError('ADMIN_SHUTDOWN'));
    await Promise.all(closed);
  }
}
