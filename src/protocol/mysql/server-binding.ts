// A backend connection held by a MySQL session for a while: one command, one transaction, or the
// whole session when pinned (or in session pooling). Before use it is brought in line with the
// session (schema, session variables) in one round trip, only when something differs; on
// release it goes back to its pool clean, or is reset (COM_RESET_CONNECTION) when a client left
// state on it that nobody else may see.

import { giveBack } from '../../backend/give-back.js';
import type { BackendIdentity } from '../../backend/identity.js';
import type { MysqlPool } from '../../backend/mysql-pool.js';
import { type MysqlServerConnection, UNREPLAYED_VARIABLES } from '../../backend/mysql-server-connection.js';
import type { MysqlRuntimeServer } from '../../backend/mysql-topology.js';
import { giveServerSlot } from '../../backend/user-quota.js';
import { COM } from './constants.js';
import type { ErrPacket } from './responses.js';
import type { MysqlSessionState } from './session-state.js';
import { encodeTextCommand } from './statements.js';

/** A server's own error for the client's command (relayed with the server's errno). */
export class MysqlServerError extends Error {
  constructor(readonly packet: ErrPacket) {
    super(packet.message);
  }
}

/** SQL literal for a session variable's value as session tracking reported it. */
export function variableLiteral(name: string, value: string): string {
  if (value === '' && name.startsWith('character_set_')) return 'NULL';
  if (/^-?\d+(\.\d+)?$/.test(value)) return value;
  if (value.includes('\\')) return `X'${Buffer.from(value, 'utf8').toString('hex')}'`;
  return `'${value.replace(/'/g, "''")}'`;
}

/** What SET NAMES sets (and the handshake's collation). */
const NAMES_VARIABLES = new Set([
  'character_set_client',
  'character_set_results',
  'character_set_connection',
  'collation_connection',
]);

/**
 * `NAMES cs COLLATE coll` when the session's character sets are all one charset and that differs
 * from the connection's: MariaDB then labels result columns with that collation (a handshake with
 * utf8mb4_unicode_ci, 224, gives columns 224), where setting character_set_results by name gives
 * the charset's default collation (45).
 */
function namesClause(want: ReadonlyMap<string, string>, have: ReadonlyMap<string, string>): string | null {
  const cs = want.get('character_set_client');
  const coll = want.get('collation_connection');
  if (!cs || !coll || want.get('character_set_results') !== cs || want.get('character_set_connection') !== cs)
    return null;
  if (coll !== cs && !coll.startsWith(`${cs}_`)) return null;
  if (![...NAMES_VARIABLES].some((n) => have.get(n) !== want.get(n))) return null;
  return `NAMES ${variableLiteral('names', cs)} COLLATE ${variableLiteral('names', coll)}`;
}

/** The statement that moves a connection's variables to the session's (null: nothing to do). */
export function variablesDiff(
  want: ReadonlyMap<string, string>,
  have: ReadonlyMap<string, string>,
): string | null {
  const parts: string[] = [];
  const names = namesClause(want, have);
  if (names) parts.push(names);
  for (const [name, value] of want) {
    if (UNREPLAYED_VARIABLES.has(name) || have.get(name) === value) continue;
    if (names && NAMES_VARIABLES.has(name)) continue;
    parts.push(`@@session.\`${name}\` = ${variableLiteral(name, value)}`);
  }
  for (const name of have.keys()) {
    if (!want.has(name) && !UNREPLAYED_VARIABLES.has(name)) parts.push(`@@session.\`${name}\` = DEFAULT`);
  }
  return parts.length === 0 ? null : `SET ${parts.join(', ')}`;
}

/** Both maps hold the same replayable variables with the same values. */
function sameVariables(want: ReadonlyMap<string, string>, have: ReadonlyMap<string, string>): boolean {
  if (want.size !== have.size) return false;
  for (const [name, value] of want) if (have.get(name) !== value) return false;
  return true;
}

export class MysqlBinding {
  private released = false;

