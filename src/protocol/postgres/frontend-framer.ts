// Incremental framer for the bytes a PostgreSQL client sends. Two phases: startup (untyped
// messages: Int32 length + Int32 code) and then typed messages (Byte1 type + Int32 length).
//
// Frames reference the pushed chunk without copying when the chunk holds the whole message; a
// message spanning chunks is assembled into one exactly-sized buffer allocated once its length is
// known (so a large message costs one copy, not a copy per chunk). The Frame object returned by
// next() is reused: read it before calling next() again.
import { ShardgateError } from '../../errors.js';

export const STARTUP_CODE = {
  /** Protocol 3.0. */
  Protocol3: 196608,
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
  CancelRequest: 80877102,
} as const;

/** PostgreSQL refuses startup packets longer than this (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET = 10_000;

const TERMINATE = 0x58; // 'X'

/** Type bytes a client may send after startup. */
const FRONTEND_TYPES = 'QPBDECSHXdcfFp';
const VALID_TYPE = new Uint8Array(256);
for (const c of FRONTEND_TYPES) VALID_TYPE[c.charCodeAt(0)] = 1;

export interface Frame {
  /** Message type byte; 0 for startup-phase messages. */
  type: number;
  buf: Buffer;
  /** Whole message, header included: buf[start, end). */
  start: number;
  end: number;
  /** First body byte (after the length; for startup messages this is the Int32 code). */
  bodyStart: number;
}

export interface ByteRange {
  buf: Buffer;
  start: number;
  end: number;
}

export interface FrontendFramerOptions {
  /** Largest accepted message, header included (limits.maxMessageBytes). */
  maxMessageBytes: number;
  /** Start in the startup phase (default true). */
  startup?: boolean;
}

const EMPTY = Buffer.alloc(0);

export class FrontendFramer {
  private max: number;
  private startupPhase: boolean;
  /** The current chunk and the read position in it. */
  private cur: Buffer = EMPTY;
  private pos = 0;
  /**
   * A header split across chunks (at most 5 bytes). Allocated the first time one splits: a buffer
   * of its own costs a few hundred bytes per session, which idle sessions need not pay.
   */
  private hdr: Buffer | null = null;
  private hdrFill = 0;
  /** A message spanning chunks, being assembled. */
  private asm: Buffer | null = null;
  private asmFill = 0;
  private asmType = 0;
  private asmHeader = 0;
  /** Whole messages returned straight from the current chunk: cur[batchStart, batchEnd). */
  private batchStart = -1;
  private batchEnd = -1;
  private readonly frame: Frame = { type: 0, buf: EMPTY, start: 0, end: 0, bodyStart: 0 };
  private readonly range: ByteRange = { buf: EMPTY, start: 0, end: 0 };

  constructor(options: FrontendFramerOptions) {
    this.max = options.maxMessageBytes;
    this.startupPhase = options.startup ?? true;
  }

  get inStartup(): boolean {
    return this.startupPhase;
  }

  /**
   * Leaves the startup phase. Called after a StartupMessage; the framer also switches by itself
   * when it frames one (any startup code other than SSL/GSSENC/Cancel requests).
   */
  setStartupDone(): void {
    this.startupPhase = false;
  }

  /** Raises (after login) or lowers the largest accepted message. */
  setMaxMessageBytes(max: number): void {
    this.max = max;
  }

  /** Bytes received but not yet returned as frames (e.g. data sent after an SSLRequest). */
  get buffered(): number {
    return this.cur.length - this.pos + this.hdrFill + (this.asm ? this.asmFill : 0);
  }

  push(chunk: Buffer): void {
    if (this.pos < this.cur.length) {
      // The caller did not drain the previous chunk: keep its rest in front of the new bytes.
      this.cur = Buffer.concat([this.cur.subarray(this.pos), chunk]);
    } else {
      this.cur = chunk;
    }
    this.pos = 0;
    this.batchStart = -1;
    this.batchEnd = -1;
  }

