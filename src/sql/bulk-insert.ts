// A statement past limits.maxStatementTokens is not parsed (libpg-query on a huge text blocks the
// event loop). One shape is still routable without the parser: a bulk load written as a single
// `INSERT INTO <table> [(<columns>)] VALUES (...), (...), ...` whose rows hold only constants and
// parameters. Its target table decides where it runs, the rows never do (a sharded table, whose
// rows would decide the shards, is refused by the planner). This scan recognizes that shape in one
// linear pass over the text; anything else (a function call, a subquery, RETURNING, ON CONFLICT,
// a second statement) is not recognized and the statement keeps its STATEMENT_TOO_COMPLEX refusal.
import {
  blockCommentEnd,
  collectHint,
  isDigit,
  isIdentChar,
  isIdentStart,
  isOpChar,
  isSpace,
  type StatementRange,
} from './fingerprint.js';
import { quotedBodyEnd } from './quoted-body.js';

export interface BulkInsertScan {
  /** The text from INSERT through the first row: small, parsed to learn table and columns. */
  head: string;
  /** The statement in the whole text (without a trailing `;`). */
  statement: StatementRange;
  /** Highest `$n` of the rows. */
  maxParam: number;
  /** Bodies of `shardgate:` hint comments anywhere in the text. */
  hintComments: string[];
}

const END = 0;
const WORD = 1;
const QUOTED_IDENT = 2;
const STRING = 3;
const NUMBER = 4;
const PARAM = 5;
const OPERATOR = 6;
const PUNCT = 7;
/** Something this scan does not read (unterminated quote or comment, unknown character). */
const BAD = 8;

/** Words a row may hold on their own. */
const VALUE_WORDS = new Set(['null', 'true', 'false', 'default']);
/** Words never read as the type of a typed literal (`date '2024-01-01'`): they start a query. */
const QUERY_WORDS = new Set(['select', 'with', 'values', 'table', 'from']);

/** One token at a time; comments are skipped (hint comments kept). */
class Tokens {
  type = END;
  start = 0;
  end = 0;
  maxParam = 0;
  readonly hints: string[] = [];

  constructor(private readonly sql: string) {}

  /** The current token's text, lower-cased (words and punctuation only: they are short). */
  lower(): string {
    return this.sql.slice(this.start, this.end).toLowerCase();
  }

  is(type: number, text: string): boolean {
    return this.type === type && this.end - this.start === text.length && this.lower() === text;
  }

  /** The current token's first character code. */
  code(): number {
    return this.sql.charCodeAt(this.start);
  }

  /** The current token is the one-character punctuation `code` (no string is made: hot path). */
  isPunct(code: number): boolean {
    return this.type === PUNCT && this.end - this.start === 1 && this.sql.charCodeAt(this.start) === code;
  }

  next(): number {
    const sql = this.sql;
    const n = sql.length;
    let i = this.end;
    for (;;) {
      while (i < n && isSpace(sql.charCodeAt(i))) i++;
      const c = sql.charCodeAt(i);
      const d = sql.charCodeAt(i + 1);
      if (c === 45 && d === 45) {
        const nl = sql.indexOf('\n', i);
        const end = nl < 0 ? n : nl;
        collectHint(sql, i + 2, end, this.hints);
        i = end;
      } else if (c === 47 && d === 42) {
        const end = blockCommentEnd(sql, i);
        if (end < 0) return this.set(BAD, i, n);
        collectHint(sql, i + 2, end - 2, this.hints);
        i = end;
      } else break;
    }
    if (i >= n) return this.set(END, n, n);
    const c = sql.charCodeAt(i);
    const d = sql.charCodeAt(i + 1);
    const lc = c | 32;
    if (c === 39) return this.quoted(i, i, false);
    // E'...' (backslash escapes), B'...', X'...', N'...'
    if (d === 39 && (lc === 101 || lc === 98 || lc === 120 || lc === 110))
      return this.quoted(i, i + 1, lc === 101);
    if (lc === 117 && d === 38 && sql.charCodeAt(i + 2) === 39) return this.quoted(i, i + 2, false);
    if (c === 34 || (lc === 117 && d === 38 && sql.charCodeAt(i + 2) === 34)) {
      let j = (c === 34 ? i : i + 2) + 1;
      for (;;) {
        if (j >= n) return this.set(BAD, i, n);
        if (sql.charCodeAt(j) === 34) {
          if (sql.charCodeAt(j + 1) !== 34) break;
          j++;
        }
        j++;
      }
      return this.set(QUOTED_IDENT, i, j + 1);
    }
    if (c === 36) {
      if (isDigit(d)) {
        let j = i + 1;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        const num = j - i > 10 ? Number.MAX_SAFE_INTEGER : Number(sql.slice(i + 1, j));
        if (num > this.maxParam) this.maxParam = num;
        return this.set(PARAM, i, j);
      }
      // $tag$ ... $tag$
      let j = i + 1;
      if (d !== 36 && isIdentStart(d)) {
        j++;
        while (j < n && isIdentChar(sql.charCodeAt(j)) && sql.charCodeAt(j) !== 36) j++;
      }
      if (sql.charCodeAt(j) !== 36) return this.set(BAD, i, j);
      const tag = sql.slice(i, j + 1);
      const close = sql.indexOf(tag, j + 1);
      if (close < 0) return this.set(BAD, i, n);
      return this.set(STRING, i, close + tag.length);
    }
    if (isDigit(c) || (c === 46 && isDigit(d))) {
      // Digits, a decimal point, an exponent, 0x.., 1_000: read loosely, a sign is an operator.
      let j = i + 1;
      while (j < n && (isIdentChar(sql.charCodeAt(j)) || sql.charCodeAt(j) === 46)) j++;
      return this.set(NUMBER, i, j);
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      return this.set(WORD, i, j);
    }
    if (isOpChar(c)) {
      let j = i + 1;
      while (j < n) {
        const e = sql.charCodeAt(j);
        const f = sql.charCodeAt(j + 1);
        if (!isOpChar(e) || (e === 45 && f === 45) || (e === 47 && f === 42)) break;
        j++;
      }
      return this.set(OPERATOR, i, j);
    }
    if (c === 58 && d === 58) return this.set(PUNCT, i, i + 2);
    // ( ) , [ ] . ;
    if (c === 40 || c === 41 || c === 44 || c === 91 || c === 93 || c === 46 || c === 59) {
      return this.set(PUNCT, i, i + 1);
    }
    return this.set(BAD, i, i + 1);
  }

