// Direct decoders for backend messages shardgate reads from a server stream (merging results,
// tracking session state). Each takes the message body view (buf, bodyStart, end) as reported by
// the BackendScanner; bodyStart defaults to 5 for a whole message in its own buffer.
// DataRow values are views into the input: copy them if the input buffer is reused.
import type { ErrorFields, FieldDescription } from './backend-messages.js';
import { AUTH_CODE, ERROR_FIELD_CODES } from './backend-messages.js';
import { MessageReader, violation } from './message-io.js';

/** A decoder of `what` message bodies: `read` reads the fields in wire order, to the body's end. */
function bodyDecoder<T>(
  what: string,
  read: (r: MessageReader) => T,
): (buf: Buffer, bodyStart?: number, end?: number) => T {
  return (buf, bodyStart = 5, end = buf.length) => {
    const r = new MessageReader(buf, bodyStart, end, what);
    const value = read(r);
    r.done();
    return value;
  };
}

export function decodeRowDescription(buf: Buffer, bodyStart = 5, end = buf.length): FieldDescription[] {
  const r = new MessageReader(buf, bodyStart, end, 'RowDescription');
  const n = r.count16(19);
  const fields: FieldDescription[] = new Array(n);
  for (let i = 0; i < n; i++) {
    fields[i] = {
      name: r.cstring(),
      tableOid: r.uint32(),
      column: r.int16(),
      typeOid: r.uint32(),
      typeSize: r.int16(),
      typeModifier: r.int32(),
      format: r.int16(),
    };
  }
  r.done();
  return fields;
}

export function decodeDataRow(buf: Buffer, bodyStart = 5, end = buf.length): Array<Buffer | null> {
  if (bodyStart + 2 > end || end > buf.length || bodyStart < 0) throw violation('DataRow', 'truncated');
  const n = buf.readInt16BE(bodyStart);
  if (n < 0 || n * 4 > end - bodyStart - 2) throw violation('DataRow', `invalid column count ${n}`);
  const values: Array<Buffer | null> = new Array(n);
  let pos = bodyStart + 2;
  for (let i = 0; i < n; i++) {
    if (pos + 4 > end) throw violation('DataRow', 'truncated');
    const len = buf.readInt32BE(pos);
    pos += 4;
    if (len === -1) {
      values[i] = null;
    } else {
      if (len < 0 || pos + len > end) throw violation('DataRow', 'truncated value');
      values[i] = buf.subarray(pos, pos + len);
      pos += len;
    }
  }
  if (pos !== end) throw violation('DataRow', 'unexpected trailing bytes');
  return values;
}

/** The command tag of a CommandComplete ("SELECT 3", "INSERT 0 1"). */
export function readCommandTag(buf: Buffer, bodyStart = 5, end = buf.length): string {
  const r = new MessageReader(buf, bodyStart, end, 'CommandComplete');
  const tag = r.cstring();
  r.done();
  return tag;
}

export const decodeCommandComplete = readCommandTag;

/** All fields of an ErrorResponse / NoticeResponse; unknown field codes are skipped. */
export function decodeErrorFields(buf: Buffer, bodyStart = 5, end = buf.length): ErrorFields {
  const r = new MessageReader(buf, bodyStart, end, 'ErrorResponse');
  const out: Record<string, string> = {};
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    const value = r.cstring();
    const key = FIELD_BY_CODE[code];
    if (key) out[key] = value;
  }
  r.done();
  return {
    ...out,
    severity: out.severity ?? out.severityNonLocalized ?? '',
    code: out.code ?? '',
    message: out.message ?? '',
  };
}

const FIELD_BY_CODE: Array<keyof ErrorFields | undefined> = new Array(256);
for (const [key, code] of ERROR_FIELD_CODES) FIELD_BY_CODE[code] = key;

/** Just the SQLSTATE of an ErrorResponse (no other strings decoded); '' if absent. */
export function readErrorCode(buf: Buffer, bodyStart = 5, end = buf.length): string {
  if (bodyStart < 0 || end > buf.length) throw violation('ErrorResponse', 'bad bounds');
  let pos = bodyStart;
  while (pos < end) {
    const code = buf[pos]!;
    if (code === 0) return '';
    const nul = buf.indexOf(0, pos + 1);
    if (nul < 0 || nul >= end) throw violation('ErrorResponse', 'unterminated field');
    if (code === 0x43) return buf.toString('latin1', pos + 1, nul);
    pos = nul + 1;
  }
  throw violation('ErrorResponse', 'missing terminator');
}

export const decodeParameterStatus = bodyDecoder('ParameterStatus', (r) => ({
  name: r.cstring(),
  value: r.cstring(),
}));

export const decodeBackendKeyData = bodyDecoder('BackendKeyData', (r) => ({
  processId: r.int32(),
  secretKey: r.int32(),
}));

export function decodeReadyForQuery(buf: Buffer, bodyStart = 5, end = buf.length): 'I' | 'T' | 'E' {
  const r = new MessageReader(buf, bodyStart, end, 'ReadyForQuery');
  const s = r.byte();
  r.done();
  if (s === 0x49) return 'I';
  if (s === 0x54) return 'T';
  if (s === 0x45) return 'E';
  throw violation('ReadyForQuery', `invalid status 0x${s.toString(16)}`);
}

export const decodeParameterDescription = bodyDecoder('ParameterDescription', (r) => {
  const n = r.count16(4);
  const oids: number[] = new Array(n);
  for (let i = 0; i < n; i++) oids[i] = r.uint32();
  return oids;
});

export const decodeNotificationResponse = bodyDecoder('NotificationResponse', (r) => ({
  processId: r.int32(),
  channel: r.cstring(),
  payload: r.cstring(),
}));

export const decodeCopyResponse = bodyDecoder('CopyResponse', (r) => {
  const format = r.byte();
  const n = r.count16(2);
  const columnFormats: number[] = new Array(n);
  for (let i = 0; i < n; i++) columnFormats[i] = r.int16();
  return { format, columnFormats };
});

export type AuthenticationRequest =
  | { code: 0 | 3 }
  | { code: 5; salt: Buffer }
  | { code: 10; mechanisms: string[] }
  | { code: 11 | 12; data: Buffer }
  | { code: number; data: Buffer };

export function decodeAuthentication(buf: Buffer, bodyStart = 5, end = buf.length): AuthenticationRequest {
  const r = new MessageReader(buf, bodyStart, end, 'Authentication');
  const code = r.int32();
  switch (code) {
    case AUTH_CODE.Ok:
    case AUTH_CODE.CleartextPassword:
      r.done();
      return { code };
    case AUTH_CODE.MD5Password: {
      const salt = r.bytes(4);
      r.done();
      return { code, salt };
    }
    case AUTH_CODE.SASL: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = r.cstring();
        if (m === '') break;
        mechanisms.push(m);
      }
      r.done();
      return { code, mechanisms };
    }
    default:
      return { code, data: r.rest() };
  }
}
