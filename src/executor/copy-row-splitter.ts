// Splits a COPY FROM STDIN byte stream (text or CSV format, as PostgreSQL reads them) into rows
// and reads one field of each, the shard key, so each row can go to its shard unchanged. Pure and
// incremental: bytes arrive in arbitrary pieces (CopyData messages do not align with rows); only
// the row in progress is kept, bounded by `maxRowBytes`.
//
// What PostgreSQL does and this follows (src/backend/commands/copyfromparse.c):
// - text: fields split on the delimiter; a backslash escapes the next byte (a backslash-newline
//   is data, not a row end); the NULL string is compared with the field before de-escaping.
// - CSV: the quote character quotes (delimiters and newlines inside are data); inside quotes the
//   escape character (default: the quote) before a quote or itself is a literal; NULL is an
//   unquoted field equal to the NULL string (FORCE_NULL: quoted too).
// - a line holding only `\.` ends the data; rows end at \n or \r\n. A bare \r row end is refused:
//   reading it as data would put several rows on the first row's shard.

export interface CopyTextFormat {
  csv: boolean;
  /** One byte each (PostgreSQL requires single one-byte characters). */
  delimiter: number;
  quote: number;
  escape: number;
  nullText: string;
  /** PostgreSQL 16's DEFAULT marker, or null. */
  defaultText: string | null;
  header: boolean;
  /** CSV FORCE_NULL covers the key column: a quoted value equal to the NULL string is NULL too. */
  forceNullKey: boolean;
}

/** The shard key of one row: its text, or why there is none. */
export type KeyField = { value: string } | { missing: 'null' | 'absent' | 'default' };

export interface RowSink {
  header(row: Buffer): void;
  row(row: Buffer, key: KeyField, line: number): void;
}

export class CopyInputError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
  ) {
    super(`${detail} (line ${line})`);
  }
}

const NL = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

