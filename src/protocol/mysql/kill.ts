// KILL [CONNECTION | QUERY] <id> through shardgate. The id is a shardgate connection id (what the
// handshake gave the client, e.g. mysql2's connection.threadId) or, failing that, the thread id
// of a server connection a session holds (what CONNECTION_ID() returned through shardgate). Only
// the session's own user may kill it. KILL QUERY runs KILL QUERY <thread> on the server that is
// executing the session's statement, on a connection of its own.
import { MysqlServerConnection } from '../../backend/mysql-server-connection.js';
import type { MysqlRuntimeServer } from '../../backend/mysql-topology.js';
import { ShardgateError } from '../../errors.js';
import { fingerprintMysql } from '../../sql/mysql/fingerprint-mysql.js';
import type { CommandCycle } from './command-cycle.js';
import { ConnectionIds } from './connection-ids.js';
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
  if (applyKill(cycle, request) === 'closed') return;
  cycle.session.write(cycle.reply(packet).ok(localStatus(cycle.state)).bytes());
}

/** Kills the target (throws when there is none or it is not the user's); 'closed' when it was the caller. */
export function applyKill(cycle: CommandCycle, request: KillRequest): 'closed' | 'done' {
  const target = findTarget(cycle, request.id);
  if (!target) {
    // An id of another worker of this instance: its session may well be alive there, and this
    // process cannot reach it; "unknown thread" would be a lie.
    const ids = cycle.services.connectionIds;
    const owner = ConnectionIds.workerOf(request.id);
    if (ids && owner !== null && owner !== ids.worker && owner < ids.workerCount)
      throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
        detail: `KILL across worker processes (connection ${request.id} is held by worker ${owner}, this connection by worker ${ids.worker}; send the KILL on a connection of that worker, or run with workers: 1)`,
      });
    throw new ShardgateError('MYSQL_NO_SUCH_THREAD', { id: request.id });
  }
  if (target.user !== cycle.state.user) throw new ShardgateError('MYSQL_KILL_DENIED', { id: request.id });
  if (request.query) {
    target.killQuery();
  } else if (target.connectionId === cycle.state.connectionId) {
    cycle.session.close();
    return 'closed';
  } else {
    target.killConnection();
  }
  return 'done';
}

/** A multi-statement query's leading KILLs and the text after them (null: no KILL in it). */
export interface LeadingKills {
  kills: KillRequest[];
  /** The rest of the text from the first other statement, or null when only KILLs. */
  rest: string | null;
}

/**
 * Splits `KILL a; KILL b; SELECT ...` (mysql2's pool tests send `kill ?; select sleep(0.05)`).
 * The ids are shardgate's, so a KILL must never reach a server, where the same number names
 * another connection, maybe someone else's. shardgate runs the leading KILLs itself and the
 * rest on a server; a KILL after another statement would have to run between two server
 * results, which shardgate does not do: such a query is refused whole, before anything runs.
 */
export function leadingKills(sql: string): LeadingKills | null {
  if (!/kill/i.test(sql)) return null;
  const spans = fingerprintMysql(sql).statements;
  const kills: KillRequest[] = [];
  let rest: number | null = null;
  for (const span of spans) {
    const kill = parseKill(sql.slice(span.start, span.end));
    if (!kill) {
      rest ??= span.start;
      continue;
    }
    if (rest !== null) {
      throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
        detail:
          'KILL after another statement in one multi-statement query (shardgate runs KILL itself); send the KILL first or as a query of its own',
      });
    }
    kills.push(kill);
  }
  if (kills.length === 0) return null;
  return { kills, rest: rest === null ? null : sql.slice(rest) };
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
