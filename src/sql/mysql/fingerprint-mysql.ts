// The MySQL fingerprint: one pass of the shared lexer that replaces literals with `?` (keeping
// their decoded values and offsets), numbers `?` placeholders as bind parameters ($1, $2 ... in
// the text, so a literal and a placeholder at the same place are different shapes), drops
// comments (collecting `shardgate:` hints) but keeps /*! ... *\/ executable comments and their
// content, lower-cases words, and splits statements at top-level `;` (BEGIN ... END bodies of
// CREATE PROCEDURE / FUNCTION / TRIGGER / EVENT and MariaDB's BEGIN NOT ATOMIC stay whole).
// DELIMITER is a mysql-client command that never reaches a server: it is not special here.
//
// ORDER BY / GROUP BY integer positions stay verbatim (facts depend on them), as on PostgreSQL.
// With a `tokens` array, the pass also records every token per statement (cache-miss path only).
import { ShardgateError } from '../../errors.js';
import type { Fingerprint, Literal } from '../fingerprint.js';
import { POSITION_LIST_ENDERS, PositionList } from '../position-list.js';
import type { TokenType } from './mysql-lexer.js';
import * as lexing from './mysql-lexer.js';
import * as strings from './mysql-strings.js';

// Module-local bindings for the hot loop: some loaders (vite-node) turn every access to an
// imported binding into a getter call, which would cost more than the tokenizing itself.
const { lexer, nextToken } = lexing;
const T = { ...lexing.T };
const { bitsValue, identValue, numberValue, stringValue } = strings;

export interface Token {
  type: TokenType;
  start: number;
  end: number;
  /** WORD, SYSVAR, USERVAR, OP: lower-cased text; QIDENT: the name without backticks; else ''. */
  text: string;
  /** Index into the literal list for literals, else -1 (ORDER BY positions are not literals). */
  literal: number;
  /** 1-based placeholder number for PARAM, else 0. */
  param: number;
}

/** Words after which ORDER BY / GROUP BY position lists end. */
const LIST_ENDERS = new Set<string>([...POSITION_LIST_ENDERS, 'lock', 'into', 'with']);

/** CREATE / ALTER of these may hold a BEGIN ... END body with `;` inside. */
const ROUTINES = new Set(['procedure', 'function', 'trigger', 'event']);

/** END followed by one of these closes that construct, not a BEGIN or CASE. */
const END_OF = new Set(['if', 'loop', 'while', 'repeat']);

function isInteger(value: string): boolean {
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (c < 48 || c > 57) return false;
  }
  return value.length > 0;
}

const needsQuotes = (word: string) => {
  const c = word.charCodeAt(0);
  return (c >= 48 && c <= 57) || c === 36;
};