export class CopyRowSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private line = 0;
  private ended = false;
  // Row state.
  private field = 0;
  private escaped = false;
  private inQuote = false;
  /** CSV: the byte before was a closing quote (a quote now is a doubled, literal quote). */
  private closedQuote = false;
  /** CSV with an escape other than the quote: an escape byte waits for the next byte. */
  private pendingEscape = false;
  private prevCR = false;
  private keyRaw: number[] = [];
  private keyValue: number[] = [];
  private keyQuoted = false;

  constructor(
    private readonly format: CopyTextFormat,
    private readonly keyIndex: number,
    private readonly maxRowBytes: number,
  ) {}

  /** Whether the `\.` end marker was seen (the rest of the input is ignored, as PostgreSQL does). */
  get done(): boolean {
    return this.ended;
  }

  push(chunk: Buffer, sink: RowSink): void {
    const f = this.format;
    let start = 0;
    for (let i = 0; i < chunk.length && !this.ended; i++) {
      const b = chunk[i]!;
      if (this.prevCR && b !== NL)
        throw new CopyInputError('a carriage return ends a row (use \\n or \\r\\n line ends)', this.line + 1);
      this.prevCR = false;
      const inKey = this.field === this.keyIndex;
      if (f.csv) {
        if (this.pendingEscape) {
          this.pendingEscape = false;
          if (b === f.quote || b === f.escape) {
            if (inKey) this.keyByte(b, b);
            continue;
          }
          if (inKey) this.keyValue.push(f.escape);
        }
        if (this.inQuote) {
          if (b === f.escape && f.escape !== f.quote) {
            this.pendingEscape = true;
            if (inKey) this.keyRaw.push(b);
            continue;
          }
          if (b === f.quote) {
            this.inQuote = false;
            this.closedQuote = true;
            if (inKey) this.keyRaw.push(b);
            continue;
          }
          if (inKey) this.keyByte(b, b);
          continue;
        }
        if (b === f.quote) {
          // A quote right after a closing one is a doubled quote: a literal, still quoted.
          if (this.closedQuote && inKey) this.keyValue.push(b);
          this.closedQuote = false;
          this.inQuote = true;
          if (inKey) {
            this.keyQuoted = true;
            this.keyRaw.push(b);
          }
          continue;
        }
        this.closedQuote = false;
      } else if (this.escaped) {
        this.escaped = false;
        if (inKey) this.keyRaw.push(b);
        continue;
      } else if (b === BACKSLASH) {
        this.escaped = true;
        if (inKey) this.keyRaw.push(b);
        continue;
      }
      if (b === NL) {
        this.take(chunk, start, i + 1);
        start = i + 1;
        this.endRow(sink);
        continue;
      }
      if (b === CR) {
        this.prevCR = true;
        continue;
      }
      if (b === f.delimiter) {
        this.field++;
        continue;
      }
      if (inKey) this.keyByte(b, b);
    }
    if (!this.ended) this.take(chunk, start, chunk.length, true);
  }

  /** The input is over: a last row without a line end is still a row. */
  end(sink: RowSink): void {
    if (this.ended) return;
    if (this.inQuote) throw new CopyInputError('unterminated CSV quoted field', this.line + 1);
    if (this.prevCR) this.prevCR = false;
    if (this.partBytes > 0) this.endRow(sink);
  }

  private keyByte(raw: number, value: number): void {
    this.keyRaw.push(raw);
    this.keyValue.push(value);
  }

  private take(chunk: Buffer, from: number, to: number, keep = false): void {
    if (to <= from) return;
    // Bytes kept past this call are copied: the caller may reuse its buffer.
    this.parts.push(keep ? Buffer.from(chunk.subarray(from, to)) : chunk.subarray(from, to));
    this.partBytes += to - from;
    if (this.partBytes > this.maxRowBytes)
      throw new CopyInputError(`a row longer than ${this.maxRowBytes} bytes`, this.line + 1);
  }

  private endRow(sink: RowSink): void {
    const row = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    this.line++;
    const key = this.keyField();
    this.field = 0;
    this.escaped = false;
    this.inQuote = false;
    this.closedQuote = false;
    this.pendingEscape = false;
    this.keyRaw = [];
    this.keyValue = [];
    this.keyQuoted = false;
    if (isEndMarker(row)) {
      this.ended = true;
      return;
    }
    if (this.line === 1 && this.format.header) sink.header(row);
    else sink.row(row, key, this.line);
  }

  private keyField(): KeyField {
    const f = this.format;
    if (this.field < this.keyIndex) return { missing: 'absent' };
    const raw = Buffer.from(this.keyRaw).toString('utf8');
    if (f.csv) {
      if (this.inQuote) throw new CopyInputError('unterminated CSV quoted field', this.line);
      const value = Buffer.from(this.keyValue).toString('utf8');
      const isNull = this.keyQuoted ? f.forceNullKey && value === f.nullText : raw === f.nullText;
      if (isNull) return { missing: 'null' };
      if (f.defaultText !== null && !this.keyQuoted && raw === f.defaultText) return { missing: 'default' };
      return { value };
    }
    if (raw === f.nullText) return { missing: 'null' };
    if (f.defaultText !== null && raw === f.defaultText) return { missing: 'default' };
    return { value: unescapeText(this.keyRaw) };
  }
}

/** `\.` alone on a line (with its line end). */
function isEndMarker(row: Buffer): boolean {
  let n = row.length;
  if (n > 0 && row[n - 1] === NL) n--;
  if (n > 0 && row[n - 1] === CR) n--;
  return n === 2 && row[0] === BACKSLASH && row[1] === 0x2e;
}

const SIMPLE_ESCAPES: Record<number, number> = {
  98: 0x08, // \b
  102: 0x0c, // \f
  110: 0x0a, // \n
  114: 0x0d, // \r
  116: 0x09, // \t
  118: 0x0b, // \v
};

/** A text-format field's value: backslash escapes resolved as COPY resolves them. */
export function unescapeText(raw: readonly number[]): string {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b !== BACKSLASH || i + 1 >= raw.length) {
      out.push(b);
      continue;
    }
    const c = raw[++i]!;
    if (c >= 0x30 && c <= 0x37) {
      let v = c - 0x30;
      for (let k = 0; k < 2 && i + 1 < raw.length && raw[i + 1]! >= 0x30 && raw[i + 1]! <= 0x37; k++)
        v = v * 8 + (raw[++i]! - 0x30);
      out.push(v & 0xff);
    } else if (c === 0x78 && i + 1 < raw.length && isHex(raw[i + 1]!)) {
      let v = hexValue(raw[++i]!);
      if (i + 1 < raw.length && isHex(raw[i + 1]!)) v = v * 16 + hexValue(raw[++i]!);
      out.push(v);
    } else {
      out.push(SIMPLE_ESCAPES[c] ?? c);
    }
  }
  return Buffer.from(out).toString('utf8');
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function hexValue(b: number): number {
  return b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10;
}