  private quoted(start: number, open: number, backslash: boolean): number {
    const close = quotedBodyEnd(this.sql, open, backslash);
    if (close >= this.sql.length) return this.set(BAD, start, this.sql.length);
    return this.set(STRING, start, close + 1);
  }

  private set(type: number, start: number, end: number): number {
    this.type = type;
    this.start = start;
    this.end = end;
    return type;
  }
}

/** `t`, `s.t`, `"T"`, `db.s.t`: the scan only checks its form, the parser reads the head. */
function qualifiedName(t: Tokens): boolean {
  for (let parts = 0; parts < 3; parts++) {
    if (t.next() !== WORD && t.type !== QUOTED_IDENT) return false;
    if (t.next() !== PUNCT || !t.isPunct(46)) return true;
  }
  return false;
}

/**
 * One row `( ... )` starting at the current `(`: constants, parameters, operators, casts, arrays,
 * typed literals. False at anything that could read data or call code: a function call, a
 * subquery, a column reference.
 */
function plainRow(t: Tokens): boolean {
  let depth = 1;
  // After `::`: words are a type name (`timestamp with time zone`, `pg_catalog.int4`).
  let inType = false;
  // The previous token was a word of a type name: `(` is its modifier (`numeric(10,2)`).
  let afterTypeWord = false;
  while (depth > 0) {
    const type = t.next();
    if (type === WORD || type === QUOTED_IDENT) {
      if (inType) {
        afterTypeWord = true;
        continue;
      }
      if (type === QUOTED_IDENT) return false;
      const word = t.lower();
      if (VALUE_WORDS.has(word)) continue;
      if (word === 'array') {
        if (t.next() !== PUNCT || !t.isPunct(91)) return false;
        continue;
      }
      // A typed literal: the word must be followed by a string.
      if (QUERY_WORDS.has(word) || t.next() !== STRING) return false;
      continue;
    }
    const wasTypeWord = afterTypeWord;
    afterTypeWord = false;
    if (type === STRING || type === NUMBER || type === PARAM || type === OPERATOR) {
      inType = false;
      continue;
    }
    if (type !== PUNCT) return false;
    if (t.end - t.start === 2) {
      inType = true; // `::`
      continue;
    }
    switch (t.code()) {
      case 46: // .
        if (!inType || !wasTypeWord) return false;
        break;
      case 40: // ( after a word that is not a type would be a function call: refused above.
        depth++;
        inType = false;
        break;
      case 41: // )
        depth--;
        break;
      case 44: // ,
        inType = false;
        break;
      case 91: // [
      case 93: // ]
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The bulk INSERT's parts, or null when the text is anything else. */
export function scanBulkInsert(sql: string): BulkInsertScan | null {
  const t = new Tokens(sql);
  if (t.next() !== WORD || !t.is(WORD, 'insert')) return null;
  const start = t.start;
  if (t.next() !== WORD || !t.is(WORD, 'into')) return null;
  if (!qualifiedName(t)) return null;
  if (t.isPunct(40)) {
    for (;;) {
      if (t.next() !== WORD && t.type !== QUOTED_IDENT) return null;
      t.next();
      if (t.isPunct(41)) break;
      if (!t.isPunct(44)) return null;
    }
    t.next();
  }
  if (!t.is(WORD, 'values')) return null;
  let headEnd = -1;
  for (;;) {
    if (t.next() !== PUNCT || !t.isPunct(40)) return null;
    if (!plainRow(t)) return null;
    const rowEnd = t.end;
    if (headEnd < 0) headEnd = rowEnd;
    t.next();
    if (t.isPunct(44)) continue;
    if (t.isPunct(59)) t.next();
    if (t.type !== END) return null;
    return {
      head: sql.slice(start, headEnd),
      statement: { start, end: rowEnd },
      maxParam: t.maxParam,
      hintComments: t.hints,
    };
  }
}
