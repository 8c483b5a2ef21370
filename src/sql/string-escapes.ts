// Decoding of PostgreSQL's escaped string literal bodies (E'...' and U&'...'), used by the
// fingerprint tokenizer so routing sees the value the server will see. Never throws: a malformed
// escape keeps its characters as written (the server reports the real error).

const hexValue = (c: number): number => {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32;
  return l >= 97 && l <= 102 ? l - 87 : -1;
};

/** Reads up to `max` hex digits at i: [value, digits read]. */
function readHex(s: string, i: number, max: number): [number, number] {
  let v = 0;
  let k = 0;
  while (k < max && i + k < s.length) {
    const h = hexValue(s.charCodeAt(i + k));
    if (h < 0) break;
    v = v * 16 + h;
    k++;
  }
  return [v, k];
}

function codePoint(v: number): string {
  return v <= 0x10ffff && (v < 0xd800 || v > 0xdfff) ? String.fromCodePoint(v) : '\ufffd';
}

const SIMPLE_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Body of an E'...' string (quotes doubled as '' and backslash escapes). Octal and hex escapes
 * are bytes: consecutive ones are decoded together as UTF-8 (the usual server encoding).
 */
export function decodeEscapeString(raw: string): string {
  if (raw.indexOf('\\') < 0 && raw.indexOf("''") < 0) return raw;
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += Buffer.from(bytes).toString('utf8');
    bytes = [];
  };
  let i = 0;
  const n = raw.length;
  while (i < n) {
    const c = raw.charCodeAt(i);
    if (c === 39 && raw.charCodeAt(i + 1) === 39) {
      flush();
      out += "'";
      i += 2;
      continue;
    }
    if (c !== 92 || i + 1 >= n) {
      flush();
      out += raw[i];
      i++;
      continue;
    }
    const e = raw[i + 1]!;
    if (e >= '0' && e <= '7') {
      let v = 0;
      let k = 1;
      while (k <= 3 && i + k < n && raw[i + k]! >= '0' && raw[i + k]! <= '7') {
        v = v * 8 + (raw.charCodeAt(i + k) - 48);
        k++;
      }
      bytes.push(v & 0xff);
      i += k;
      continue;
    }
    if (e === 'x') {
      const [v, k] = readHex(raw, i + 2, 2);
      if (k > 0) {
        bytes.push(v);
        i += 2 + k;
        continue;
      }
    }
    flush();
    if (e === 'u' || e === 'U') {
      const digits = e === 'u' ? 4 : 8;
      const [v, k] = readHex(raw, i + 2, digits);
      if (k === digits) {
        // A UTF-16 surrogate pair written as two \u escapes.
        const pair = raw[i + 6] === '\\' && raw[i + 7] === 'u' ? surrogatePair(v, raw, i + 8) : null;
        if (pair !== null) {
          out += pair;
          i += 12;
          continue;
        }
        out += codePoint(v);
        i += 2 + digits;
        continue;
      }
    }
    out += SIMPLE_ESCAPES[e] ?? e;
    i += 2;
  }
  flush();
  return out;
}

/** High surrogate `hi`, then a low one in 4 hex digits at raw[at]: the pair's character, else null. */
function surrogatePair(hi: number, raw: string, at: number): string | null {
  if (hi < 0xd800 || hi > 0xdbff) return null;
  const [lo, k] = readHex(raw, at, 4);
  if (k !== 4 || lo < 0xdc00 || lo > 0xdfff) return null;
  return String.fromCodePoint(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00));
}

/** Body of a U&'...' string (quotes already undoubled): `\XXXX`, `\+XXXXXX`, and `\\`. */
export function decodeUnicodeString(raw: string, esc: string): string {
  if (raw.indexOf(esc) < 0) return raw;
  let out = '';
  let i = 0;
  const n = raw.length;
  while (i < n) {
    const ch = raw[i]!;
    if (ch !== esc) {
      out += ch;
      i++;
      continue;
    }
    if (raw[i + 1] === esc) {
      out += esc;
      i += 2;
      continue;
    }
    const plus = raw[i + 1] === '+';
    const digits = plus ? 6 : 4;
    const [v, k] = readHex(raw, i + (plus ? 2 : 1), digits);
    if (k !== digits) {
      out += ch;
      i++;
      continue;
    }
    i += (plus ? 2 : 1) + digits;
    const pair = raw[i] === esc ? surrogatePair(v, raw, i + 1) : null;
    if (pair !== null) {
      out += pair;
      i += 5;
      continue;
    }
    out += codePoint(v);
  }
  return out;
}
