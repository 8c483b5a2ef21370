// The fingerprint tokenizer: one pass over the text that replaces literals with `?` (keeping
// their decoded values and offsets), drops comments (collecting `shardgate:` hint comments),
// normalizes whitespace and keyword case, and splits statements at top-level `;`. Equal shapes
// get equal fingerprints, so a shape is parsed once and its facts cached. It never throws:
// unterminated input ends the token at the end of the text; only a text past `maxTokens` throws.
//
// Integers stay verbatim where the facts depend on their value: ORDER BY / GROUP BY
// positions (`ORDER BY 2`), so `ORDER BY 1` and `ORDER BY 2` are different shapes.
import { ShardgateError } from '../errors.js';
import { charClasses } from './char-classes.js';
import { POSITION_LIST_ENDERS, PositionList } from './position-list.js';
import { quotedBodyEnd } from './quoted-body.js';
import { decodeEscapeString, decodeUnicodeString } from './string-escapes.js';

export interface Literal {
  /** Decoded value (quotes and escapes resolved); integers in decimal, other numbers as written. */
  value: string;
  /** Offset of the literal's first character in the original text (prefix, quote or digit). */
  offset: number;
  /** Offset just past the literal's last character (closing quote, tag or digit). */
  end: number;
  kind: 'string' | 'number' | 'bits';
}

/** A statement of a multi-statement text: [start, end) without the `;`, comments at the edges skipped. */
export interface StatementRange {
  start: number;
  end: number;
}

export interface Fingerprint {
  text: string;
  literals: Literal[];
  /** Bodies of `shardgate:` hint comments, in order (text after the comment markers, trimmed). */
  hintComments: string[];
  /** Highest `$n` seen. */
  maxParam: number;
  /** One range per non-empty statement, in order (parenthesis depth and BEGIN ATOMIC aware). */
  statements: StatementRange[];
  /**
   * A plain '...' string holds a backslash: with standard_conforming_strings off the server reads
   * it (and maybe the rest of the text) differently from this tokenizer and the parser.
   */
  plainBackslash?: boolean;
}

// --- token pieces: char codes only, no regular expressions (hot path) --------------------------

const QUOTE = 39;
const DQUOTE = 34;
const DOLLAR = 36;
const DASH = 45;
const SLASH = 47;
const STAR = 42;
const DOT = 46;
const UNDERSCORE = 95;

// Character classes in one table lookup: 1 space, 2 digit, 4 identifier start, 8 operator char,
// 16 "strong" operator char (allows a trailing + or - in a multi-char operator).
const CLASS = charClasses('_', '+-*/<>=');
for (const c of '~!@#%^&|`?') CLASS[c.charCodeAt(0)] = 8 | 16;

// charCodeAt past the end is NaN: every predicate is false for it.
export const isSpace = (c: number) => c < 128 && (CLASS[c]! & 1) !== 0;
export const isDigit = (c: number) => c >= 48 && c <= 57;
export const isIdentStart = (c: number) => (c < 128 ? (CLASS[c]! & 4) !== 0 : c >= 128);
export const isIdentChar = (c: number) => (c < 128 ? (CLASS[c]! & 6) !== 0 || c === DOLLAR : c >= 128);
export const isOpChar = (c: number) => c < 128 && (CLASS[c]! & 8) !== 0;
const isHexDigit = (c: number) => isDigit(c) || ((c | 32) >= 97 && (c | 32) <= 102);

/** End (exclusive) of a nested block comment starting at i; -1 if unterminated. */
export function blockCommentEnd(sql: string, i: number): number {
  const n = sql.length;
  let depth = 1;
  let j = i + 2;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === SLASH && sql.charCodeAt(j + 1) === STAR) {
      depth++;
      j += 2;
    } else if (c === STAR && sql.charCodeAt(j + 1) === SLASH) {
      j += 2;
      if (--depth === 0) return j;
    } else j++;
  }
  return -1;
}

/**
 * PostgreSQL joins 'a'<newline>'b' into one literal: returns the next segment's opening quote
 * when only whitespace with a newline (or -- comments) separates it from `after`, else -1.
 */
function continuation(sql: string, after: number): number {
  const n = sql.length;
  let j = after;
  let newline = false;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === 10 || c === 13) {
      newline = true;
      j++;
    } else if (isSpace(c)) j++;
    else if (c === DASH && sql.charCodeAt(j + 1) === DASH) {
      const nl = sql.indexOf('\n', j);
      if (nl < 0) return -1;
      j = nl;
    } else break;
  }
  return newline && sql.charCodeAt(j) === QUOTE ? j : -1;
}

