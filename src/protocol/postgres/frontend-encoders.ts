// Encoders for every message a PostgreSQL client sends: used by tests, and by the proxy when it
// re-sends rewritten messages to a server. Each writes one exactly-sized Buffer.
import { ShardgateError } from '../../errors.js';
import { STARTUP_CODE } from './frontend-framer.js';
import {
  type BindMessage,
  type ExecuteMessage,
  FE_TYPE,
  type FunctionCallMessage,
  type ParseMessage,
  type TargetMessage,
} from './frontend-messages.js';
import { checkCString, cstringSize, MessageWriter } from './message-io.js';

export function encodeStartupMessage(params: Map<string, string> | Record<string, string>): Buffer {
  const entries = params instanceof Map ? [...params] : Object.entries(params);
  let size = 4 + 1;
  for (const [k, v] of entries) {
    if (k === '') throw new ShardgateError('INTERNAL', { detail: 'startup parameter with an empty name' });
    size += cstringSize(checkCString(k, 'startup')) + cstringSize(checkCString(v, 'startup'));
  }
  const w = new MessageWriter(0, size).int32(STARTUP_CODE.Protocol3);
  for (const [k, v] of entries) w.cstring(k).cstring(v);
  return w.byte(0).finish();
}

export function encodeSSLRequest(): Buffer {
  return new MessageWriter(0, 4).int32(STARTUP_CODE.SSLRequest).finish();
}

export function encodeGSSENCRequest(): Buffer {
  return new MessageWriter(0, 4).int32(STARTUP_CODE.GSSENCRequest).finish();
}

export function encodeCancelRequest(processId: number, secretKey: number): Buffer {
  return new MessageWriter(0, 12)
    .int32(STARTUP_CODE.CancelRequest)
    .int32(processId)
    .int32(secretKey)
    .finish();
}

export function encodeQuery(sql: string): Buffer {
  return new MessageWriter(FE_TYPE.Query, cstringSize(checkCString(sql, 'Query'))).cstring(sql).finish();
}

export function encodeParse(m: ParseMessage): Buffer {
  const size = cstringSize(checkCString(m.name, 'Parse')) + cstringSize(checkCString(m.query, 'Parse'));
  const w = new MessageWriter(FE_TYPE.Parse, size + 2 + 4 * m.paramTypes.length);
  w.cstring(m.name).cstring(m.query).uint16(m.paramTypes.length);
  for (const oid of m.paramTypes) w.uint32(oid);
  return w.finish();
}

export function encodeBind(m: BindMessage): Buffer {
  let size = cstringSize(checkCString(m.portal, 'Bind')) + cstringSize(checkCString(m.statement, 'Bind'));
  size += 2 + 2 * m.paramFormats.length + 2 + 2 + 2 * m.resultFormats.length;
  for (const v of m.values) size += 4 + (v ? v.length : 0);
  const w = new MessageWriter(FE_TYPE.Bind, size);
  w.cstring(m.portal).cstring(m.statement).uint16(m.paramFormats.length);
  for (const f of m.paramFormats) w.int16(f);
  w.uint16(m.values.length);
  for (const v of m.values) {
    if (v === null) w.int32(-1);
    else w.int32(v.length).bytes(v);
  }
  w.uint16(m.resultFormats.length);
  for (const f of m.resultFormats) w.int16(f);
  return w.finish();
}

export function encodeDescribe(m: TargetMessage): Buffer {
  return encodeTarget(FE_TYPE.Describe, m);
}

export function encodeClose(m: TargetMessage): Buffer {
  return encodeTarget(FE_TYPE.Close, m);
}

function encodeTarget(type: number, m: TargetMessage): Buffer {
  const w = new MessageWriter(type, 1 + cstringSize(checkCString(m.name, 'Describe/Close')));
  return w.byte(m.kind.charCodeAt(0)).cstring(m.name).finish();
}

export function encodeExecute(m: ExecuteMessage): Buffer {
  const w = new MessageWriter(FE_TYPE.Execute, cstringSize(checkCString(m.portal, 'Execute')) + 4);
  return w.cstring(m.portal).int32(m.maxRows).finish();
}

export function encodeSync(): Buffer {
  return new MessageWriter(FE_TYPE.Sync, 0).finish();
}

export function encodeFlush(): Buffer {
  return new MessageWriter(FE_TYPE.Flush, 0).finish();
}

export function encodeTerminate(): Buffer {
  return new MessageWriter(FE_TYPE.Terminate, 0).finish();
}

export function encodeCopyData(data: Buffer): Buffer {
  return new MessageWriter(FE_TYPE.CopyData, data.length).bytes(data).finish();
}

export function encodeCopyDone(): Buffer {
  return new MessageWriter(FE_TYPE.CopyDone, 0).finish();
}

export function encodeCopyFail(message: string): Buffer {
  return new MessageWriter(FE_TYPE.CopyFail, cstringSize(checkCString(message, 'CopyFail')))
    .cstring(message)
    .finish();
}

export function encodeFunctionCall(m: FunctionCallMessage): Buffer {
  let size = 4 + 2 + 2 * m.argFormats.length + 2 + 2;
  for (const a of m.args) size += 4 + (a ? a.length : 0);
  const w = new MessageWriter(FE_TYPE.FunctionCall, size).uint32(m.oid).int16(m.argFormats.length);
  for (const f of m.argFormats) w.int16(f);
  w.int16(m.args.length);
  for (const a of m.args) {
    if (a === null) w.int32(-1);
    else w.int32(a.length).bytes(a);
  }
  return w.int16(m.resultFormat).finish();
}

export function encodePassword(password: string): Buffer {
  const w = new MessageWriter(FE_TYPE.Password, cstringSize(checkCString(password, 'PasswordMessage')));
  return w.cstring(password).finish();
}

export function encodeSASLInitialResponse(mechanism: string, data: Buffer | string | null): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const size = cstringSize(checkCString(mechanism, 'SASLInitialResponse')) + 4 + (bytes ? bytes.length : 0);
  const w = new MessageWriter(FE_TYPE.Password, size).cstring(mechanism);
  if (bytes === null) w.int32(-1);
  else w.int32(bytes.length).bytes(bytes);
  return w.finish();
}

export function encodeSASLResponse(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return new MessageWriter(FE_TYPE.Password, bytes.length).bytes(bytes).finish();
}