  /** `slotUser`: the user whose per-user quota slot this connection holds (null: no limit). */
  constructor(
    readonly server: MysqlRuntimeServer,
    private readonly pool: MysqlPool,
    readonly conn: MysqlServerConnection,
    private slotUser: string | null,
  ) {}

  get serverName(): string {
    return this.server.name;
  }

  get shard(): string {
    return this.server.shard;
  }

  get role(): 'primary' | 'replica' {
    return this.server.role;
  }

  /** An idle, recently used connection of `identity` without waiting; null when the pool has none. */
  static tryAcquire(
    server: MysqlRuntimeServer,
    identity: BackendIdentity,
    foundRows: boolean,
    slotUser: string | null,
  ): MysqlBinding | null {
    const pool = server.pools.poolFor(identity, server.database, server.database);
    const conn = pool.tryAcquire(foundRows);
    if (!conn) return null;
    server.view.outstanding++;
    return new MysqlBinding(server, pool, conn, slotUser);
  }

  static async acquire(
    server: MysqlRuntimeServer,
    identity: BackendIdentity,
    foundRows: boolean,
    slotUser: string | null,
  ): Promise<MysqlBinding> {
    const pool = server.pools.poolFor(identity, server.database, server.database);
    const conn = await pool.acquire(foundRows);
    server.view.outstanding++;
    return new MysqlBinding(server, pool, conn, slotUser);
  }

  /** Done with the connection: its user's quota slot goes to the next session waiting for one. */
  private markReleased(): void {
    this.released = true;
    this.server.view.outstanding--;
    if (this.slotUser !== null) giveServerSlot('mysql', this.slotUser);
    this.slotUser = null;
  }

  /**
   * Schema and variables as the session has them: one round trip, only on a difference (null
   * when there is none, the common case, so the caller need not wait). `extra`: variables
   * shardgate sets for the open transaction on top of the session's (a lock wait timeout).
   */
  sync(state: MysqlSessionState, extra: ReadonlyMap<string, string> | null = null): Promise<void> | null {
    const conn = this.conn;
    const want = extra && extra.size > 0 ? new Map([...state.vars, ...extra]) : state.vars;
    const sameSchema = conn.schema === state.schema;
    if (sameSchema && sameVariables(want, conn.vars)) return null;
    const waits: Array<Promise<{ error: ErrPacket | null }>> = [];
    if (!sameSchema) waits.push(conn.collect(encodeTextCommand(COM.INIT_DB, state.schema), 'result', false));
    const set = variablesDiff(want, conn.vars);
    if (set) waits.push(conn.query(set));
    if (waits.length === 0) return null;
    return this.finishSync(want, waits);
  }

  private async finishSync(
    want: ReadonlyMap<string, string>,
    waits: Array<Promise<{ error: ErrPacket | null }>>,
  ): Promise<void> {
    const conn = this.conn;
    const results = await Promise.all(waits);
    for (const r of results) if (r.error) throw new MysqlServerError(r.error);
    // What we asked for is now in effect (tracking may report DEFAULTs by value).
    conn.vars.clear();
    for (const [k, v] of want) if (!UNREPLAYED_VARIABLES.has(k)) conn.vars.set(k, v);
  }

  /** Back to the pool; reset first if a client left state that cannot be replayed. */
  release(pinned: boolean): void {
    if (this.released) return;
    this.markReleased();
    const conn = this.conn;
    conn.onClose = null;
    if (conn.closed) {
      this.pool.discard(conn);
      return;
    }
    if (!conn.idle) {
      // Mid-response: the stream is in an unknown place.
      this.pool.discard(conn);
      return;
    }
    // COM_RESET_CONNECTION rolls back, drops temporary tables, user variables, locks and
    // prepared statements.
    const reset = pinned || conn.dirty || conn.inTransaction;
    giveBack(this.pool, conn, reset ? () => conn.reset() : null);
  }

  /** The server connection failed or the client vanished mid-command: drop it. */
  discard(): void {
    if (this.released) return;
    this.markReleased();
    this.pool.discard(this.conn);
  }

  get isReleased(): boolean {
    return this.released;
  }
}
