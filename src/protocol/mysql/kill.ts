// KILL [CONNECTION | QUERY] <id> through shardgate. The id is a shardgate connection id (what the
// handshake gave the client, e.g. mysql2's connection.threadId) or, failing that, the thread id
// of a server connection a session holds (what CONNECTION_ID() returned through shardgate). Only
// the session's own user may kill it. KILL QUERY runs KILL QUERY <thread> on the server that is
// executing the session's statement, on a connection of its own.
import { MysqlServerConnection } from '../../backend/mysql-server-connection.js';
import type { MysqlRuntimeServer } from '../../backend/mysql-topology.js';
import { ShardgateError } from '../../errors.js';
import type { CommandCycle } from './command-cycle.js';
import type { LogicalPacket } from './packet-framer.js';
import type { KillTarget } from './services.js';
import { localStatus } from './session-state.js';

export interface KillRequest {
  query: boolean;
  id: number;
}

const KILL_RE = /^\s*kill\s+(?:(?:hard|soft)\s+)?(?:(query)\s+(?:id\s+)?|connection\s+)?(\d{1,10})\s*;?\s*$/i;

/** `KILL [HARD|SOFT] [CONNECTION | QUERY] <id>`, or null for any other text. */
export function parseKill(sql: string): KillRequest | null {
  if (sql.length > 80) return null;
  const m = KILL_RE.exec(sql);
  if (!m) return null;
  return { query: m[1] !== undefined, id: Number(m[2]) };
}

function findTarget(cycle: CommandCycle, id: number): KillTarget | null {
  const sessions = cycle.services.sessions;
  const direct = sessions.get(id);
  if (direct) return direct;
  for (const s of sessions.values()) {
    for (const thread of s.backendThreads().values()) if (thread === id) return s;
  }
  return null;
}

export async function runKill(
  cycle: CommandCycle,
  packet: LogicalPacket,
  request: KillRequest,
): Promise<void> {
  const target = findTarget(cycle, request.id);
  if (!target) throw new ShardgateError('MYSQL_NO_SUCH_THREAD', { id: request.id });
  if (target.user !== cycle.state.user) throw new ShardgateError('MYSQL_KILL_DENIED', { id: request.id });
  if (request.query) {
    target.killQuery();
  } else if (target.connectionId === cycle.state.connectionId) {
    cycle.session.close();
    return;
  } else {
    target.killConnection();
  }
  cycle.session.write(cycle.reply(packet).ok(localStatus(cycle.state)).bytes());
}

/** Runs one statement (a KILL) on its own short-lived connection to a server. */
export async function killCommand(server: MysqlRuntimeServer, sql: string): Promise<void> {
  let conn: MysqlServerConnection | null = null;
  try {
    conn = await MysqlServerConnection.connect(
      { ...server.pool.address, name: `${server.name}/kill` },
      { foundRows: false, timeoutMs: 5_000 },
    );
    await conn.query(sql, { timeoutMs: 5_000 });
  } catch {
    // The statement may have finished on its own; nothing to report to anyone.
  } finally {
    conn?.terminate();
  }
}
