// Prepared statement packets: the COM_STMT_PREPARE_OK header, COM_STMT_EXECUTE (with the
// parameter values decoded to text for routing and rewritten to carry parameter types when a
// backend connection has not seen them), and the one-field commands CLOSE / RESET / FETCH /
// SEND_LONG_DATA.
import { readBinaryValue } from './binary-values.js';
import { COM, TYPE } from './constants.js';
import { malformed, PacketReader, PacketWriter } from './packet-io.js';

export interface PrepareOk {
  statementId: number;
  columnCount: number;
  paramCount: number;
  warnings: number;
}

export function decodePrepareOk(payload: Buffer): PrepareOk {
  const r = new PacketReader(payload);
  if (r.u8('the PREPARE_OK header') !== 0) throw malformed('not a COM_STMT_PREPARE_OK packet');
  const statementId = r.u32('the statement id');
  const columnCount = r.u16('the column count');
  const paramCount = r.u16('the parameter count');
  let warnings = 0;
  if (r.remaining >= 3) {
    r.skip(1);
    warnings = r.u16('the warning count');
  }
  return { statementId, columnCount, paramCount, warnings };
}

export function encodePrepareOk(p: PrepareOk): Buffer {
  return new PacketWriter(12)
    .u8(0)
    .u32(p.statementId)
    .u16(p.columnCount)
    .u16(p.paramCount)
    .u8(0)
    .u16(p.warnings)
    .payload();
}

/** A parameter type as sent in COM_STMT_EXECUTE: type byte, then 0x80 for unsigned. */
export interface ParamType {
  type: number;
  unsigned: boolean;
}

export interface Execute {
  statementId: number;
  /** Cursor flags (0: no cursor). */
  flags: number;
  /** Types as sent in this packet; null when the client relies on types bound earlier. */
  types: ParamType[] | null;
  /** Parameter values as text (what the text protocol would carry); null for SQL NULL. */
  values: Array<string | null>;
  /** Where the parameter bytes start (the null bitmap), for rewriting the packet. */
  paramsStart: number;
  /** Where the values start (after the bitmap, the bound flag and types). */
  valuesStart: number;
}

/**
 * Decodes COM_STMT_EXECUTE for a statement with `paramCount` parameters. `previousTypes`: the
 * types the client bound last time (used when this packet sends none). Parameters whose data
 * came by COM_STMT_SEND_LONG_DATA (`longData`) have no value in the packet.
 */
export function decodeExecute(
  payload: Buffer,
  paramCount: number,
  previousTypes: ParamType[] | null,
  longData: ReadonlySet<number> = new Set(),
): Execute {
  const r = new PacketReader(payload);
  if (r.u8('the command') !== COM.STMT_EXECUTE) throw malformed('not a COM_STMT_EXECUTE packet');
  const statementId = r.u32('the statement id');
  const flags = r.u8('the cursor flags');
  r.u32('the iteration count');
  const paramsStart = r.pos;
  const values: Array<string | null> = [];
  let types: ParamType[] | null = null;
  if (paramCount > 0) {
    const bitmap = r.bytes((paramCount + 7) >> 3, 'the parameter NULL bitmap');
    const bound = r.u8('the new-params-bound flag');
    if (bound === 1) {
      types = [];
      for (let i = 0; i < paramCount; i++) {
        const type = r.u8('a parameter type');
        const flag = r.u8('a parameter type flag');
        types.push({ type, unsigned: (flag & 0x80) !== 0 });
      }
    }
    const effective = types ?? previousTypes;
    if (!effective) throw malformed('COM_STMT_EXECUTE sends no parameter types and none were bound before');
    const valuesStart = r.pos;
    for (let i = 0; i < paramCount; i++) {
      if (bitmap[i >> 3]! & (1 << (i & 7))) {
        values.push(null);
        continue;
      }
      if (longData.has(i)) {
        values.push(null);
        continue;
      }
      const t = effective[i]!;
      const text = readBinaryValue(r, { type: t.type, unsigned: t.unsigned, decimals: 0x1f });
      values.push(t.type === TYPE.NULL ? null : text.toString('utf8'));
    }
    return { statementId, flags, types, values, paramsStart, valuesStart };
  }
  return { statementId, flags, types, values, paramsStart, valuesStart: r.pos };
}

/**
 * The client's COM_STMT_EXECUTE payload for another statement id, with the parameter types
 * spelled out when the client left them out (the target connection may never have seen them).
 */
export function rewriteExecute(
  payload: Buffer,
  exec: Execute,
  serverStatementId: number,
  paramCount: number,
  types: ParamType[] | null,
): Buffer {
  if (exec.types !== null || paramCount === 0 || types === null) {
    const out = Buffer.from(payload);
    out.writeUInt32LE(serverStatementId >>> 0, 1);
    return out;
  }
  const bitmapLength = (paramCount + 7) >> 3;
  const w = new PacketWriter(payload.length + 2 * paramCount + 8);
  w.u8(COM.STMT_EXECUTE).u32(serverStatementId).u8(exec.flags).u32(1);
  w.bytes(payload.subarray(exec.paramsStart, exec.paramsStart + bitmapLength));
  w.u8(1);
  for (const t of types) w.u8(t.type).u8(t.unsigned ? 0x80 : 0);
  w.bytes(payload.subarray(exec.valuesStart));
  return w.payload();
}

/** COM_STMT_CLOSE / COM_STMT_RESET: the command byte and a statement id. */
export function decodeStatementId(payload: Buffer): number {
  const r = new PacketReader(payload, 1);
  return r.u32('the statement id');
}

export function encodeStatementCommand(command: number, statementId: number): Buffer {
  return new PacketWriter(5).u8(command).u32(statementId).payload();
}

export interface LongData {
  statementId: number;
  paramId: number;
  data: Buffer;
}

export function decodeSendLongData(payload: Buffer): LongData {
  const r = new PacketReader(payload, 1);
  const statementId = r.u32('the statement id');
  const paramId = r.u16('the parameter id');
  return { statementId, paramId, data: r.rest() };
}

export function encodeSendLongData(statementId: number, paramId: number, data: Buffer): Buffer {
  return new PacketWriter(data.length + 7)
    .u8(COM.STMT_SEND_LONG_DATA)
    .u32(statementId)
    .u16(paramId)
    .bytes(data)
    .payload();
}

/** COM_QUERY / COM_STMT_PREPARE / COM_INIT_DB / COM_FIELD_LIST: the command byte and text. */
export function encodeTextCommand(command: number, text: string): Buffer {
  return new PacketWriter(Buffer.byteLength(text) + 1).u8(command).string(text).payload();
}
