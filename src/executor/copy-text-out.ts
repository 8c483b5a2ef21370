// Rows as COPY ... TO STDOUT writes them, text or CSV (src/backend/commands/copyto.c): the text
// format escapes backslash, control characters and the delimiter; CSV quotes a value holding the
// delimiter, the quote, a line end, or equal to the NULL string, doubling quote and escape inside.
import type { CopyTextFormat } from './copy-row-splitter.js';

export function copyLine(values: ReadonlyArray<string | null>, f: CopyTextFormat): string {
  const delimiter = String.fromCharCode(f.delimiter);
  const single = values.length === 1;
  return `${values.map((v) => (f.csv ? csvValue(v, f, single) : textValue(v, f))).join(delimiter)}\n`;
}

const TEXT_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

function textValue(v: string | null, f: CopyTextFormat): string {
  if (v === null) return f.nullText;
  const delimiter = String.fromCharCode(f.delimiter);
  let out = '';
  for (const c of v) out += TEXT_ESCAPES[c] ?? (c === delimiter ? `\\${c}` : c);
  return out;
}

/** `single`: the only column, where a bare `\.` would read back as end of data (PostgreSQL quotes it only then). */
function csvValue(v: string | null, f: CopyTextFormat, single: boolean): string {
  if (v === null) return f.nullText;
  const quote = String.fromCharCode(f.quote);
  const escapeChar = String.fromCharCode(f.escape);
  const delimiter = String.fromCharCode(f.delimiter);
  const needsQuote =
    v === f.nullText ||
    (single && v === '\\.') ||
    v.includes(delimiter) ||
    v.includes(quote) ||
    v.includes('\n') ||
    v.includes('\r');
  if (!needsQuote) return v;
  let out = quote;
  for (const c of v) out += c === quote || c === escapeChar ? `${escapeChar}${c}` : c;
  return out + quote;
}