  /** The next complete message, or null when more bytes are needed. */
  next(): Frame | null {
    if (this.asm) return this.fillAssembly();
    if (this.hdrFill > 0) return this.fillHeader();
    const cur = this.cur;
    const pos = this.pos;
    const avail = cur.length - pos;
    if (avail === 0) return null;
    const headerSize = this.startupPhase ? 4 : 5;
    if (avail < headerSize) {
      this.hdr ??= Buffer.alloc(5);
      cur.copy(this.hdr, 0, pos, cur.length);
      this.hdrFill = avail;
      this.pos = cur.length;
      return null;
    }
    if (this.startupPhase && cur[pos] === TERMINATE && avail >= 5 && cur.readInt32BE(pos + 1) === 4) {
      // A Terminate before any startup packet (a client closing while it connects): its bytes
      // are no startup length. The caller closes quietly, as PostgreSQL does.
      this.pos = pos + 5;
      return this.emit(TERMINATE, cur, pos, pos + 5, pos + 5);
    }
    const type = this.startupPhase ? 0 : cur[pos]!;
    const total = this.messageSize(type, cur.readInt32BE(pos + headerSize - 4));
    if (avail >= total) {
      this.pos = pos + total;
      if (this.batchStart < 0) this.batchStart = pos;
      this.batchEnd = pos + total;
      return this.emit(type, cur, pos, pos + total, pos + headerSize);
    }
    this.startAssembly(type, total, headerSize);
    this.asm!.set(cur.subarray(pos), 0);
    this.asmFill = avail;
    this.pos = cur.length;
    return null;
  }

  /**
   * The contiguous range of the current chunk holding every whole message next() returned from it
   * since the last push (messages assembled from several chunks are not in it). Forward a
   * pipelined batch with one write. The object is reused.
   */
  batchRange(): ByteRange | null {
    if (this.batchStart < 0) return null;
    this.range.buf = this.cur;
    this.range.start = this.batchStart;
    this.range.end = this.batchEnd;
    return this.range;
  }

  /** Validates a header; returns the whole message size including the type byte. */
  private messageSize(type: number, length: number): number {
    if (this.startupPhase) {
      if (length < 8) throw violation(`startup packet length ${length} is invalid`);
      if (length > MAX_STARTUP_PACKET || length > this.max) {
        throw violation(`startup packet length ${length} exceeds ${Math.min(MAX_STARTUP_PACKET, this.max)}`);
      }
      return length;
    }
    if (VALID_TYPE[type] !== 1)
      throw violation(`unknown message type 0x${type.toString(16).padStart(2, '0')}`);
    if (length < 4) throw violation(`message length ${length} is invalid`);
    const total = length + 1;
    if (total > this.max) throw new ShardgateError('MESSAGE_TOO_LARGE', { size: total, max: this.max });
    return total;
  }

  private fillHeader(): Frame | null {
    const headerSize = this.startupPhase ? 4 : 5;
    const cur = this.cur;
    const hdr = this.hdr!;
    const take = Math.min(headerSize - this.hdrFill, cur.length - this.pos);
    cur.copy(hdr, this.hdrFill, this.pos, this.pos + take);
    this.hdrFill += take;
    this.pos += take;
    if (this.hdrFill < headerSize) return null;
    const type = this.startupPhase ? 0 : hdr[0]!;
    const total = this.messageSize(type, hdr.readInt32BE(headerSize - 4));
    this.hdrFill = 0;
    this.startAssembly(type, total, headerSize);
    this.asm!.set(hdr.subarray(0, headerSize), 0);
    this.asmFill = headerSize;
    return this.fillAssembly();
  }

  private startAssembly(type: number, total: number, headerSize: number): void {
    this.asm = Buffer.allocUnsafe(total);
    this.asmType = type;
    this.asmHeader = headerSize;
    this.asmFill = 0;
  }

  private fillAssembly(): Frame | null {
    const asm = this.asm!;
    const cur = this.cur;
    const take = Math.min(asm.length - this.asmFill, cur.length - this.pos);
    cur.copy(asm, this.asmFill, this.pos, this.pos + take);
    this.asmFill += take;
    this.pos += take;
    if (this.asmFill < asm.length) return null;
    this.asm = null;
    this.asmFill = 0;
    return this.emit(this.asmType, asm, 0, asm.length, this.asmHeader);
  }

  private emit(type: number, buf: Buffer, start: number, end: number, bodyStart: number): Frame {
    if (this.startupPhase && type === 0) {
      const code = buf.readInt32BE(bodyStart);
      if (
        code !== STARTUP_CODE.SSLRequest &&
        code !== STARTUP_CODE.GSSENCRequest &&
        code !== STARTUP_CODE.CancelRequest
      ) {
        this.startupPhase = false;
      }
    }
    const f = this.frame;
    f.type = type;
    f.buf = buf;
    f.start = start;
    f.end = end;
    f.bodyStart = bodyStart;
    return f;
  }
}

function violation(detail: string): ShardgateError {
  return new ShardgateError('PROTOCOL_VIOLATION', { detail });
}
