// Incremental header scanner for the byte stream a PostgreSQL server sends. It walks message
// headers (type byte + Int32 length) across chunk boundaries and reports only the message types
// the caller asked for; all other bodies are skipped by counting bytes, so the caller forwards
// each chunk untouched. The common case (a chunk of whole messages) is one tight loop over the
// headers with no allocation. A reported message whose body lies entirely in the current chunk is
// a view into that chunk; only a reported message split across chunks is copied (once).
import { ShardgateError } from '../../errors.js';
import { BE_TYPE } from './backend-messages.js';

/** Types a server may send; anything else means the stream is corrupt. */
const BACKEND_TYPES = 'RKSZTDCEINA123ntsGHWdcVv';
const VALID_TYPE = new Uint8Array(256);
for (const c of BACKEND_TYPES) VALID_TYPE[c.charCodeAt(0)] = 1;

/** What a session usually needs: transaction status, errors, tags, settings, COPY, notifications. */
export const DEFAULT_REPORTED_TYPES: readonly number[] = [
  BE_TYPE.ReadyForQuery,
  BE_TYPE.ErrorResponse,
  BE_TYPE.CommandComplete,
  BE_TYPE.ParameterStatus,
  BE_TYPE.NotificationResponse,
  BE_TYPE.CopyInResponse,
  BE_TYPE.CopyOutResponse,
  BE_TYPE.CopyBothResponse,
];

export interface ScanSink {
  /**
   * A reported message. The body is buf[bodyStart, end) (for ReadyForQuery, buf[bodyStart] is the
   * status byte I/T/E). endInChunk is the offset in the current chunk just past the message, so
   * the caller can cut the chunk there (e.g. right after a ReadyForQuery).
   */
  onMessage(type: number, buf: Buffer, bodyStart: number, end: number, endInChunk: number): void;
}

export interface BackendScannerOptions {
  /** Message types to report (default DEFAULT_REPORTED_TYPES). */
  types?: readonly number[];
  /** Largest reported message body that will be assembled across chunks (default 64 MiB). */
  maxReportedBody?: number;
}

export class BackendScanner {
  private readonly report = new Uint8Array(256);
  private readonly maxReported: number;
  /** Body bytes of an unreported message still to skip. */
  private skip = 0;
  /** A header split across chunks. */
  private readonly hdr = Buffer.alloc(5);
  private hdrFill = 0;
  /** A reported message's body split across chunks. */
  private body: Buffer | null = null;
  private bodyFill = 0;
  private bodyType = 0;
  private messages = 0;

  constructor(
    private readonly sink: ScanSink,
    options: BackendScannerOptions = {},
  ) {
    for (const t of options.types ?? DEFAULT_REPORTED_TYPES) this.report[t] = 1;
    this.maxReported = options.maxReportedBody ?? 64 * 1024 * 1024;
  }

  /** True when the bytes seen so far end exactly at a message boundary. */
  get atBoundary(): boolean {
    return this.skip === 0 && this.hdrFill === 0 && this.body === null;
  }

  /** Whole messages seen so far (reported or not). */
  get messageCount(): number {
    return this.messages;
  }

  scan(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    // Finish whatever the previous chunk left open.
    if (this.skip > 0) {
      const n = Math.min(this.skip, len);
      this.skip -= n;
      pos = n;
      if (this.skip === 0) this.messages++;
    } else if (this.body !== null) {
      pos = this.fillBody(chunk);
    } else if (this.hdrFill > 0) {
      const take = Math.min(5 - this.hdrFill, len);
      chunk.copy(this.hdr, this.hdrFill, 0, take);
      this.hdrFill += take;
      pos = take;
      if (this.hdrFill < 5) return;
      this.hdrFill = 0;
      pos = this.startMessage(chunk, this.hdr[0]!, this.hdr.readInt32BE(1), pos);
    }
    // The hot loop: whole headers in this chunk.
    const report = this.report;
    while (pos + 5 <= len) {
      const type = chunk[pos]!;
      const length = chunk.readInt32BE(pos + 1);
      if (VALID_TYPE[type] !== 1 || length < 4) this.corrupt(type, length);
      const end = pos + 1 + length;
      if (end <= len) {
        this.messages++;
        if (report[type] === 1) this.sink.onMessage(type, chunk, pos + 5, end, end);
        pos = end;
      } else {
        pos = this.startMessage(chunk, type, length, pos + 5);
      }
    }
    if (pos < len) {
      // A partial header at the end of the chunk.
      chunk.copy(this.hdr, 0, pos, len);
      this.hdrFill = len - pos;
    }
  }

  /** A message whose header is read and whose body starts at bodyPos; returns the new position. */
  private startMessage(chunk: Buffer, type: number, length: number, bodyPos: number): number {
    if (VALID_TYPE[type] !== 1 || length < 4) this.corrupt(type, length);
    const bodyLen = length - 4;
    const len = chunk.length;
    if (bodyPos + bodyLen <= len) {
      this.messages++;
      if (this.report[type] === 1)
        this.sink.onMessage(type, chunk, bodyPos, bodyPos + bodyLen, bodyPos + bodyLen);
      return bodyPos + bodyLen;
    }
    if (this.report[type] !== 1) {
      this.skip = bodyLen - (len - bodyPos);
      return len;
    }
    if (bodyLen > this.maxReported) {
      throw new ShardgateError('MESSAGE_TOO_LARGE', { size: bodyLen + 5, max: this.maxReported });
    }
    this.body = Buffer.allocUnsafe(bodyLen);
    this.bodyType = type;
    this.bodyFill = 0;
    return this.fillBody(chunk, bodyPos);
  }

  private fillBody(chunk: Buffer, from = 0): number {
    const body = this.body!;
    const take = Math.min(body.length - this.bodyFill, chunk.length - from);
    chunk.copy(body, this.bodyFill, from, from + take);
    this.bodyFill += take;
    const pos = from + take;
    if (this.bodyFill === body.length) {
      this.body = null;
      this.messages++;
      this.sink.onMessage(this.bodyType, body, 0, body.length, pos);
    }
    return pos;
  }

  private corrupt(type: number, length: number): never {
    throw new ShardgateError('PROTOCOL_VIOLATION', {
      detail: `server sent an invalid message header (type 0x${type.toString(16).padStart(2, '0')}, length ${length})`,
    });
  }
}
