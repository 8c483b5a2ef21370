// Encoders for the backend messages shardgate generates itself (authentication, errors, locally
// answered or merged results). Each writes one exactly-sized Buffer. Messages with no body are
// shared constants: do not mutate what these functions return.
import { ShardgateError } from '../../errors.js';
import { checkCString, cstringSize, MessageWriter } from './message-io.js';

export const BE_TYPE = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  ParameterStatus: 0x53, // S
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
  DataRow: 0x44, // D
  CommandComplete: 0x43, // C
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NoData: 0x6e, // n
  ParameterDescription: 0x74, // t
  PortalSuspended: 0x73, // s
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  FunctionCallResponse: 0x56, // V
  NegotiateProtocolVersion: 0x76, // v
} as const;

export const AUTH_CODE = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

export interface FieldDescription {
  name: string;
  tableOid: number;
  /** Attribute number in the table, 0 if not a table column. */
  column: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  /** 0 = text, 1 = binary. */
  format: number;
}

/** ErrorResponse / NoticeResponse fields (PostgreSQL's field codes in comments). */
export interface ErrorFields {
  severity: string; // S (localized)
  /** V (never localized); defaults to severity. */
  severityNonLocalized?: string;
  code: string; // C
  message: string; // M
  detail?: string; // D
  hint?: string; // H
  position?: string; // P
  internalPosition?: string; // p
  internalQuery?: string; // q
  where?: string; // W
  schema?: string; // s
  table?: string; // t
  column?: string; // c
  dataType?: string; // d
  constraint?: string; // n
  file?: string; // F
  line?: string; // L
  routine?: string; // R
}

/** Field code byte for each optional ErrorFields key, in PostgreSQL's emission order. */
export const ERROR_FIELD_CODES: ReadonlyArray<readonly [keyof ErrorFields, number]> = [
  ['severity', 0x53],
  ['severityNonLocalized', 0x56],
  ['code', 0x43],
  ['message', 0x4d],
  ['detail', 0x44],
  ['hint', 0x48],
  ['position', 0x50],
  ['internalPosition', 0x70],
  ['internalQuery', 0x71],
  ['where', 0x57],
  ['schema', 0x73],
  ['table', 0x74],
  ['column', 0x63],
  ['dataType', 0x64],
  ['constraint', 0x6e],
  ['file', 0x46],
  ['line', 0x4c],
  ['routine', 0x52],
];

// --------------------------------------------------------------------------- authentication ---

const AUTH_OK = new MessageWriter(BE_TYPE.Authentication, 4).int32(AUTH_CODE.Ok).finish();
const AUTH_CLEARTEXT = new MessageWriter(BE_TYPE.Authentication, 4)
  .int32(AUTH_CODE.CleartextPassword)
  .finish();

export function encodeAuthenticationOk(): Buffer {
  return AUTH_OK;
}

export function encodeAuthenticationCleartextPassword(): Buffer {
  return AUTH_CLEARTEXT;
}

export function encodeAuthenticationMD5Password(salt: Buffer): Buffer {
  if (salt.length !== 4) throw new ShardgateError('INTERNAL', { detail: 'md5 salt must be 4 bytes' });
  return new MessageWriter(BE_TYPE.Authentication, 8).int32(AUTH_CODE.MD5Password).bytes(salt).finish();
}

export function encodeAuthenticationSASL(mechanisms: readonly string[]): Buffer {
  let size = 4 + 1;
  for (const m of mechanisms) size += cstringSize(checkCString(m, 'AuthenticationSASL'));
  const w = new MessageWriter(BE_TYPE.Authentication, size).int32(AUTH_CODE.SASL);
  for (const m of mechanisms) w.cstring(m);
  return w.byte(0).finish();
}

export function encodeAuthenticationSASLContinue(data: string | Buffer): Buffer {
  return encodeAuthData(AUTH_CODE.SASLContinue, data);
}

export function encodeAuthenticationSASLFinal(data: string | Buffer): Buffer {
  return encodeAuthData(AUTH_CODE.SASLFinal, data);
}

