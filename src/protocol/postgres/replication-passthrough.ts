// Replication connections (startup `replication=database` or `replication=true`: logical decoding
// with postgres.js subscribe, pg_recvlogical, Debezium; physical streaming) are not SQL to route:
// after the client authenticated to shardgate, it gets a walsender connection of its own to one
// shard's primary (startup parameter `shardgate.shard`, else the default shard) and the bytes
// flow both ways untouched.
import { PgServerConnection } from '../../backend/pg-server-connection.js';
import { ShardgateError } from '../../errors.js';
import { encodeBackendKeyData, encodeParameterStatus, encodeReadyForQuery } from './backend-messages.js';
import type { PgClientSession } from './client-session.js';
import type { SessionServices } from './services.js';

const NOT_REPLICATION = new Set(['false', 'off', 'no', '0']);

/** The client's `replication` startup value when it asks for a walsender, else null. */
export function replicationMode(params: Map<string, string>): string | null {
  const value = params.get('replication');
  if (value === undefined || NOT_REPLICATION.has(value.toLowerCase())) return null;
  return value;
}

export async function openReplicationPassthrough(
  session: PgClientSession,
  services: SessionServices,
  mode: string,
): Promise<PgServerConnection> {
  const params = session.state!.startupParameters;
  const view = services.topology.view();
  const shardName = params.get('shardgate.shard') ?? view.defaultShard;
  const shard = view.shards.find((s) => s.name === shardName);
  const server = shard ? services.topology.server(shard.primary.name) : undefined;
  if (!shard || !server) {
    throw new ShardgateError('REPLICATION_UNKNOWN_SHARD', {
      shard: shardName,
      known: view.shards.map((s) => s.name).join(', '),
    });
  }
  const conn = await PgServerConnection.connect(
    // As the client's own role: a walsender has the rights of the role that opened it.
    {
      ...services.topology.poolFor(server, session.backend, session.state!.database).address,
      replication: mode,
    },
    services.config.pool.connectTimeoutMs,
  );
  const hello: Buffer[] = [];
  for (const [name, value] of conn.parameters) hello.push(encodeParameterStatus(name, value));
  hello.push(encodeBackendKeyData(conn.processId, conn.secretKey));
  hello.push(encodeReadyForQuery('I'));
  session.write(Buffer.concat(hello));
  conn.onData = (chunk) => session.write(chunk);
  conn.onClose = () => session.close();
  session.log.info({ shard: shard.name, server: server.name, mode }, 'replication session passes through');
  return conn;
}
