// The MySQL/MariaDB lexer shared by the fingerprint (hot path: no allocation per token) and the
// miss-path analysis. It follows the server's lexer where it matters for routing: backtick
// identifiers, '...' and "..." strings with backslash escapes (NO_BACKSLASH_ESCAPES is not
// assumed) and adjacent strings joined, `#`, `-- ` and /* */ comments, /*! ... */ and /*M! ... */
// executable comments whose content is SQL, x'..' / 0x.. / b'..' literals, `?` placeholders,
// @user and @@system variables, and identifiers that start with a digit (`1col`).
// It never throws: unterminated input ends the token at the end of the text.
import { charClasses } from '../char-classes.js';
import { quotedBodyEnd } from '../quoted-body.js';

export const T = {
  EOF: 0,
  /** Unquoted identifier or keyword. */
  WORD: 1,
  /** `backtick` identifier. */
  QIDENT: 2,
  /** '...' / "..." (adjacent segments joined), N'...', _charset'...'. */
  STRING: 3,
  /** x'..', b'..', 0x.., 0b.. */
  BITS: 4,
  NUMBER: 5,
  /** `?` placeholder. */
  PARAM: 6,
  /** @name, @'name', @`name` */
  USERVAR: 7,
  /** @@name, @@session.name */
  SYSVAR: 8,
  OP: 9,
  LPAREN: 10,
  RPAREN: 11,
  COMMA: 12,
  DOT: 13,
  SEMI: 14,
  COMMENT: 15,
  /** `/*!` or `/*M!` with an optional version: the content up to EXEC_CLOSE is SQL. */
  EXEC_OPEN: 16,
  EXEC_CLOSE: 17,
} as const;

export type TokenType = (typeof T)[keyof typeof T];

export interface Lexer {
  readonly sql: string;
  /** Where the next token is looked for. */
  pos: number;
  /** Bounds of the token last returned by nextToken. */
  start: number;
  end: number;
  /** Inside an executable comment: `*\/` closes it. */
  inExec: boolean;
}

export function lexer(sql: string, from = 0): Lexer {
  return { sql, pos: from, start: from, end: from, inExec: false };
}

const QUOTE = 39;
const DQUOTE = 34;
const BACKTICK = 96;

// 1 space, 2 digit, 4 identifier start (letters, _, $), 8 operator char
const CLASS = charClasses('_$', '+-*/<>=!~^&|%:');

export const isSpace = (c: number) => c < 128 && (CLASS[c]! & 1) !== 0;
export const isDigit = (c: number) => c >= 48 && c <= 57;
/** Identifier characters: letters, digits, _, $ and everything beyond ASCII. */
export const isIdentChar = (c: number) => (c < 128 ? (CLASS[c]! & 6) !== 0 : c >= 128);
const isHexDigit = (c: number) => isDigit(c) || ((c | 32) >= 97 && (c | 32) <= 102);

/** Index of the closing quote of the body opened at `open` (the text end if none). */
export function quoteEnd(sql: string, open: number): number {
  // Backslash escapes hold in '...' and "..." strings, not in `identifiers`.
  return quotedBodyEnd(sql, open, sql.charCodeAt(open) !== BACKTICK);
}

/** End of a string starting with a quote at `open`, adjacent segments ('a' 'b') included. */
function stringEnd(sql: string, open: number): number {
  let end = quoteEnd(sql, open) + 1;
  for (;;) {
    if (end >= sql.length) return sql.length;
    let j = end;
    while (isSpace(sql.charCodeAt(j))) j++;
    const c = sql.charCodeAt(j);
    if (c !== QUOTE && c !== DQUOTE) return end;
    end = quoteEnd(sql, j) + 1;
  }
}

function identEnd(sql: string, i: number): number {
  let j = i;
  while (j < sql.length && isIdentChar(sql.charCodeAt(j))) j++;
  return j;
}

/** A number at i, or an identifier that starts with digits (`1col`, `0xg`). */
function numberToken(lx: Lexer, i: number): TokenType {
  const sql = lx.sql;
  const c = sql.charCodeAt(i);
  const p = sql.charCodeAt(i + 1) | 32;
  if (c === 48 && (p === 120 || p === 98)) {
    let j = i + 2;
    while (j < sql.length && (p === 120 ? isHexDigit(sql.charCodeAt(j)) : (sql.charCodeAt(j) | 1) === 49))
      j++;
    if (j > i + 2 && !isIdentChar(sql.charCodeAt(j))) {
      lx.end = j;
      return T.BITS;
    }
  }
  let j = i;
  while (isDigit(sql.charCodeAt(j))) j++;
  if (sql.charCodeAt(j) === 46) {
    j++;
    while (isDigit(sql.charCodeAt(j))) j++;
  }
  if ((sql.charCodeAt(j) | 32) === 101) {
    let k = j + 1;
    const sign = sql.charCodeAt(k);
    if (sign === 43 || sign === 45) k++;
    if (isDigit(sql.charCodeAt(k))) {
      j = k;
      while (isDigit(sql.charCodeAt(j))) j++;
    }
  }
  // Digits followed by identifier characters: an identifier (MySQL allows `1e` as a name).
  if (isIdentChar(sql.charCodeAt(j)) && sql.charCodeAt(i) !== 46) {
    lx.end = identEnd(sql, j);
    return T.WORD;
  }
  lx.end = j;
  return T.NUMBER;
}

