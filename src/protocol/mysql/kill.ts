// KILL [CONNECTION | QUERY] <id> through shardgate. The id is a shardgate connection id (what the
// handshake gave the client, e.g. mysql2's connection.threadId) or, failing that, the thread id
// of a server connection a session holds (what CONNECTION_ID() returned through shardgate). Only
// the session's own user may kill it, checked where the session lives (another worker or instance:
// kill-router.ts). KILL QUERY runs KILL QUERY <thread> on the server that is executing the
// session's statement, on a connection of its own.
import { MysqlServerConnection } from '../../backend/mysql-server-connection.js';
import type { MysqlRuntimeServer } from '../../backend/mysql-topology.js';
import { ShardgateError } from '../../errors.js';
import { fingerprintMysql } from '../../sql/mysql/fingerprint-mysql.js';
import type { CommandCycle } from './command-cycle.js';
import { findKillTarget, UNKNOWN } from './kill-router.js';
import type { LogicalPacket } from './packet-framer.js';
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

export async function runKill(
  cycle: CommandCycle,
  packet: LogicalPacket,
  request: KillRequest,
): Promise<void> {
  if ((await applyKill(cycle, request)) === 'closed') return;
  cycle.session.write(cycle.reply(packet).ok(localStatus(cycle.state)).bytes());
}

/**
 * Kills the target (throws when there is none or it is not the user's); 'closed' when it was the
 * caller. A session of another worker or instance is killed there (kill-router.ts), which answers.
 */
export async function applyKill(cycle: CommandCycle, request: KillRequest): Promise<'closed' | 'done'> {
  // No session anywhere has such an id (the peers would refuse it as malformed): answered here.
  if (!Number.isInteger(request.id) || request.id <= 0 || request.id >= 2 ** 32)
    throw new ShardgateError('MYSQL_NO_SUCH_THREAD', { id: request.id });
  const target = findKillTarget(cycle.services.sessions, request.id);
  if (!target) {
    const order = { ...request, user: cycle.state.user };
    const outcome = (await cycle.services.kills?.elsewhere(order)) ?? UNKNOWN;
    if (outcome.kind === 'killed') return 'done';
    if (outcome.kind === 'denied') throw new ShardgateError('MYSQL_KILL_DENIED', { id: request.id });
    if (outcome.kind === 'unreached')
      throw new ShardgateError('MYSQL_KILL_UNREACHED', {
        id: request.id,
        members: outcome.members.join(', '),
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
