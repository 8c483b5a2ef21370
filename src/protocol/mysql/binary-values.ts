// Values of the binary protocol (prepared statement parameters and binary result rows) to and
// from the text form the text protocol uses for the same value. Multi-shard merges work on text
// cells; a binary result is decoded to text, merged, and encoded back with the column's type.
import { TYPE } from './constants.js';
import { malformed, type PacketReader, type PacketWriter } from './packet-io.js';

export interface ValueType {
  type: number;
  unsigned: boolean;
  /** Fractional digits of temporal values; 0x1f or more: as many as the value needs. */
  decimals: number;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function fraction(micro: number, decimals: number): string {
  if (decimals >= 0x1f) return micro === 0 ? '' : `.${pad(micro, 6).replace(/0+$/, '')}`;
  if (decimals <= 0) return '';
  return `.${pad(micro, 6).slice(0, Math.min(6, decimals))}`;
}

/** Shortest decimal text that reads back as the same float32. */
function floatText(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return mysqlNumber(Number(s));
  }
  return mysqlNumber(v);
}

/** JS number text the way MySQL prints a double ("1e21", not "1e+21"). */
function mysqlNumber(v: number): string {
  return String(v).replace('e+', 'e');
}

/** Reads one binary value; returns its text-protocol bytes. */
export function readBinaryValue(r: PacketReader, t: ValueType): Buffer {
  switch (t.type) {
    case TYPE.TINY: {
      const v = r.u8('a TINYINT value');
      return Buffer.from(String(t.unsigned ? v : (v << 24) >> 24));
    }
    case TYPE.SHORT:
    case TYPE.YEAR: {
      const v = r.u16('a SMALLINT value');
      if (t.type === TYPE.YEAR) return Buffer.from(pad(v, 4));
      return Buffer.from(String(t.unsigned ? v : (v << 16) >> 16));
    }
    case TYPE.LONG:
    case TYPE.INT24: {
      const v = r.u32('an INT value');
      return Buffer.from(String(t.unsigned ? v : v | 0));
    }
    case TYPE.LONGLONG: {
      const v = r.u64('a BIGINT value');
      return Buffer.from(String(t.unsigned ? v : BigInt.asIntN(64, v)));
    }
    case TYPE.FLOAT: {
      const b = r.bytes(4, 'a FLOAT value');
      return Buffer.from(floatText(b.readFloatLE(0)));
    }
    case TYPE.DOUBLE: {
      const b = r.bytes(8, 'a DOUBLE value');
      return Buffer.from(mysqlNumber(b.readDoubleLE(0)));
    }
    case TYPE.DATE:
    case TYPE.DATETIME:
    case TYPE.TIMESTAMP:
    case TYPE.NEWDATE:
      return Buffer.from(readDateTime(r, t));
    case TYPE.TIME:
      return Buffer.from(readTime(r, t));
    case TYPE.NULL:
      return Buffer.alloc(0);
    default: {
      const b = r.lenencBytes('a string value');
      if (b === null) throw malformed('a binary value is the NULL marker');
      return b;
    }
  }
}

function readDateTime(r: PacketReader, t: ValueType): string {
  const n = r.u8('a date length');
  if (n !== 0 && n !== 4 && n !== 7 && n !== 11) throw malformed(`a date value of ${n} bytes`);
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  let s = 0;
  let micro = 0;
  if (n >= 4) {
    y = r.u16();
    mo = r.u8();
    d = r.u8();
  }
  if (n >= 7) {
    h = r.u8();
    mi = r.u8();
    s = r.u8();
  }
  if (n === 11) micro = r.u32();
  const date = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}`;
  if (t.type === TYPE.DATE || t.type === TYPE.NEWDATE) return date;
  return `${date} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${fraction(micro, t.decimals)}`;
}

function readTime(r: PacketReader, t: ValueType): string {
  const n = r.u8('a time length');
  if (n !== 0 && n !== 8 && n !== 12) throw malformed(`a time value of ${n} bytes`);
  if (n === 0) return `00:00:00${fraction(0, t.decimals)}`;
  const negative = r.u8() === 1;
  const days = r.u32();
  const h = r.u8();
  const mi = r.u8();
  const s = r.u8();
  const micro = n === 12 ? r.u32() : 0;
  const hours = days * 24 + h;
  return `${negative ? '-' : ''}${pad(hours, 2)}:${pad(mi, 2)}:${pad(s, 2)}${fraction(micro, t.decimals)}`;
}

/** Writes the text form of a value in the binary encoding of its type. */
export function writeBinaryValue(w: PacketWriter, t: ValueType, text: Buffer): void {
  switch (t.type) {
    case TYPE.TINY:
      w.u8(Number(text.toString()) & 0xff);
      return;
    case TYPE.SHORT:
    case TYPE.YEAR:
      w.u16(Number(text.toString()) & 0xffff);
      return;
    case TYPE.LONG:
    case TYPE.INT24:
      w.u32(Number(text.toString()) >>> 0);
      return;
    case TYPE.LONGLONG:
      w.u64(BigInt.asUintN(64, integerText(text)));
      return;
    case TYPE.FLOAT: {
      const b = Buffer.allocUnsafe(4);
      b.writeFloatLE(Number(text.toString()));
      w.bytes(b);
      return;
    }
    case TYPE.DOUBLE: {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleLE(Number(text.toString()));
      w.bytes(b);
      return;
    }
    case TYPE.DATE:
    case TYPE.DATETIME:
    case TYPE.TIMESTAMP:
    case TYPE.NEWDATE:
      writeDateTime(w, text.toString());
      return;
    case TYPE.TIME:
      writeTime(w, text.toString());
      return;
    case TYPE.NULL:
      return;
    default:
      w.lenencBytes(text);
  }
}

function integerText(text: Buffer): bigint {
  const s = text.toString().trim();
  if (!/^[-+]?\d+$/.test(s)) throw malformed(`"${s.slice(0, 40)}" is not an integer`);
  return BigInt(s);
}

const DATETIME_RE = /^(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?)?$/;

function writeDateTime(w: PacketWriter, text: string): void {
  const m = DATETIME_RE.exec(text.trim());
  if (!m) throw malformed(`"${text.slice(0, 40)}" is not a date or datetime`);
  const micro = m[7] ? Number(m[7].padEnd(6, '0')) : 0;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as number[];
  const hasTime = h! !== 0 || mi! !== 0 || s! !== 0 || micro !== 0;
  if (!hasTime && y === 0 && mo === 0 && d === 0) {
    w.u8(0);
    return;
  }
  w.u8(micro !== 0 ? 11 : hasTime ? 7 : 4)
    .u16(y!)
    .u8(mo!)
    .u8(d!);
  if (hasTime || micro !== 0) w.u8(h!).u8(mi!).u8(s!);
  if (micro !== 0) w.u32(micro);
}

const TIME_RE = /^(-)?(\d+):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?$/;

function writeTime(w: PacketWriter, text: string): void {
  const m = TIME_RE.exec(text.trim());
  if (!m) throw malformed(`"${text.slice(0, 40)}" is not a time`);
  const hours = Number(m[2]);
  const micro = m[5] ? Number(m[5].padEnd(6, '0')) : 0;
  const mi = Number(m[3]);
  const s = Number(m[4]);
  if (hours === 0 && mi === 0 && s === 0 && micro === 0) {
    w.u8(0);
    return;
  }
  w.u8(micro !== 0 ? 12 : 8)
    .u8(m[1] ? 1 : 0)
    .u32(Math.floor(hours / 24))
    .u8(hours % 24)
    .u8(mi)
    .u8(s);
  if (micro !== 0) w.u32(micro);
}
