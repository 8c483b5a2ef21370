// Reading and writing packet payloads: fixed-width little-endian integers, length-encoded
// integers and strings, NUL-terminated strings. The reader checks every bound and throws
// ShardgateError (never a RangeError), so garbage from a client can only end its own session.
import { ShardgateError } from '../../errors.js';
import { MAX_PACKET_PAYLOAD } from './constants.js';

export function malformed(detail: string): ShardgateError {
  return new ShardgateError('MYSQL_MALFORMED_PACKET', { detail });
}

export class PacketReader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw malformed(`packet ends inside ${what}`);
  }

  u8(what = 'a 1-byte integer'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'a 2-byte integer'): number {
    return this.uintLE(2, what);
  }

  u24(what = 'a 3-byte integer'): number {
    return this.uintLE(3, what);
  }

  u32(what = 'a 4-byte integer'): number {
    return this.uintLE(4, what);
  }

  /** An unsigned little-endian integer of `bytes` (up to 6) bytes. */
  private uintLE(bytes: number, what: string): number {
    this.need(bytes, what);
    const v = this.buf.readUIntLE(this.pos, bytes);
    this.pos += bytes;
    return v;
  }

  u64(what = 'an 8-byte integer'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  skip(n: number, what = 'reserved bytes'): void {
    this.need(n, what);
    this.pos += n;
  }

  bytes(n: number, what = 'a fixed-length field'): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length-encoded integer; null for the NULL marker 0xfb. Values past 2^53 are refused. */
  lenencInt(what = 'a length-encoded integer'): number | null {
    const first = this.u8(what);
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16(what);
    if (first === 0xfd) return this.u24(what);
    if (first === 0xfe) {
      const v = this.u64(what);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${what} is too large`);
      return Number(v);
    }
    throw malformed(`${what} starts with 0xff`);
  }

  /** Length-encoded integer that must not be NULL, as a bigint (affected rows, insert ids). */
  lenencBig(what = 'a length-encoded integer'): bigint {
    const first = this.u8(what);
    if (first < 0xfb) return BigInt(first);
    if (first === 0xfc) return BigInt(this.u16(what));
    if (first === 0xfd) return BigInt(this.u24(what));
    if (first === 0xfe) return this.u64(what);
    throw malformed(`${what} starts with 0x${first.toString(16)}`);
  }

  lenencBytes(what = 'a length-encoded string'): Buffer | null {
    const n = this.lenencInt(what);
    if (n === null) return null;
    return this.bytes(n, what);
  }

  lenencString(what = 'a length-encoded string'): string {
    const b = this.lenencBytes(what);
    if (b === null) throw malformed(`${what} is NULL`);
    return b.toString('utf8');
  }

  nulBytes(what = 'a NUL-terminated string'): Buffer {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw malformed(`${what} has no terminating NUL`);
    const out = this.buf.subarray(this.pos, nul);
    this.pos = nul + 1;
    return out;
  }

  nulString(what = 'a NUL-terminated string'): string {
    return this.nulBytes(what).toString('utf8');
  }

  /** The rest of the packet. */
  rest(): Buffer {
    const out = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return out;
  }

  restString(): string {
    return this.rest().toString('utf8');
  }
}

/** Builds one payload; frame() adds packet headers (splitting at 16 MB). */
export class PacketWriter {
  private buf: Buffer;
  length = 0;

  constructor(initial = 64) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v & 0xffff, this.length);
    this.length += 2;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf.writeUIntLE(v & 0xffffff, this.length, 3);
    this.length += 3;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
    return this;
  }

  u64(v: bigint | number): this {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  string(s: string): this {
    const n = Buffer.byteLength(s);
    this.ensure(n);
    this.buf.write(s, this.length, 'utf8');
    this.length += n;
    return this;
  }

  nulString(s: string): this {
    return this.string(s).u8(0);
  }

  lenencInt(v: number | bigint): this {
    const n = BigInt(v);
    if (n < 0xfbn) return this.u8(Number(n));
    if (n <= 0xffffn) return this.u8(0xfc).u16(Number(n));
    if (n <= 0xffffffn) return this.u8(0xfd).u24(Number(n));
    return this.u8(0xfe).u64(n);
  }

  lenencBytes(b: Uint8Array | null): this {
    if (b === null) return this.u8(0xfb);
    return this.lenencInt(b.length).bytes(b);
  }

  lenencString(s: string): this {
    return this.lenencBytes(Buffer.from(s, 'utf8'));
  }

  payload(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** The payload framed as packet(s) starting at `seq`. */
  frame(seq: number): Buffer {
    return framePayload(this.payload(), seq);
  }
}

/** Number of packets a payload of `length` bytes needs (a multiple of 16 MB - 1 ends with an empty one). */
export function packetCount(length: number): number {
  return Math.floor(length / MAX_PACKET_PAYLOAD) + 1;
}

/** Frames a payload into packets with sequence ids seq, seq+1, ... (mod 256). */
export function framePayload(payload: Uint8Array, seq: number): Buffer {
  const count = packetCount(payload.length);
  const out = Buffer.allocUnsafe(payload.length + 4 * count);
  let from = 0;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const n = Math.min(MAX_PACKET_PAYLOAD, payload.length - from);
    out.writeUIntLE(n, at, 3);
    out[at + 3] = (seq + i) & 0xff;
    out.set(payload.subarray(from, from + n), at + 4);
    at += 4 + n;
    from += n;
  }
  return out;
}
