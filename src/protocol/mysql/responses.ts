// Generic response packets: OK (with CLIENT_SESSION_TRACK state changes), ERR and EOF, both
// directions. Session tracking is how shardgate learns, at no extra round trip, the session's
// last write GTID (`last_gtid`), variables a SET changed, and the current schema.
import type { ShardgateError } from '../../errors.js';
import { CAP, MARKER, SESSION_TRACK, STATUS } from './constants.js';
import { mysqlSqlstate } from './error-states.js';
import { malformed, PacketReader, PacketWriter } from './packet-io.js';

export interface SessionChanges {
  /** System variables a statement changed, in order (lower-cased names). */
  variables: Array<[string, string]>;
  schema: string | null;
  /** Anything else about the session changed (user variables, temporary tables, ...). */
  stateChanged: boolean;
  /** MySQL's session_track_gtids. */
  gtids: string | null;
  transactionState: string | null;
}

export interface OkPacket {
  /** 0x00, or 0xfe for an OK that ends a result set under CLIENT_DEPRECATE_EOF. */
  header: number;
  affectedRows: bigint;
  insertId: bigint;
  status: number;
  warnings: number;
  info: string;
  session: SessionChanges | null;
}

export function emptySessionChanges(): SessionChanges {
  return { variables: [], schema: null, stateChanged: false, gtids: null, transactionState: null };
}

export function decodeOk(payload: Buffer, capabilities: number): OkPacket {
  const r = new PacketReader(payload);
  const header = r.u8('the OK header');
  if (header !== MARKER.OK && header !== MARKER.EOF) throw malformed('not an OK packet');
  const affectedRows = r.lenencBig('the affected row count');
  const insertId = r.lenencBig('the last insert id');
  const status = r.u16('the status flags');
  const warnings = r.u16('the warning count');
  let info = '';
  let session: SessionChanges | null = null;
  if (capabilities & CAP.SESSION_TRACK) {
    if (r.remaining > 0) info = r.lenencString('the info text');
    if (status & STATUS.SESSION_STATE_CHANGED && r.remaining > 0) {
      const block = r.lenencBytes('the session state') ?? Buffer.alloc(0);
      session = decodeSessionChanges(block);
    }
  } else {
    info = r.restString();
  }
  return { header, affectedRows, insertId, status, warnings, info, session };
}

function decodeSessionChanges(block: Buffer): SessionChanges {
  const out = emptySessionChanges();
  const r = new PacketReader(block);
  while (r.remaining > 0) {
    const type = r.u8('a session state type');
    const data = r.lenencBytes('a session state entry') ?? Buffer.alloc(0);
    const e = new PacketReader(data);
    switch (type) {
      case SESSION_TRACK.SYSTEM_VARIABLES: {
        const name = e.lenencString('a variable name').toLowerCase();
        const value = e.remaining > 0 ? e.lenencString('a variable value') : '';
        out.variables.push([name, value]);
        break;
      }
      case SESSION_TRACK.SCHEMA:
        out.schema = e.lenencString('a schema name');
        break;
      case SESSION_TRACK.STATE_CHANGE:
        // The spec says a length-encoded "1"; MariaDB sends the bare byte "1".
        out.stateChanged =
          out.stateChanged ||
          (data.length === 1 ? data[0] === 0x31 : e.lenencString('a state change flag') === '1');
        break;
      case SESSION_TRACK.GTIDS:
        e.u8('the GTID encoding');
        out.gtids = e.lenencString('a GTID set');
        break;
      case SESSION_TRACK.TRANSACTION_STATE:
        out.transactionState = e.lenencString('a transaction state');
        break;
      default:
        break;
    }
  }
  return out;
}

function encodeSessionChanges(s: SessionChanges): Buffer {
  const w = new PacketWriter(64);
  const entry = (type: number, data: Buffer) => w.u8(type).lenencBytes(data);
  for (const [name, value] of s.variables) {
    entry(
      SESSION_TRACK.SYSTEM_VARIABLES,
      new PacketWriter().lenencString(name).lenencString(value).payload(),
    );
  }
  if (s.schema !== null) entry(SESSION_TRACK.SCHEMA, new PacketWriter().lenencString(s.schema).payload());
  if (s.stateChanged) entry(SESSION_TRACK.STATE_CHANGE, new PacketWriter().lenencString('1').payload());
  if (s.gtids !== null) entry(SESSION_TRACK.GTIDS, new PacketWriter().u8(0).lenencString(s.gtids).payload());
  if (s.transactionState !== null)
    entry(SESSION_TRACK.TRANSACTION_STATE, new PacketWriter().lenencString(s.transactionState).payload());
  return w.payload();
}

