// Bounds-checked reading and exact-size writing of PostgreSQL message bodies. Every read failure
// becomes a ShardgateError PROTOCOL_VIOLATION naming the message, never a RangeError.
import { ShardgateError } from '../../errors.js';

export function violation(what: string, problem: string): ShardgateError {
  return new ShardgateError('PROTOCOL_VIOLATION', { detail: `malformed ${what} message: ${problem}` });
}

/** Sequential reader over buf[pos, end). */
export class MessageReader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    readonly what: string,
  ) {
    if (pos < 0 || end > buf.length || pos > end) throw violation(what, 'bad bounds');
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  byte(): number {
    if (this.pos + 1 > this.end) throw violation(this.what, 'truncated');
    return this.buf[this.pos++]!;
  }

  int16(): number {
    if (this.pos + 2 > this.end) throw violation(this.what, 'truncated');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    if (this.pos + 4 > this.end) throw violation(this.what, 'truncated');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    if (this.pos + 4 > this.end) throw violation(this.what, 'truncated');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /**
   * A count (unsigned Int16 on the wire: PostgreSQL reads counts with pq_getmsgint(2), so a Parse
   * may carry up to 65,535 parameters) that is plausible for the bytes left (each item >= minItemBytes).
   */
  count16(minItemBytes: number): number {
    if (this.pos + 2 > this.end) throw violation(this.what, 'truncated');
    const n = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    if (n * minItemBytes > this.remaining) throw violation(this.what, `count ${n} exceeds message length`);
    return n;
  }

  cstring(): string {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw violation(this.what, 'unterminated string');
    const s = this.buf.toString('utf8', this.pos, nul);
    this.pos = nul + 1;
    return s;
  }

  /** A view (no copy) of the next n bytes. */
  bytes(n: number): Buffer {
    if (n < 0 || this.pos + n > this.end) throw violation(this.what, 'truncated');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Int32 length then that many bytes; -1 means NULL. */
  lengthPrefixed(): Buffer | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < -1) throw violation(this.what, `negative length ${n}`);
    return this.bytes(n);
  }

  rest(): Buffer {
    return this.bytes(this.end - this.pos);
  }

  /** The message must be fully consumed (PostgreSQL's pq_getmsgend). */
  done(): void {
    if (this.pos !== this.end) throw violation(this.what, `${this.end - this.pos} unexpected trailing bytes`);
  }
}

/** Bytes a C string takes on the wire (UTF-8 plus the NUL). */
export function cstringSize(s: string): number {
  return Buffer.byteLength(s, 'utf8') + 1;
}

/** Exact-size writer: callers compute the size first, so nothing is concatenated. */
export class MessageWriter {
  readonly buf: Buffer;
  pos = 0;

  /** Allocates a message with a type byte (0 = untyped startup message) and the body size. */
  constructor(type: number, bodySize: number) {
    const header = type === 0 ? 4 : 5;
    this.buf = Buffer.allocUnsafe(header + bodySize);
    if (type !== 0) this.buf[this.pos++] = type;
    this.pos = this.buf.writeInt32BE(bodySize + 4, this.pos);
  }

  // Buffer's write methods return the offset after what they wrote: that is the new position.
  byte(v: number): this {
    this.buf[this.pos++] = v;
    return this;
  }

  int16(v: number): this {
    this.pos = this.buf.writeInt16BE(v, this.pos);
    return this;
  }

  /** A count (the protocol's Int16 counts are unsigned: up to 65,535 parameters). */
  uint16(v: number): this {
    this.pos = this.buf.writeUInt16BE(v, this.pos);
    return this;
  }

  int32(v: number): this {
    this.pos = this.buf.writeInt32BE(v, this.pos);
    return this;
  }

  uint32(v: number): this {
    this.pos = this.buf.writeUInt32BE(v >>> 0, this.pos);
    return this;
  }

  cstring(s: string): this {
    this.pos += this.buf.write(s, this.pos, 'utf8');
    this.buf[this.pos++] = 0;
    return this;
  }

  bytes(b: Buffer | Uint8Array): this {
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Returns the message; throws if the computed size was wrong (a bug, not bad input). */
  finish(): Buffer {
    if (this.pos !== this.buf.length) {
      throw new ShardgateError('INTERNAL', {
        detail: `message size mismatch ${this.pos} != ${this.buf.length}`,
      });
    }
    return this.buf;
  }
}

/** Rejects strings that cannot travel as a C string (an embedded NUL would corrupt the framing). */
export function checkCString(s: string, what: string): string {
  if (s.includes('\0')) {
    throw new ShardgateError('INTERNAL', { detail: `${what}: string contains a NUL character` });
  }
  return s;
}