const OPS3 = ['<=>', '->>'];
const OPS2 = ['<=', '>=', '<>', '!=', ':=', '||', '&&', '<<', '>>', '->'];

/** Reads the next token (comments included); returns its type, bounds in lx.start/lx.end. */
export function nextToken(lx: Lexer): TokenType {
  const sql = lx.sql;
  const n = sql.length;
  let i = lx.pos;
  while (i < n && isSpace(sql.charCodeAt(i))) i++;
  lx.start = i;
  if (i >= n) {
    lx.end = lx.pos = n;
    return T.EOF;
  }
  const type = scan(lx, i);
  lx.pos = lx.end;
  return type;
}

function lineEnd(sql: string, i: number): number {
  const nl = sql.indexOf('\n', i);
  return nl < 0 ? sql.length : nl;
}

/** Tokens of one character (`?` ( ) , . ;), by character code; 0 for the others. */
const SINGLE_CHAR_TOKENS = new Uint8Array(128);
SINGLE_CHAR_TOKENS[63] = T.PARAM;
SINGLE_CHAR_TOKENS[40] = T.LPAREN;
SINGLE_CHAR_TOKENS[41] = T.RPAREN;
SINGLE_CHAR_TOKENS[44] = T.COMMA;
SINGLE_CHAR_TOKENS[46] = T.DOT;
SINGLE_CHAR_TOKENS[59] = T.SEMI;

/** End of a @variable or @@system.variable name from `j`: identifier characters and dots. */
function variableNameEnd(sql: string, j: number): number {
  while (j < sql.length && (isIdentChar(sql.charCodeAt(j)) || sql.charCodeAt(j) === 46)) j++;
  return j;
}

function scan(lx: Lexer, i: number): TokenType {
  const sql = lx.sql;
  const c = sql.charCodeAt(i);
  const next = sql.charCodeAt(i + 1);
  // Words first: most tokens are keywords and names.
  if (c < 128 ? (CLASS[c]! & 4) !== 0 : c >= 128) {
    const lc = c | 32;
    if (next === QUOTE && (lc === 120 || lc === 98)) {
      lx.end = Math.min(sql.length, quoteEnd(sql, i + 1) + 1);
      return T.BITS;
    }
    if ((next === QUOTE || next === DQUOTE) && lc === 110) {
      lx.end = stringEnd(sql, i + 1);
      return T.STRING;
    }
    const j = identEnd(sql, i + 1);
    const q = sql.charCodeAt(j);
    if (c === 95 && (q === QUOTE || q === DQUOTE)) {
      // _utf8mb4'text': a string with a character set introducer.
      lx.end = stringEnd(sql, j);
      return T.STRING;
    }
    lx.end = j;
    return T.WORD;
  }
  if (c === QUOTE || c === DQUOTE) {
    lx.end = stringEnd(sql, i);
    return T.STRING;
  }
  if (c === BACKTICK) {
    lx.end = Math.min(sql.length, quoteEnd(sql, i) + 1);
    return T.QIDENT;
  }
  if (c === 35) {
    lx.end = lineEnd(sql, i);
    return T.COMMENT;
  }
  if (c === 45 && next === 45) {
    const after = sql.charCodeAt(i + 2);
    if (i + 2 >= sql.length || after <= 32) {
      lx.end = lineEnd(sql, i);
      return T.COMMENT;
    }
  }
  if (c === 47 && next === 42) {
    const third = sql.charCodeAt(i + 2);
    if (third === 33 || ((third | 32) === 109 && sql.charCodeAt(i + 3) === 33)) {
      let j = i + (third === 33 ? 3 : 4);
      while (isDigit(sql.charCodeAt(j))) j++;
      lx.end = j;
      lx.inExec = true;
      return T.EXEC_OPEN;
    }
    const close = sql.indexOf('*/', i + 2);
    lx.end = close < 0 ? sql.length : close + 2;
    return T.COMMENT;
  }
  if (c === 42 && next === 47 && lx.inExec) {
    lx.end = i + 2;
    lx.inExec = false;
    return T.EXEC_CLOSE;
  }
  if (isDigit(c) || (c === 46 && isDigit(next) && !isIdentChar(sql.charCodeAt(i - 1)))) {
    return numberToken(lx, i);
  }
  const single = c < 128 ? SINGLE_CHAR_TOKENS[c]! : 0;
  if (single !== 0) {
    lx.end = i + 1;
    return single as TokenType;
  }
  if (c === 64) {
    if (next === 64) {
      lx.end = variableNameEnd(sql, i + 2);
      return T.SYSVAR;
    }
    lx.end =
      next === QUOTE || next === DQUOTE || next === BACKTICK
        ? Math.min(sql.length, quoteEnd(sql, i + 1) + 1)
        : variableNameEnd(sql, i + 1);
    return T.USERVAR;
  }
  if (!(next < 128 && (CLASS[next]! & 8) !== 0)) {
    lx.end = i + 1;
    return T.OP;
  }
  for (const op of OPS3) {
    if (sql.startsWith(op, i)) {
      lx.end = i + 3;
      return T.OP;
    }
  }
  for (const op of OPS2) {
    if (sql.startsWith(op, i)) {
      lx.end = i + 2;
      return T.OP;
    }
  }
  lx.end = i + 1;
  return T.OP;
}
