// Accepts MySQL clients: one MysqlClientSession per socket. A session's failure never reaches the
// listener or another session. Before listening it learns the server version and collations from
// the default primary (defaults when it cannot be reached yet).
import { MysqlClientSession } from '../protocol/mysql/client-session.js';
import { framePayload } from '../protocol/mysql/packet-io.js';
import { encodeShardgateError } from '../protocol/mysql/responses.js';
import type { MysqlServices } from '../protocol/mysql/services.js';
import { ClientListener, type FrontEnd } from './client-listener.js';
import type { PreAuthLimit } from './pre-auth-limit.js';

type MysqlListenerServices = Omit<MysqlServices, 'onSessionClosed' | 'onAuthenticated'>;

const mysqlFront: FrontEnd<MysqlClientSession, MysqlListenerServices> = {
  protocol: 'mysql',
  openSession: (socket, services) => new MysqlClientSession(socket, services),
  // Before the handshake: MySQL clients read an ERR in place of the greeting.
  refusal: (err) => framePayload(encodeShardgateError(err), 0),
};

export class MysqlListener extends ClientListener<MysqlClientSession, MysqlListenerServices> {
  constructor(services: MysqlListenerServices, preAuth?: PreAuthLimit) {
    super(mysqlFront, services, preAuth);
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
