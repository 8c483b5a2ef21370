// Values of MySQL literal tokens as the server reads them (with backslash escapes, which is the
// default sql_mode): routing sees the value the server will compare. Never throws.
import { isSpace, quoteEnd } from './mysql-lexer.js';

const ESCAPES: Record<string, string> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
  // \% and \_ keep their backslash (they are LIKE escapes).
  '%': '\\%',
  _: '\\_',
};

/** Body of one quoted segment (between the quotes): doubled quotes and backslash escapes. */
function unescapeBody(raw: string, quote: string): string {
  if (raw.indexOf('\\') < 0 && raw.indexOf(quote) < 0) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && i + 1 < raw.length) {
      const e = raw[++i]!;
      out += ESCAPES[e] ?? e;
    } else if (ch === quote && raw[i + 1] === quote) {
      out += quote;
      i++;
    } else out += ch;
  }
  return out;
}

/** Value of a STRING token: introducer (_utf8mb4, N) dropped, adjacent segments joined. */
export function stringValue(sql: string, start: number, end: number): string {
  let i = start;
  while (i < end && sql[i] !== "'" && sql[i] !== '"') i++;
  let out = '';
  while (i < end) {
    const close = quoteEnd(sql, i);
    out += unescapeBody(sql.slice(i + 1, Math.min(close, end)), sql[i]!);
    i = close + 1;
    while (i < end && isSpace(sql.charCodeAt(i))) i++;
  }
  return out;
}

/** Value of a BITS token: its digits as written (x'1F' / 0x1F -> 1F, b'01' / 0b01 -> 01). */
export function bitsValue(sql: string, start: number, end: number): string {
  if (sql[start] === '0') return sql.slice(start + 2, end);
  return sql.slice(start + 2, sql[end - 1] === "'" ? end - 1 : end);
}

/** Value of a NUMBER token: integers without leading zeros, other numbers as written. */
export function numberValue(sql: string, start: number, end: number): string {
  const raw = sql.slice(start, end);
  for (let k = 0; k < raw.length; k++) {
    const c = raw.charCodeAt(k);
    if (c < 48 || c > 57) return raw;
  }
  let k = 0;
  while (k < raw.length - 1 && raw.charCodeAt(k) === 48) k++;
  return k === 0 ? raw : raw.slice(k);
}

/** Name inside a backtick identifier (doubled backticks undone). */
export function identValue(text: string): string {
  if (text.charCodeAt(0) !== 96) return text;
  const body = text.endsWith('`') && text.length > 1 ? text.slice(1, -1) : text.slice(1);
  return body.indexOf('``') >= 0 ? body.replaceAll('``', '`') : body;
}
