// Incremental framer for MySQL packets: 3-byte little-endian payload length, 1-byte sequence id,
// payload. A payload of exactly 16 MB - 1 continues in the next packet; the framer joins those
// into one logical packet. A packet inside one pushed chunk is returned as a view (no copy); a
// packet spanning chunks is copied once, when all of its bytes have arrived (never per chunk).
import { ShardgateError } from '../../errors.js';
import { MAX_PACKET_PAYLOAD } from './constants.js';

export interface LogicalPacket {
  /** Sequence id of the first physical packet. */
  seq: number;
  /** Sequence id of the last physical packet (the next one expected is lastSeq + 1). */
  lastSeq: number;
  /** The joined payload. */
  payload: Buffer;
  /** The packet(s) exactly as received, headers included (for relaying untouched). */
  raw: Buffer;
}

const EMPTY = Buffer.alloc(0);

export class PacketFramer {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Chunks after `buf`, not yet joined. */
  private more: Buffer[] = [];
  private moreLength = 0;

  constructor(private maxPayloadBytes: number) {}

  /** Raises (after login) or lowers the largest accepted logical packet. */
  setMaxPayloadBytes(max: number): void {
    this.maxPayloadBytes = max;
  }

  /** Bytes received and not yet returned as packets. */
  get buffered(): number {
    return this.buf.length - this.pos + this.moreLength;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.pos >= this.buf.length && this.moreLength === 0) {
      this.buf = chunk;
      this.pos = 0;
      return;
    }
    this.more.push(chunk);
    this.moreLength += chunk.length;
  }

  /** Makes `n` bytes from pos contiguous in buf; false when fewer have arrived. */
  private contiguous(n: number): boolean {
    if (this.buf.length - this.pos >= n) return true;
    if (this.buffered < n) return false;
    this.buf = Buffer.concat([this.buf.subarray(this.pos), ...this.more]);
    this.pos = 0;
    this.more = [];
    this.moreLength = 0;
    return true;
  }

  /** Hands back every byte received and not yet returned as a packet (the framer is emptied). */
  takeBuffered(): Buffer {
    const rest = Buffer.concat([this.buf.subarray(this.pos), ...this.more]);
    this.buf = EMPTY;
    this.pos = 0;
    this.more = [];
    this.moreLength = 0;
    return rest;
  }

  /** The next complete logical packet, or null until more bytes arrive. */
  next(): LogicalPacket | null {
    let offset = 0;
    let total = 0;
    let count = 0;
    for (;;) {
      if (!this.contiguous(offset + 4)) return null;
      const length = this.buf.readUIntLE(this.pos + offset, 3);
      total += length;
      if (total > this.maxPayloadBytes) {
        throw new ShardgateError('MESSAGE_TOO_LARGE', { size: total, max: this.maxPayloadBytes });
      }
      if (this.buffered < offset + 4 + length) return null;
      if (!this.contiguous(offset + 4 + length)) return null;
      offset += 4 + length;
      count++;
      if (length < MAX_PACKET_PAYLOAD) break;
    }
    const start = this.pos;
    const raw = this.buf.subarray(start, start + offset);
    this.pos += offset;
    if (this.pos >= this.buf.length && this.moreLength === 0) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    const seq = raw[3]!;
    if (count === 1) return { seq, lastSeq: seq, payload: raw.subarray(4), raw };
    const payload = Buffer.allocUnsafe(total);
    let at = 0;
    let from = 0;
    for (let i = 0; i < count; i++) {
      const length = raw.readUIntLE(from, 3);
      raw.copy(payload, at, from + 4, from + 4 + length);
      at += length;
      from += 4 + length;
    }
    return { seq, lastSeq: (seq + count - 1) & 0xff, payload, raw };
  }
}
