// Accepts MySQL clients: one MysqlClientSession per socket. A session's failure never reaches the
// listener or another session. Before listening it learns the server version and collations from
// the default primary (defaults when it cannot be reached yet).
import type net from 'node:net';
import type { ShardgateError } from '../errors.js';
import { MysqlClientSession } from '../protocol/mysql/client-session.js';
import { framePayload } from '../protocol/mysql/packet-io.js';
import { encodeShardgateError } from '../protocol/mysql/responses.js';
import type { MysqlServices } from '../protocol/mysql/services.js';
import { ClientListener, type SessionHooks } from './client-listener.js';
import type { PreAuthLimit } from './pre-auth-limit.js';

export class MysqlListener extends ClientListener<MysqlClientSession> {
  constructor(
    private readonly services: Omit<MysqlServices, 'onSessionClosed' | 'onAuthenticated'>,
    preAuth?: PreAuthLimit,
  ) {
    super('mysql', services, preAuth);
  }

  protected openSession(socket: net.Socket, hooks: SessionHooks): MysqlClientSession {
    return new MysqlClientSession(socket, { ...this.services, ...hooks });
  }

  /** Before the handshake: MySQL clients read an ERR in place of the greeting. */
  protected refusal(err: ShardgateError): Buffer {
    return framePayload(encodeShardgateError(err), 0);
  }

  override async listen(host: string, port: number): Promise<number> {
    try {
      await this.services.server.load(this.services.topology);
    } catch (err) {
      this.services.log.warn(
        { err: (err as Error).message },
        'mysql front end: default primary not reachable yet',
      );
    }
    return super.listen(host, port);
  }
}