function encodeAuthData(code: number, data: string | Buffer): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return new MessageWriter(BE_TYPE.Authentication, 4 + bytes.length).int32(code).bytes(bytes).finish();
}

// ------------------------------------------------------------------------- session messages ---

export function encodeParameterStatus(name: string, value: string): Buffer {
  const size =
    cstringSize(checkCString(name, 'ParameterStatus')) + cstringSize(checkCString(value, 'ParameterStatus'));
  return new MessageWriter(BE_TYPE.ParameterStatus, size).cstring(name).cstring(value).finish();
}

export function encodeBackendKeyData(processId: number, secretKey: number): Buffer {
  return new MessageWriter(BE_TYPE.BackendKeyData, 8)
    .int32(processId | 0)
    .int32(secretKey | 0)
    .finish();
}

const READY: Record<string, Buffer> = {
  I: new MessageWriter(BE_TYPE.ReadyForQuery, 1).byte(0x49).finish(),
  T: new MessageWriter(BE_TYPE.ReadyForQuery, 1).byte(0x54).finish(),
  E: new MessageWriter(BE_TYPE.ReadyForQuery, 1).byte(0x45).finish(),
};

/** status: 'I' idle, 'T' in a transaction, 'E' in a failed transaction (or its byte value). */
export function encodeReadyForQuery(status: 'I' | 'T' | 'E' | string | number): Buffer {
  const key = typeof status === 'number' ? String.fromCharCode(status) : status;
  const msg = READY[key];
  if (!msg) throw new ShardgateError('INTERNAL', { detail: `invalid transaction status ${String(status)}` });
  return msg;
}

export function encodeNotificationResponse(processId: number, channel: string, payload: string): Buffer {
  const size =
    4 +
    cstringSize(checkCString(channel, 'Notification')) +
    cstringSize(checkCString(payload, 'Notification'));
  return new MessageWriter(BE_TYPE.NotificationResponse, size)
    .int32(processId | 0)
    .cstring(channel)
    .cstring(payload)
    .finish();
}

// ------------------------------------------------------------------------ errors and notices ---

export function encodeErrorFields(type: number, fields: ErrorFields): Buffer {
  const f: ErrorFields = { ...fields, severityNonLocalized: fields.severityNonLocalized ?? fields.severity };
  let size = 1;
  for (const [key] of ERROR_FIELD_CODES) {
    const v = f[key];
    if (v !== undefined) size += 1 + cstringSize(stripNul(v));
  }
  const w = new MessageWriter(type, size);
  for (const [key, code] of ERROR_FIELD_CODES) {
    const v = f[key];
    if (v !== undefined) w.byte(code).cstring(stripNul(v));
  }
  return w.byte(0).finish();
}

// Error text may carry user input; a NUL would corrupt framing, and failing here would lose the error.
function stripNul(s: string): string {
  return s.includes('\0') ? s.replaceAll('\0', '') : s;
}

/** An ErrorResponse from a ShardgateError (severity overridable, e.g. 'FATAL' before closing) or raw fields. */
export function encodeErrorResponse(err: ShardgateError | ErrorFields, severity?: string): Buffer {
  const fields: ErrorFields =
    err instanceof ShardgateError
      ? { severity: err.severity, code: err.sqlstate, message: err.message }
      : err;
  if (severity !== undefined) {
    return encodeErrorFields(BE_TYPE.ErrorResponse, { ...fields, severity, severityNonLocalized: severity });
  }
  return encodeErrorFields(BE_TYPE.ErrorResponse, fields);
}

export function encodeNoticeResponse(fields: ErrorFields): Buffer {
  return encodeErrorFields(BE_TYPE.NoticeResponse, fields);
}

/** A NOTICE with SQLSTATE 00000 and the given message. */
export function encodeNotice(message: string, detail?: string): Buffer {
  return encodeNoticeResponse({ severity: 'NOTICE', code: '00000', message, detail });
}

