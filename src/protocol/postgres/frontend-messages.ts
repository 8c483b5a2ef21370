// Decoders and encoders for every message a PostgreSQL client sends. Decoders take the whole
// message buffer (bodyStart defaults to just after a typed header) or a (buf, bodyStart, end)
// view from the framer, validate every bound, and reject trailing bytes like PostgreSQL does.
// Encoders are in frontend-encoders.ts.
// Buffers in decoded messages (Bind values, CopyData, SASL data) are views into the input.
import { ShardgateError } from '../../errors.js';
import { STARTUP_CODE } from './frontend-framer.js';
import { checkCString, MessageReader, violation } from './message-io.js';

export const FE_TYPE = {
  Query: 0x51, // Q
  Parse: 0x50, // P
  Bind: 0x42, // B
  Describe: 0x44, // D
  Execute: 0x45, // E
  Close: 0x43, // C
  Sync: 0x53, // S
  Flush: 0x48, // H
  Terminate: 0x58, // X
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  FunctionCall: 0x46, // F
  /** PasswordMessage, SASLInitialResponse, SASLResponse (and GSSResponse) share 'p'. */
  Password: 0x70, // p
} as const;

// ------------------------------------------------------------------------------------ types ---

export type StartupPacket =
  | { kind: 'startup'; version: number; params: Map<string, string> }
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number };

export interface ParseMessage {
  name: string;
  query: string;
  paramTypes: number[];
}

export interface BindMessage {
  portal: string;
  statement: string;
  /** 0 = text, 1 = binary; empty = all text, one entry = applies to all. */
  paramFormats: number[];
  values: Array<Buffer | null>;
  resultFormats: number[];
}

export interface TargetMessage {
  /** 'S' = prepared statement, 'P' = portal. */
  kind: 'S' | 'P';
  name: string;
}

export interface ExecuteMessage {
  portal: string;
  /** 0 = no limit. */
  maxRows: number;
}

export interface FunctionCallMessage {
  oid: number;
  argFormats: number[];
  args: Array<Buffer | null>;
  resultFormat: number;
}

export interface SASLInitialResponse {
  mechanism: string;
  /** The client-first message; empty when the client sent none (length -1). */
  data: Buffer;
}

// --------------------------------------------------------------------------------- decoders ---

/** Decodes any startup-phase message; bodyStart points at the Int32 code (default 4). */
export function decodeStartupPacket(buf: Buffer, bodyStart = 4, end = buf.length): StartupPacket {
  const r = new MessageReader(buf, bodyStart, end, 'startup');
  const code = r.int32();
  switch (code) {
    case STARTUP_CODE.SSLRequest:
      r.done();
      return { kind: 'ssl' };
    case STARTUP_CODE.GSSENCRequest:
      r.done();
      return { kind: 'gssenc' };
    case STARTUP_CODE.CancelRequest: {
      const processId = r.int32();
      const secretKey = r.int32();
      r.done();
      return { kind: 'cancel', processId, secretKey };
    }
    default: {
      const params = new Map<string, string>();
      // name\0value\0 ... terminated by an empty name.
      for (;;) {
        const key = r.cstring();
        if (key === '') break;
        params.set(key, r.cstring());
      }
      r.done();
      return { kind: 'startup', version: code >>> 0, params };
    }
  }
}

/** A message whose whole body is one C string (Query, CopyFail). */
function decodeOneString(buf: Buffer, bodyStart: number, end: number, what: string): string {
  const r = new MessageReader(buf, bodyStart, end, what);
  const text = r.cstring();
  r.done();
  return text;
}

export function decodeQuery(buf: Buffer, bodyStart = 5, end = buf.length): string {
  return decodeOneString(buf, bodyStart, end, 'Query');
}

export function decodeParse(buf: Buffer, bodyStart = 5, end = buf.length): ParseMessage {
  const r = new MessageReader(buf, bodyStart, end, 'Parse');
  const name = r.cstring();
  const query = r.cstring();
  const n = r.count16(4);
  const paramTypes: number[] = new Array(n);
  for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
  r.done();
  return { name, query, paramTypes };
}

export function decodeBind(buf: Buffer, bodyStart = 5, end = buf.length): BindMessage {
  const r = new MessageReader(buf, bodyStart, end, 'Bind');
  const portal = r.cstring();
  const statement = r.cstring();
  const paramFormats = readFormats(r);
  const n = r.count16(4);
  const values: Array<Buffer | null> = new Array(n);
  for (let i = 0; i < n; i++) values[i] = r.lengthPrefixed();
  const resultFormats = readFormats(r);
  r.done();
  if (paramFormats.length > 1 && paramFormats.length !== n) {
    throw violation('Bind', `${paramFormats.length} parameter formats for ${n} parameters`);
  }
  return { portal, statement, paramFormats, values, resultFormats };
}

function readFormats(r: MessageReader): number[] {
  const n = r.count16(2);
  const formats: number[] = new Array(n);
  for (let i = 0; i < n; i++) formats[i] = r.int16();
  return formats;
}

