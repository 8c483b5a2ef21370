// Follows a server connection's response stream against the queue of requests shardgate sent,
// so the session knows when the server is idle again (ReadyForQuery), and so it can drop the
// responses to requests it injected (a re-prepare, a deferred BEGIN, the LSN probe) and emit
// responses it answers itself (ParseComplete for a statement the server already holds).
//
// Fast path: a unit sent without injections is one FAST entry; its response chunks are forwarded
// untouched (through its ReadyForQuery, in one piece) and only message headers are walked.

export enum Expect {
  /** A whole unit forwarded as-is: pass everything through its ReadyForQuery. */
  Fast = 0,
  Parse = 1,
  Bind = 2,
  DescribeStatement = 3,
  DescribePortal = 4,
  Execute = 5,
  Close = 6,
  Sync = 7,
  /** A simple Query: everything through ReadyForQuery. */
  Query = 8,
  /** Bytes shardgate emits itself when this entry reaches the head of the queue. */
  Synthetic = 9,
}

export interface Entry {
  expect: Expect;
  /** Drop this request's response messages instead of forwarding them. */
  swallow: boolean;
  /** With swallow: still forward an ErrorResponse (the client must learn its unit failed). */
  forwardErrors?: boolean;
  /** For Synthetic entries: the bytes to emit. */
  bytes?: Buffer;
  /** Collects the first DataRow's first column (used by the LSN probe). */
  capture?: (value: string | null) => void;
  /** A statement's RowDescription or NoData (Describe of a statement), as it passes. */
  onDescribed?: (type: number, buf: Buffer, bodyStart: number, end: number) => void;
  /** Report this transaction status to the client instead of the server's (a deferred BEGIN). */
  readyStatus?: number;
  /** Called when this entry's ReadyForQuery arrives (Fast, Sync, Query). */
  onReady?: (status: number) => void;
  /**
   * The request did not take effect: its own ErrorResponse (the whole message, header included),
   * or null when the server skipped it to the Sync after an earlier error. A failed Parse leaves
   * no statement behind, so whoever recorded one must forget it.
   */
  onFailed?: (error: Buffer | null) => void;
}

export interface TrackerSink {
  /** Bytes for the client. */
  forward(bytes: Buffer): void;
  /** A message the session wants to see: CommandComplete tag, ParameterStatus, errors. */
  onMessage?(type: number, buf: Buffer, bodyStart: number, end: number): void;
  /** Every request sent so far has been answered. */
  onIdle?(): void;
  /**
   * Replacement for an ErrorResponse the client is about to see (a cutover turns it into 40001;
   * an empty buffer drops it: a server's FATAL the client's session outlives).
   */
  rewriteError?(buf: Buffer, start: number, end: number): Buffer | null;
}

const MSG_PARSE_COMPLETE = 0x31; // '1'
const MSG_BIND_COMPLETE = 0x32; // '2'
const MSG_CLOSE_COMPLETE = 0x33; // '3'
const MSG_COMMAND_COMPLETE = 0x43; // 'C'
const MSG_DATA_ROW = 0x44; // 'D'
const MSG_ERROR = 0x45; // 'E'
const MSG_EMPTY_QUERY = 0x49; // 'I'
const MSG_NOTICE = 0x4e; // 'N'
const MSG_NOTIFICATION = 0x41; // 'A'
const MSG_PARAMETER_STATUS = 0x53; // 'S'
const MSG_ROW_DESCRIPTION = 0x54; // 'T'
const MSG_READY = 0x5a; // 'Z'
const MSG_NO_DATA = 0x6e; // 'n'
const MSG_PORTAL_SUSPENDED = 0x73; // 's'
const MSG_PARAM_DESCRIPTION = 0x74; // 't'
const MSG_COPY_IN = 0x47; // 'G'
const MSG_COPY_OUT = 0x48; // 'H'
const MSG_COPY_BOTH = 0x57; // 'W'

/** Message types the session always wants to hear about (cheap check in the fast loop). */
function isInteresting(type: number): boolean {
  return (
    type === MSG_READY ||
    type === MSG_ERROR ||
    type === MSG_COMMAND_COMPLETE ||
    type === MSG_PARAMETER_STATUS ||
    type === MSG_COPY_IN ||
    type === MSG_COPY_OUT ||
    type === MSG_COPY_BOTH
  );
}

export class ResponseTracker {
  private queue: Entry[] = [];
  private head = 0;
  /** Partial message carried over from the previous chunk. */
  private pending: Buffer | null = null;
  /** After an ErrorResponse in the extended protocol, the server skips to Sync. */
  private skippingToSync = false;
  /** Last ReadyForQuery status byte (I, T or E). */
  status = 0x49;
  copyIn = false;
  /** The client was sent the server's own FATAL (it is about to close: 57P01 and the like). */
  fatalForwarded = false;