export function encodeOk(ok: Partial<OkPacket> & { status: number }, capabilities: number): Buffer {
  const w = new PacketWriter(32);
  w.u8(ok.header ?? MARKER.OK)
    .lenencInt(ok.affectedRows ?? 0n)
    .lenencInt(ok.insertId ?? 0n);
  const session = ok.session ?? null;
  const track = (capabilities & CAP.SESSION_TRACK) !== 0;
  let status = ok.status;
  if (!track || session === null) status &= ~STATUS.SESSION_STATE_CHANGED;
  else status |= STATUS.SESSION_STATE_CHANGED;
  w.u16(status).u16(ok.warnings ?? 0);
  const info = ok.info ?? '';
  if (track) {
    if (info !== '' || session !== null) w.lenencString(info);
    if (session !== null) w.lenencBytes(encodeSessionChanges(session));
  } else {
    w.string(info);
  }
  return w.payload();
}

/** An OK from a SESSION_TRACK backend, re-encoded for a client without CLIENT_SESSION_TRACK. */
export function stripSessionTracking(payload: Buffer, backendCapabilities: number): Buffer {
  const ok = decodeOk(payload, backendCapabilities);
  return encodeOk({ ...ok, session: null }, 0);
}

export interface ErrPacket {
  errno: number;
  sqlstate: string;
  message: string;
}

export function decodeErr(payload: Buffer): ErrPacket {
  const r = new PacketReader(payload);
  if (r.u8('the ERR header') !== MARKER.ERR) throw malformed('not an ERR packet');
  const errno = r.u16('the error number');
  let sqlstate = 'HY000';
  if (r.remaining >= 6 && payload[r.pos] === 0x23) {
    r.skip(1);
    sqlstate = r.bytes(5, 'the SQLSTATE').toString('latin1');
  }
  return { errno, sqlstate, message: r.restString() };
}

export function encodeErr(err: ErrPacket): Buffer {
  return new PacketWriter(err.message.length + 16)
    .u8(MARKER.ERR)
    .u16(err.errno)
    .u8(0x23)
    .string(err.sqlstate.padEnd(5, '0').slice(0, 5))
    .string(err.message)
    .payload();
}

/** A shardgate error as a MySQL ERR payload: its errno, a MySQL SQLSTATE, its message. */
export function encodeShardgateError(err: ShardgateError): Buffer {
  return encodeErr({ errno: err.mysqlErrno, sqlstate: mysqlSqlstate(err), message: err.message });
}

export interface EofPacket {
  warnings: number;
  status: number;
}

export function decodeEof(payload: Buffer): EofPacket {
  const r = new PacketReader(payload);
  if (r.u8('the EOF header') !== MARKER.EOF) throw malformed('not an EOF packet');
  if (r.remaining < 4) return { warnings: 0, status: 0 };
  return { warnings: r.u16('the warning count'), status: r.u16('the status flags') };
}

export function encodeEof(eof: EofPacket): Buffer {
  return new PacketWriter(5).u8(MARKER.EOF).u16(eof.warnings).u16(eof.status).payload();
}

/** An EOF packet with its header at sequence id `seq`: what encodeEof + framePayload give, in one buffer. */
export function framedEof(seq: number, warnings: number, status: number): Buffer {
  const out = Buffer.allocUnsafe(9);
  out[0] = 5;
  out[1] = 0;
  out[2] = 0;
  out[3] = seq & 0xff;
  out[4] = MARKER.EOF;
  out.writeUInt16LE(warnings & 0xffff, 5);
  out.writeUInt16LE(status & 0xffff, 7);
  return out;
}

/**
 * The end of a result set (or of column definitions) as the client's capabilities want it: an
 * OK with the 0xfe header under CLIENT_DEPRECATE_EOF, else an EOF packet.
 */
export function encodeResultEnd(status: number, warnings: number, capabilities: number): Buffer {
  if (capabilities & CAP.DEPRECATE_EOF) {
    return encodeOk({ header: MARKER.EOF, status, warnings }, capabilities);
  }
  return encodeEof({ warnings, status });
}

/** Status flags and warnings of a packet that ends a result (OK with either header, or EOF). */
export function endStatus(payload: Buffer, capabilities: number): { status: number; warnings: number } {
  if (payload[0] === MARKER.EOF && payload.length < 9 && !(capabilities & CAP.DEPRECATE_EOF)) {
    return decodeEof(payload);
  }
  const ok = decodeOk(payload, capabilities);
  return { status: ok.status, warnings: ok.warnings };
}