export function fingerprintMysql(
  sql: string,
  tokens?: Token[][],
  maxTokens = Number.POSITIVE_INFINITY,
): Fingerprint {
  let count = 0;
  const literals: Literal[] = [];
  const hintComments: string[] = [];
  const statements: Fingerprint['statements'] = [];
  let out = '';
  let params = 0;
  let glue = true;
  let stmtStart = -1;
  let stmtEnd = -1;
  let stmtTokens: Token[] | null = null;
  let depth = 0;
  let firstWord = '';
  let secondWord = '';
  let prevWord = '';
  // Compound statement bodies (BEGIN ... END, CASE ... END) inside CREATE/ALTER or BEGIN NOT ATOMIC.
  let blockDepth = 0;
  let endPending = false;
  let routine = false;
  const positions = new PositionList(LIST_ENDERS);

  const emit = (tok: string, start: number, end: number, tight: boolean) => {
    if (stmtStart < 0) {
      if (statements.length > 0) out += ';';
      stmtStart = start;
      if (tokens) tokens.push((stmtTokens = []));
    }
    if (!glue && !tight) out += ' ';
    out += tok;
    glue = false;
    stmtEnd = end;
  };
  const record = (type: TokenType, start: number, end: number, text: string, literal = -1, param = 0) => {
    stmtTokens?.push({ type, start, end, text, literal, param });
  };
  const pushLiteral = (value: string, type: TokenType, start: number, end: number) => {
    const kind = type === T.STRING ? 'string' : type === T.BITS ? 'bits' : 'number';
    literals.push({ value, offset: start, end, kind });
    emit('?', start, end, false);
    record(type, start, end, '', literals.length - 1);
    positions.other();
    prevWord = '';
  };
  const endStatement = () => {
    if (stmtStart >= 0) statements.push({ start: stmtStart, end: stmtEnd });
    stmtStart = -1;
    stmtTokens = null;
    depth = 0;
    firstWord = secondWord = prevWord = '';
    blockDepth = 0;
    endPending = false;
    routine = false;
    positions.reset();
  };

  const lx = lexer(sql);
  for (;;) {
    const type = nextToken(lx);
    if (type === T.EOF) break;
    // Past the bound the text is refused before the parser (much slower per token) sees it.
    if (++count > maxTokens) throw new ShardgateError('STATEMENT_TOO_COMPLEX', { max: maxTokens });
    const { start, end } = lx;
    if (type === T.COMMENT) {
      collectHint(sql, start, end, hintComments);
      continue;
    }
    if (endPending) {
      endPending = false;
      const word = type === T.WORD ? sql.slice(start, end).toLowerCase() : '';
      if (!END_OF.has(word)) blockDepth--;
      if (word === 'case') {
        emit(word, start, end, false);
        record(type, start, end, word);
        prevWord = word;
        continue;
      }
    }
    switch (type) {
      case T.STRING:
        pushLiteral(stringValue(sql, start, end), type, start, end);
        continue;
      case T.BITS:
        pushLiteral(bitsValue(sql, start, end), type, start, end);
        continue;
      case T.NUMBER: {
        const value = numberValue(sql, start, end);
        if (positions.isPosition(depth) && isInteger(value)) {
          emit(value, start, end, false);
          record(type, start, end, value);
          positions.other();
        } else pushLiteral(value, type, start, end);
        continue;
      }
      case T.PARAM:
        params++;
        emit(`$${params}`, start, end, false);
        record(type, start, end, '', -1, params);
        positions.other();
        prevWord = '';
        continue;
      case T.WORD: {
        const word = sql.slice(start, end).toLowerCase();
        emit(needsQuotes(word) ? `\`${word}\`` : word, start, end, false);
        record(type, start, end, word);
        if (firstWord === '') firstWord = word;
        else if (secondWord === '') {
          secondWord = word;
          if (firstWord === 'begin' && word === 'not') blockDepth = 1;
        }
        positions.word(word, prevWord, depth);
        if ((firstWord === 'create' || firstWord === 'alter') && ROUTINES.has(word)) routine = true;
        if (blockDepth > 0 || routine) {
          if (word === 'begin' || (word === 'case' && blockDepth > 0)) blockDepth++;
          else if (word === 'end' && blockDepth > 0) endPending = true;
        }
        prevWord = word;
        continue;
      }
      case T.QIDENT: {
        const text = sql.slice(start, end);
        emit(text, start, end, false);
        record(type, start, end, identValue(text));
        break;
      }
      case T.USERVAR:
      case T.SYSVAR:
      case T.OP: {
        const text = sql.slice(start, end).toLowerCase();
        emit(text, start, end, false);
        record(type, start, end, text);
        break;
      }
      case T.EXEC_OPEN: {
        const text = sql.slice(start, end).toLowerCase();
        emit(text, start, end, false);
        record(type, start, end, text);
        break;
      }
      case T.EXEC_CLOSE:
        emit('*/', start, end, false);
        record(type, start, end, '*/');
        break;
      case T.SEMI:
        if (depth <= 0 && blockDepth <= 0) {
          endStatement();
          continue;
        }
        emit(';', start, end, true);
        record(type, start, end, ';');
        break;
      case T.LPAREN:
        emit('(', start, end, false);
        record(type, start, end, '(');
        glue = true;
        depth++;
        break;
      case T.RPAREN:
        emit(')', start, end, true);
        record(type, start, end, ')');
        positions.close(depth);
        depth--;
        break;
      case T.COMMA:
        emit(',', start, end, true);
        record(type, start, end, ',');
        if (positions.comma(depth)) {
          prevWord = '';
          continue;
        }
        break;
      case T.DOT:
        emit('.', start, end, true);
        record(type, start, end, '.');
        glue = true;
        break;
    }
    prevWord = '';
    positions.other();
  }
  endStatement();
  return { text: out, literals, hintComments, maxParam: params, statements };
}

/** Keeps the body of a comment when it is a shardgate hint (`shardgate:` case-insensitive). */
function collectHint(sql: string, start: number, end: number, into: string[]): void {
  // Body without the comment markers: #, -- , /* */
  let s = start + (sql.charCodeAt(start) === 35 ? 1 : 2);
  let e = end;
  if (sql.charCodeAt(start) === 47 && sql.endsWith('*/', end)) e = end - 2;
  while (s < e && sql.charCodeAt(s) <= 32) s++;
  if (e - s < 10 || (sql.charCodeAt(s) | 32) !== 115) return;
  if (sql.slice(s, s + 10).toLowerCase() !== 'shardgate:') return;
  into.push(sql.slice(s, e).trim());
}