interface QuotedRead {
  raw: string;
  end: number;
}

/** Reads one quoted literal with its continuations: the raw bodies joined, and the end offset. */
function readQuotedSegments(sql: string, open: number, backslash: boolean): QuotedRead {
  let raw = '';
  let q = open;
  for (;;) {
    const close = quotedBodyEnd(sql, q, backslash);
    raw += sql.slice(q + 1, close);
    if (close >= sql.length) return { raw, end: sql.length };
    const next = continuation(sql, close + 1);
    if (next < 0) return { raw, end: close + 1 };
    q = next;
  }
}

const unescapeStandard = (raw: string) => (raw.indexOf("''") >= 0 ? raw.replaceAll("''", "'") : raw);

/** `UESCAPE 'c'` after a U& string: [escape char, end offset] or null. */
function readUescape(sql: string, from: number): [string, number] | null {
  let j = from;
  while (j < sql.length && isSpace(sql.charCodeAt(j))) j++;
  if (sql.slice(j, j + 7).toLowerCase() !== 'uescape') return null;
  j += 7;
  while (j < sql.length && isSpace(sql.charCodeAt(j))) j++;
  if (sql.charCodeAt(j) !== QUOTE || sql.charCodeAt(j + 2) !== QUOTE) return null;
  return [sql[j + 1]!, j + 3];
}

/** Normalizes an integer literal as PostgreSQL reads it: underscores out, 0x/0o/0b to decimal. */
function integerValue(raw: string): string {
  const s = raw.indexOf('_') >= 0 ? raw.replaceAll('_', '') : raw;
  if (s.length > 1 && s.charCodeAt(0) === 48) {
    const p = s.charCodeAt(1) | 32;
    if (p === 120 || p === 111 || p === 98) {
      try {
        return BigInt(s).toString();
      } catch {
        return s;
      }
    }
    let k = 0;
    while (k < s.length - 1 && s.charCodeAt(k) === 48) k++;
    return s.slice(k);
  }
  return s;
}

/** End of a numeric token starting at i, and whether it is an integer. */
function numberEnd(sql: string, i: number): [number, boolean] {
  const n = sql.length;
  const c = sql.charCodeAt(i);
  let j = i;
  if (c === 48) {
    const p = sql.charCodeAt(i + 1) | 32;
    const radix = p === 120 ? 16 : p === 111 ? 8 : p === 98 ? 2 : 0;
    if (radix) {
      j = i + 2;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (d === UNDERSCORE || (radix === 16 ? isHexDigit(d) : d >= 48 && d < 48 + radix)) j++;
        else break;
      }
      if (j > i + 2) return [j, true];
      j = i;
    }
  }
  let integer = true;
  while (j < n && (isDigit(sql.charCodeAt(j)) || sql.charCodeAt(j) === UNDERSCORE)) j++;
  // "1..5" is an integer followed by "..", not 1. and .5
  if (sql.charCodeAt(j) === DOT && sql.charCodeAt(j + 1) !== DOT) {
    integer = false;
    j++;
    while (j < n && (isDigit(sql.charCodeAt(j)) || sql.charCodeAt(j) === UNDERSCORE)) j++;
  }
  if ((sql.charCodeAt(j) | 32) === 101) {
    let k = j + 1;
    const sign = sql.charCodeAt(k);
    if (sign === 43 || sign === DASH) k++;
    if (isDigit(sql.charCodeAt(k))) {
      integer = false;
      j = k;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
    }
  }
  return [j, integer];
}

/** Words after which ORDER BY / GROUP BY position lists end. */
const LIST_ENDERS = new Set<string>([...POSITION_LIST_ENDERS, 'fetch']);

