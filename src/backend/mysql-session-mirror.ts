// What a backend connection's responses reveal about its session, kept as a mirror: status
// flags, the last OK, schema, session variables, and whether a client left state on it that
// cannot be replayed. Session tracking (every changed variable, the schema, a state-change flag
// and last_gtid) arrives in OK packets, so following it costs no round trip.
import { CAP } from '../protocol/mysql/constants.js';
import type { PacketRole } from '../protocol/mysql/response-scanner.js';
import { decodeOk, type OkPacket } from '../protocol/mysql/responses.js';

/** Variables the server reports but a client's session never needs replayed. */
export const UNREPLAYED_VARIABLES = new Set([
  'last_gtid',
  'session_track_system_variables',
  'session_track_schema',
  'session_track_state_change',
  'session_track_transaction_info',
  'insert_id',
]);

/** The character-set variables a handshake collation implies (what SET NAMES sets). */
export function charsetVariables(charset: string, collation: string): Array<[string, string]> {
  return [
    ['character_set_client', charset],
    ['character_set_results', charset],
    ['character_set_connection', charset],
    ['collation_connection', collation],
  ];
}

/** A backend session's state as its responses reveal it. */
export interface SessionMirror {
  status: number;
  lastOk: OkPacket | null;
  schema: string | null;
  vars: Map<string, string>;
  dirty: boolean;
}

/** Updates a mirror from one response packet (OKs carry status and session tracking). */
export function trackResponse(
  mirror: SessionMirror,
  payload: Buffer,
  role: PacketRole,
  capabilities: number,
): void {
  if (role === 'ok' || (role === 'rows-end' && capabilities & CAP.DEPRECATE_EOF)) {
    const ok = decodeOk(payload, capabilities);
    mirror.lastOk = ok;
    mirror.status = ok.status;
    const s = ok.session;
    if (!s) return;
    if (s.schema !== null) mirror.schema = s.schema;
    for (const [name, value] of s.variables) {
      if (!UNREPLAYED_VARIABLES.has(name)) mirror.vars.set(name, value);
    }
    // User variables, temporary tables, SQL PREPARE, ...: nothing we could replay.
    if (s.stateChanged && s.variables.length === 0 && s.schema === null) mirror.dirty = true;
  } else if (role === 'err') {
    mirror.lastOk = null;
  }
}