// --------------------------------------------------------------------------------- results ---

export function encodeRowDescription(fields: readonly FieldDescription[]): Buffer {
  let size = 2;
  for (const f of fields) size += cstringSize(checkCString(f.name, 'RowDescription')) + 18;
  const w = new MessageWriter(BE_TYPE.RowDescription, size).int16(fields.length);
  for (const f of fields) {
    w.cstring(f.name).uint32(f.tableOid).int16(f.column).uint32(f.typeOid);
    w.int16(f.typeSize).int32(f.typeModifier).int16(f.format);
  }
  return w.finish();
}

export const TEXT_OID = 25;

/** A RowDescription of text columns not tied to a table (for locally answered queries). */
export function encodeTextRowDescription(names: readonly string[]): Buffer {
  return encodeRowDescription(
    names.map((name) => ({
      name,
      tableOid: 0,
      column: 0,
      typeOid: TEXT_OID,
      typeSize: -1,
      typeModifier: -1,
      format: 0,
    })),
  );
}

/** values: strings are sent as UTF-8 text, Buffers as-is, null as SQL NULL. */
export function encodeDataRow(values: ReadonlyArray<Buffer | string | null>): Buffer {
  let size = 2;
  for (const v of values)
    size += 4 + (v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length);
  const w = new MessageWriter(BE_TYPE.DataRow, size).int16(values.length);
  for (const v of values) {
    if (v === null) {
      w.int32(-1);
    } else if (typeof v === 'string') {
      const at = w.pos;
      w.pos += 4;
      const n = w.buf.write(v, w.pos, 'utf8');
      w.buf.writeInt32BE(n, at);
      w.pos += n;
    } else {
      w.int32(v.length).bytes(v);
    }
  }
  return w.finish();
}

export function encodeCommandComplete(tag: string): Buffer {
  return new MessageWriter(BE_TYPE.CommandComplete, cstringSize(checkCString(tag, 'CommandComplete')))
    .cstring(tag)
    .finish();
}

export function encodeParameterDescription(typeOids: readonly number[]): Buffer {
  const w = new MessageWriter(BE_TYPE.ParameterDescription, 2 + 4 * typeOids.length).uint16(typeOids.length);
  for (const oid of typeOids) w.uint32(oid);
  return w.finish();
}

// The messages without a body: one shared buffer each (written as is, never modified).
export const EMPTY_QUERY_RESPONSE = new MessageWriter(BE_TYPE.EmptyQueryResponse, 0).finish();
export const PARSE_COMPLETE = new MessageWriter(BE_TYPE.ParseComplete, 0).finish();
export const BIND_COMPLETE = new MessageWriter(BE_TYPE.BindComplete, 0).finish();
export const CLOSE_COMPLETE = new MessageWriter(BE_TYPE.CloseComplete, 0).finish();
export const NO_DATA = new MessageWriter(BE_TYPE.NoData, 0).finish();
export const PORTAL_SUSPENDED = new MessageWriter(BE_TYPE.PortalSuspended, 0).finish();

// -------------------------------------------------------------------------------------- COPY ---

export interface CopyResponse {
  /** 0 = text, 1 = binary (overall). */
  format: number;
  columnFormats: number[];
}

export function encodeCopyInResponse(m: CopyResponse): Buffer {
  return encodeCopyResponse(BE_TYPE.CopyInResponse, m);
}

export function encodeCopyOutResponse(m: CopyResponse): Buffer {
  return encodeCopyResponse(BE_TYPE.CopyOutResponse, m);
}

export function encodeCopyBothResponse(m: CopyResponse): Buffer {
  return encodeCopyResponse(BE_TYPE.CopyBothResponse, m);
}

function encodeCopyResponse(type: number, m: CopyResponse): Buffer {
  const w = new MessageWriter(type, 1 + 2 + 2 * m.columnFormats.length)
    .byte(m.format)
    .int16(m.columnFormats.length);
  for (const f of m.columnFormats) w.int16(f);
  return w.finish();
}
