// Accepts PostgreSQL clients (on TCP and, optionally, libpq's Unix socket path): one
// PgClientSession per socket. A session's failure never reaches the listener or another session.
import { lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { encodeErrorResponse } from '../protocol/postgres/backend-messages.js';
import { PgClientSession } from '../protocol/postgres/client-session.js';
import type { SessionServices } from '../protocol/postgres/services.js';
import { ClientListener, type FrontEnd } from './client-listener.js';
import type { PreAuthLimit } from './pre-auth-limit.js';

type PgListenerServices = Omit<SessionServices, 'onSessionClosed' | 'onAuthenticated'>;

const postgresFront: FrontEnd<PgClientSession, PgListenerServices> = {
  protocol: 'postgres',
  openSession: (socket, services) => new PgClientSession(socket, services),
  // Answered before the startup packet: libpq shows the message.
  refusal: (err) => encodeErrorResponse(err, 'FATAL'),
};

export class PgListener extends ClientListener<PgClientSession, PgListenerServices> {
  /** The Unix socket file, when listening on one. */
  socketPath: string | null = null;

  constructor(services: PgListenerServices, preAuth?: PreAuthLimit) {
    super(postgresFront, services, preAuth);
  }

  /**
   * Also listens on `<dir>/.s.PGSQL.<port>`, the path libpq builds from host=<dir>. A socket file
   * left by a shardgate that died is replaced only when nothing answers on it.
   */
  async listenUnix(dir: string, port: number): Promise<string> {
    const socketPath = path.join(dir, `.s.PGSQL.${port}`);
    if (await staleSocket(socketPath)) unlinkSync(socketPath);
    const server = this.createServer('postgres unix socket listener error');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: socketPath, readableAll: true, writableAll: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.socketPath = socketPath;
    return socketPath;
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