  constructor(private readonly sink: TrackerSink) {}

  get idle(): boolean {
    return this.head >= this.queue.length;
  }

  get outstanding(): number {
    return this.queue.length - this.head;
  }

  push(entry: Entry): void {
    if (this.head > 64 && this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    this.queue.push(entry);
  }

  /** Emit synthetic entries at the head (called after pushing, when the queue was idle). */
  flushSynthetic(): void {
    this.drainSynthetic();
    if (this.idle) this.sink.onIdle?.();
  }

  reset(): void {
    this.queue = [];
    this.head = 0;
    this.pending = null;
    this.skippingToSync = false;
    this.copyIn = false;
  }

  /** Processes one chunk from the server. */
  onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const len = buf.length;
    let pos = 0;
    // Fast path: the head is a Fast/Query entry that swallows nothing: forward contiguous runs.
    let runStart = 0;
    while (pos + 5 <= len) {
      const type = buf[pos]!;
      const msgLen = buf.readUInt32BE(pos + 1);
      const end = pos + 1 + msgLen;
      if (end > len) break;
      const entry = this.queue[this.head];
      const passThrough =
        entry !== undefined &&
        !entry.swallow &&
        (entry.expect === Expect.Fast || entry.expect === Expect.Query);
      if (passThrough && !isInteresting(type)) {
        pos = end;
        continue;
      }
      // The two interesting messages every unit ends with stay in the run, so a whole response
      // usually reaches the client as one buffer (one write, no per-message slices).
      if (passThrough && type === MSG_COMMAND_COMPLETE) {
        this.sink.onMessage?.(type, buf, pos + 5, end);
        pos = end;
        continue;
      }
      if (passThrough && type === MSG_READY && entry.readyStatus === undefined) {
        this.sink.forward(buf.subarray(runStart, end));
        const status = buf[pos + 5]!;
        pos = end;
        runStart = pos;
        this.copyIn = false;
        this.complete(entry, status);
        continue;
      }
      // Slow path for this message: flush the run so far, then handle it alone.
      if (pos > runStart) this.sink.forward(buf.subarray(runStart, pos));
      this.handle(type, buf, pos, end);
      pos = end;
      runStart = pos;
    }
    if (pos > runStart) this.sink.forward(buf.subarray(runStart, pos));
    if (pos < len) this.pending = Buffer.from(buf.subarray(pos));
    if (this.head >= this.queue.length) this.sink.onIdle?.();
  }