/** `maxTokens`: past it the text is refused (STATEMENT_TOO_COMPLEX) before more work is spent on it. */
export function fingerprint(sql: string, maxTokens = Number.POSITIVE_INFINITY): Fingerprint {
  const n = sql.length;
  let tokens = 0;
  const literals: Literal[] = [];
  const hintComments: string[] = [];
  const statements: StatementRange[] = [];
  let out = '';
  let maxParam = 0;
  let plainBackslash = false;
  // Token separation in the output: one space between tokens except around . ( [ :: and before , ) ] ;
  let glue = true;
  // Statement tracking.
  let stmtStart = -1;
  let stmtEnd = -1;
  let depth = 0;
  let firstWord = '';
  let prevWord = '';
  let atomicDepth = 0;
  const positions = new PositionList(LIST_ENDERS);

  const emit = (tok: string, start: number, end: number, tight: boolean) => {
    if (++tokens > maxTokens) throw new ShardgateError('STATEMENT_TOO_COMPLEX', { max: maxTokens });
    if (stmtStart < 0) {
      // `;` between statements only: a trailing one does not change the shape.
      if (statements.length > 0) out += ';';
      stmtStart = start;
    }
    if (!glue && !tight) out += ' ';
    out += tok;
    glue = false;
    stmtEnd = end;
  };
  const pushLiteral = (value: string, start: number, end: number, kind: Literal['kind']) => {
    literals.push({ value, offset: start, end, kind });
    emit('?', start, end, false);
    positions.other();
  };
  const endStatement = () => {
    if (stmtStart >= 0) statements.push({ start: stmtStart, end: stmtEnd });
    stmtStart = -1;
    depth = 0;
    firstWord = '';
    prevWord = '';
    atomicDepth = 0;
    positions.reset();
  };

  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    // -- line comment
    if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      let end = sql.indexOf('\n', i);
      if (end < 0) end = n;
      collectHint(sql, i + 2, end, hintComments);
      i = end;
      continue;
    }
    // /* nested block comment */
    if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const end = blockCommentEnd(sql, i);
      collectHint(sql, i + 2, end < 0 ? n : end - 2, hintComments);
      i = end < 0 ? n : end;
      continue;
    }
    if (c === QUOTE) {
      const r = readQuotedSegments(sql, i, false);
      if (r.raw.indexOf('\\') >= 0) plainBackslash = true;
      pushLiteral(unescapeStandard(r.raw), i, r.end, 'string');
      i = r.end;
      continue;
    }
    const next = sql.charCodeAt(i + 1);
    if (next === QUOTE) {
      const lc = c | 32;
      if (lc === 101) {
        // E'...' with backslash escapes
        const r = readQuotedSegments(sql, i + 1, true);
        pushLiteral(decodeEscapeString(r.raw), i, r.end, 'string');
        i = r.end;
        continue;
      }
      if (lc === 98 || lc === 120) {
        // B'0101' / X'1F': the digits as written
        const r = readQuotedSegments(sql, i + 1, false);
        pushLiteral(r.raw, i, r.end, 'bits');
        i = r.end;
        continue;
      }
      if (lc === 110) {
        // N'...' national character string
        const r = readQuotedSegments(sql, i + 1, false);
        if (r.raw.indexOf('\\') >= 0) plainBackslash = true;
        pushLiteral(unescapeStandard(r.raw), i, r.end, 'string');
        i = r.end;
        continue;
      }
    }
    if ((c | 32) === 117 && next === 38 && sql.charCodeAt(i + 2) === QUOTE) {
      // U&'...' [UESCAPE 'c']
      const r = readQuotedSegments(sql, i + 2, false);
      if (r.raw.indexOf('\\') >= 0) plainBackslash = true;
      const esc = readUescape(sql, r.end);
      const end = esc ? esc[1] : r.end;
      pushLiteral(decodeUnicodeString(unescapeStandard(r.raw), esc ? esc[0] : '\\'), i, end, 'string');
      i = end;
      continue;
    }
    if (c === DQUOTE || ((c | 32) === 117 && next === 38 && sql.charCodeAt(i + 2) === DQUOTE)) {
      // quoted identifier, kept verbatim (case matters)
      const open = c === DQUOTE ? i : i + 2;
      let j = open + 1;
      while (j < n) {
        if (sql.charCodeAt(j) === DQUOTE) {
          if (sql.charCodeAt(j + 1) === DQUOTE) {
            j += 2;
            continue;
          }
          j++;
          break;
        }
        j++;
      }
      if (j > n) j = n;
      emit(sql.slice(i, j), i, j, false);
      prevWord = '';
      positions.other();
      i = j;
      continue;
    }
    if (c === DOLLAR) {
      if (isDigit(next)) {
        // $n parameter
        let j = i + 1;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        const num = j - i > 10 ? Number.MAX_SAFE_INTEGER : Number(sql.slice(i + 1, j));
        if (num > maxParam) maxParam = num;
        emit(sql.slice(i, j), i, j, false);
        positions.other();
        i = j;
        continue;
      }
      // $tag$ ... $tag$ dollar quote (a tag starts like an identifier, without $)
      let j = i + 1;
      if (next !== DOLLAR && isIdentStart(next)) {
        j++;
        while (j < n && isIdentChar(sql.charCodeAt(j)) && sql.charCodeAt(j) !== DOLLAR) j++;
      }
      if (sql.charCodeAt(j) === DOLLAR) {
        const tag = sql.slice(i, j + 1);
        const close = sql.indexOf(tag, j + 1);
        const bodyEnd = close < 0 ? n : close;
        const end = close < 0 ? n : close + tag.length;
        pushLiteral(sql.slice(j + 1, bodyEnd), i, end, 'string');
        i = end;
        continue;
      }
      emit('$', i, i + 1, false);
      i++;
      continue;
    }
    if (isDigit(c) || (c === DOT && isDigit(next))) {
      const [end, integer] = numberEnd(sql, i);
      if (integer && positions.isPosition(depth)) {
        // ORDER BY / GROUP BY position: part of the shape
        emit(integerValue(sql.slice(i, end)), i, end, false);
        positions.other();
      } else {
        pushLiteral(integer ? integerValue(sql.slice(i, end)) : sql.slice(i, end), i, end, 'number');
      }
      i = end;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j).toLowerCase();
      emit(word, i, j, false);
      if (firstWord === '') firstWord = word;
      positions.word(word, prevWord, depth);
      // SQL-standard function bodies: BEGIN ATOMIC ... END holds `;` inside one statement.
      if (firstWord === 'create') {
        if (word === 'atomic' && prevWord === 'begin') atomicDepth++;
        else if (atomicDepth > 0 && word === 'case') atomicDepth++;
        else if (atomicDepth > 0 && word === 'end') atomicDepth--;
      }
      prevWord = word;
      i = j;
      continue;
    }
    if (isOpChar(c)) {
      let j = i + 1;
      let strong = (CLASS[c]! & 16) !== 0;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (!isOpChar(d)) break;
        const e = sql.charCodeAt(j + 1);
        if ((d === DASH && e === DASH) || (d === SLASH && e === STAR)) break;
        if ((CLASS[d]! & 16) !== 0) strong = true;
        j++;
      }
      // A multi-char operator cannot end in + or - unless it holds one of ~!@#%^&|`?
      if (!strong) {
        while (j > i + 1 && (sql.charCodeAt(j - 1) === 43 || sql.charCodeAt(j - 1) === DASH)) j--;
      }
      emit(sql.slice(i, j), i, j, false);
      prevWord = '';
      positions.other();
      i = j;
      continue;
    }
    // punctuation
    switch (c) {
      case 59: // ;
        if (depth <= 0 && atomicDepth === 0) {
          endStatement();
        } else emit(';', i, i + 1, true);
        i++;
        continue;
      case 40: // (
        emit('(', i, i + 1, false);
        glue = true;
        depth++;
        break;
      case 41: // )
        emit(')', i, i + 1, true);
        positions.close(depth);
        depth--;
        break;
      case 91: // [
        emit('[', i, i + 1, true);
        glue = true;
        break;
      case 93: // ]
        emit(']', i, i + 1, true);
        break;
      case 44: // ,
        emit(',', i, i + 1, true);
        if (positions.comma(depth)) {
          prevWord = '';
          i++;
          continue;
        }
        break;
      case DOT:
        emit('.', i, i + 1, true);
        glue = true;
        break;
      case 58: // : or ::
        if (next === 58) {
          emit('::', i, i + 2, true);
          glue = true;
          prevWord = '';
          positions.other();
          i += 2;
          continue;
        }
        emit(':', i, i + 1, false);
        break;
      default:
        emit(sql[i]!, i, i + 1, false);
    }
    prevWord = '';
    positions.other();
    i++;
  }
  endStatement();
  return { text: out, literals, hintComments, maxParam, statements, plainBackslash };
}

/** Keeps the body of a comment when it is a shardgate hint (`shardgate:` case-insensitive). */
export function collectHint(sql: string, start: number, end: number, into: string[]): void {
  let s = start;
  while (s < end && isSpace(sql.charCodeAt(s))) s++;
  if (end - s < 10 || (sql.charCodeAt(s) | 32) !== 115) return;
  if (sql.slice(s, s + 10).toLowerCase() !== 'shardgate:') return;
  into.push(sql.slice(s, end).trim());
}