export function decodeDescribe(buf: Buffer, bodyStart = 5, end = buf.length): TargetMessage {
  return decodeTarget(buf, bodyStart, end, 'Describe');
}

export function decodeClose(buf: Buffer, bodyStart = 5, end = buf.length): TargetMessage {
  return decodeTarget(buf, bodyStart, end, 'Close');
}

function decodeTarget(buf: Buffer, bodyStart: number, end: number, what: string): TargetMessage {
  const r = new MessageReader(buf, bodyStart, end, what);
  const k = r.byte();
  if (k !== 0x53 && k !== 0x50) throw violation(what, `invalid target type 0x${k.toString(16)}`);
  const name = r.cstring();
  r.done();
  return { kind: k === 0x53 ? 'S' : 'P', name };
}

export function decodeExecute(buf: Buffer, bodyStart = 5, end = buf.length): ExecuteMessage {
  const r = new MessageReader(buf, bodyStart, end, 'Execute');
  const portal = r.cstring();
  const maxRows = r.int32();
  r.done();
  return { portal, maxRows };
}

/** Sync, Flush, Terminate, CopyDone: the body must be empty. */
export function decodeEmpty(buf: Buffer, bodyStart = 5, end = buf.length, what = 'empty'): void {
  new MessageReader(buf, bodyStart, end, what).done();
}

export function decodeCopyData(buf: Buffer, bodyStart = 5, end = buf.length): Buffer {
  return new MessageReader(buf, bodyStart, end, 'CopyData').rest();
}

export function decodeCopyFail(buf: Buffer, bodyStart = 5, end = buf.length): string {
  return decodeOneString(buf, bodyStart, end, 'CopyFail');
}

export function decodeFunctionCall(buf: Buffer, bodyStart = 5, end = buf.length): FunctionCallMessage {
  const r = new MessageReader(buf, bodyStart, end, 'FunctionCall');
  const oid = r.uint32();
  const argFormats = readFormats(r);
  const n = r.count16(4);
  const args: Array<Buffer | null> = new Array(n);
  for (let i = 0; i < n; i++) args[i] = r.lengthPrefixed();
  const resultFormat = r.int16();
  r.done();
  return { oid, argFormats, args, resultFormat };
}

/** PasswordMessage: a clear-text password or an md5 response. */
export function decodePassword(buf: Buffer, bodyStart = 5, end = buf.length): string {
  const r = new MessageReader(buf, bodyStart, end, 'PasswordMessage');
  const password = r.cstring();
  r.done();
  return password;
}

export function decodeSASLInitialResponse(buf: Buffer, bodyStart = 5, end = buf.length): SASLInitialResponse {
  const r = new MessageReader(buf, bodyStart, end, 'SASLInitialResponse');
  const mechanism = r.cstring();
  const data = r.lengthPrefixed() ?? Buffer.alloc(0);
  r.done();
  return { mechanism, data };
}

export function decodeSASLResponse(buf: Buffer, bodyStart = 5, end = buf.length): Buffer {
  return new MessageReader(buf, bodyStart, end, 'SASLResponse').rest();
}

// ------------------------------------------------------------------------ statement renaming ---

/**
 * Returns a copy of a Parse, Bind, Describe('S') or Close('S') message (buf[start, end), header
 * included) with its prepared-statement name replaced. The pooler names statements per server
 * connection (like PgBouncer's max_prepared_statements).
 */
export function renameStatement(buf: Buffer, newName: string, start = 0, end = buf.length): Buffer {
  checkCString(newName, 'renameStatement');
  if (end - start < 5) throw violation('renamed', 'truncated');
  const type = buf[start]!;
  const body = start + 5;
  let nameStart: number;
  switch (type) {
    case FE_TYPE.Parse:
      nameStart = body;
      break;
    case FE_TYPE.Bind: {
      // Skip the portal name; the statement name follows it.
      const nul = buf.indexOf(0, body);
      if (nul < 0 || nul >= end) throw violation('Bind', 'unterminated string');
      nameStart = nul + 1;
      break;
    }
    case FE_TYPE.Describe:
    case FE_TYPE.Close:
      if (end - body < 1) throw violation('Describe/Close', 'truncated');
      if (buf[body] !== 0x53) {
        throw new ShardgateError('INTERNAL', { detail: 'renameStatement on a portal Describe/Close' });
      }
      nameStart = body + 1;
      break;
    default:
      throw new ShardgateError('INTERNAL', {
        detail: `renameStatement on message type 0x${type.toString(16)}`,
      });
  }
  const nameEnd = buf.indexOf(0, nameStart);
  if (nameEnd < 0 || nameEnd >= end) throw violation('renamed', 'unterminated statement name');
  const newLen = Buffer.byteLength(newName, 'utf8');
  const total = end - start - (nameEnd - nameStart) + newLen;
  const out = Buffer.allocUnsafe(total);
  buf.copy(out, 0, start, nameStart);
  out.writeInt32BE(total - 1, 1);
  let pos = nameStart - start;
  pos += out.write(newName, pos, 'utf8');
  buf.copy(out, pos, nameEnd, end);
  return out;
}