  private handle(type: number, buf: Buffer, start: number, end: number): void {
    const sink = this.sink;
    if (type === MSG_NOTICE || type === MSG_NOTIFICATION || type === MSG_PARAMETER_STATUS) {
      // Asynchronous messages belong to no request.
      if (type === MSG_PARAMETER_STATUS) sink.onMessage?.(type, buf, start + 5, end);
      sink.forward(buf.subarray(start, end));
      return;
    }
    let entry = this.queue[this.head];
    if (type === MSG_READY && entry && isPerMessage(entry.expect)) {
      // The server skipped this unit's messages up to its Sync: an earlier Flush-terminated unit
      // failed and left it skipping. This ReadyForQuery answers the Sync.
      while (this.head < this.queue.length && isPerMessage(this.queue[this.head]!.expect)) {
        this.queue[this.head]!.onFailed?.(null);
        this.head++;
      }
      entry = this.queue[this.head];
    }
    if (!entry) {
      // Nothing expected: the server speaks unasked only to say it is going away (FATAL). A client
      // that outlives its server gets it rewritten (or dropped) by the sink.
      const replacement = type === MSG_ERROR ? (sink.rewriteError?.(buf, start, end) ?? null) : null;
      if (replacement === null) {
        if (type === MSG_ERROR && isFatal(buf, start + 5, end)) this.fatalForwarded = true;
        sink.forward(buf.subarray(start, end));
      } else if (replacement.length > 0) sink.forward(replacement);
      return;
    }
    const forward = !entry.swallow || (type === MSG_ERROR && entry.forwardErrors === true);
    if (forward && type === MSG_ERROR && isFatal(buf, start + 5, end)) this.fatalForwarded = true;
    // Only what the client sees counts as the unit's outcome (a failed probe is not its error).
    if (forward && (type === MSG_COMMAND_COMPLETE || type === MSG_ERROR))
      sink.onMessage?.(type, buf, start + 5, end);
    if (type === MSG_COPY_IN || type === MSG_COPY_BOTH) this.copyIn = true;
    if (type === MSG_DATA_ROW && entry.capture) entry.capture(readFirstColumn(buf, start + 5, end));
    if ((type === MSG_ROW_DESCRIPTION || type === MSG_NO_DATA) && entry.onDescribed)
      entry.onDescribed(type, buf, start + 5, end);
    if (forward) {
      const replacement = type === MSG_ERROR ? (sink.rewriteError?.(buf, start, end) ?? null) : null;
      if (replacement) {
        if (replacement.length > 0) sink.forward(replacement);
      } else if (type === MSG_READY && entry.readyStatus !== undefined) {
        const copy = Buffer.from(buf.subarray(start, end));
        copy[5] = entry.readyStatus;
        sink.forward(copy);
      } else {
        sink.forward(buf.subarray(start, end));
      }
    }

    switch (entry.expect) {
      case Expect.Fast:
      case Expect.Query:
        if (type === MSG_READY) {
          this.copyIn = false;
          this.complete(entry, buf[start + 5]!);
        }
        return;
      case Expect.Sync:
        if (type === MSG_READY) {
          this.skippingToSync = false;
          this.copyIn = false;
          this.complete(entry, buf[start + 5]!);
        }
        return;
      default:
        break;
    }
    if (type === MSG_ERROR) {
      // The server discards everything up to Sync; so do we (synthetic replies included).
      this.skippingToSync = true;
      entry.onFailed?.(buf.subarray(start, end));
      this.head++;
      while (this.head < this.queue.length && this.queue[this.head]!.expect !== Expect.Sync) {
        this.queue[this.head]!.onFailed?.(null);
        this.head++;
      }
      return;
    }
    switch (entry.expect) {
      case Expect.Parse:
      case Expect.Bind:
      case Expect.Close:
        if (type === MSG_PARSE_COMPLETE || type === MSG_BIND_COMPLETE || type === MSG_CLOSE_COMPLETE)
          this.pop();
        return;
      case Expect.DescribeStatement:
      case Expect.DescribePortal:
        if (type === MSG_ROW_DESCRIPTION || type === MSG_NO_DATA) this.pop();
        // ParameterDescription ('t') precedes the row description for statements.
        return;
      case Expect.Execute:
        if (type === MSG_COMMAND_COMPLETE || type === MSG_EMPTY_QUERY || type === MSG_PORTAL_SUSPENDED) {
          this.copyIn = false;
          this.pop();
        }
        return;
      default:
        return;
    }
  }

  private complete(entry: Entry, status: number): void {
    this.status = status;
    this.head++;
    entry.onReady?.(status);
    this.drainSynthetic();
  }

  private pop(): void {
    this.head++;
    this.drainSynthetic();
  }

  private drainSynthetic(): void {
    while (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      if (next.expect !== Expect.Synthetic) break;
      this.head++;
      if (this.skippingToSync) next.onFailed?.(null);
      else if (next.bytes) this.sink.forward(next.bytes);
    }
  }
}

/** An ErrorResponse whose severity is FATAL or PANIC (the server closes the connection next). */
function isFatal(buf: Buffer, pos: number, end: number): boolean {
  while (pos < end && buf[pos] !== 0) {
    const field = buf[pos]!;
    const nul = buf.indexOf(0, pos + 1);
    if (nul < 0 || nul >= end) return false;
    if (field === 0x56 || field === 0x53) {
      const severity = buf.toString('latin1', pos + 1, nul);
      return severity === 'FATAL' || severity === 'PANIC';
    }
    pos = nul + 1;
  }
  return false;
}

/** Entries for one extended-protocol message before its Sync (Parse ... Close, or a synthetic reply). */
function isPerMessage(expect: Expect): boolean {
  return expect !== Expect.Fast && expect !== Expect.Query && expect !== Expect.Sync;
}

/** Reads column 0 of a DataRow as text (the LSN probe returns one text column). */
function readFirstColumn(buf: Buffer, bodyStart: number, end: number): string | null {
  if (bodyStart + 6 > end) return null;
  const count = buf.readInt16BE(bodyStart);
  if (count < 1) return null;
  const len = buf.readInt32BE(bodyStart + 2);
  if (len < 0 || bodyStart + 6 + len > end) return null;
  return buf.toString('utf8', bodyStart + 6, bodyStart + 6 + len);
}

export const MessageTypes = {
  ParseComplete: MSG_PARSE_COMPLETE,
  BindComplete: MSG_BIND_COMPLETE,
  CloseComplete: MSG_CLOSE_COMPLETE,
  CommandComplete: MSG_COMMAND_COMPLETE,
  DataRow: MSG_DATA_ROW,
  Error: MSG_ERROR,
  Ready: MSG_READY,
  RowDescription: MSG_ROW_DESCRIPTION,
  NoData: MSG_NO_DATA,
  ParamDescription: MSG_PARAM_DESCRIPTION,
} as const;
