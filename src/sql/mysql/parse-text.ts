// The text node-sql-parser reads for one statement. Its AST keeps no locations on constants, so
// each literal is replaced by a marker that names it (strings: 'sgL<i>q', numbers: 900000000 + i,
// `?` placeholders: 800000000 + n) and the AST's constants map back to ValueRefs exactly.
// Constructs that do not change routing facts but that the parser rejects are dropped or
// replaced: executable-comment markers, index hints, PARTITION (...), statement modifiers
// (LOW_PRIORITY, QUICK, DELAYED, HIGH_PRIORITY, SQL_*_RESULT, UPDATE/DELETE IGNORE), FOR SHARE, `VALUES (...) AS new`,
// VARIANCE() and STD() where a call can stand (as VAR_POP() and STDDEV_POP()),
// DEFAULT in a VALUES row, and a trailing RETURNING (MariaDB; reported back as `returning`).

import type { Token } from './fingerprint-mysql.js';
import { T } from './mysql-lexer.js';

export const NUMBER_MARKER = 900_000_000;
export const PARAM_MARKER = 800_000_000;
/** Literal indexes at or past this cannot be marked (the markers would overlap). */
export const MAX_MARKED = 100_000_000;
const STRING_MARKER = /^sgL(\d+)q$/;

export function stringMarkerIndex(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = STRING_MARKER.exec(value);
  return m ? Number(m[1]) : null;
}

export interface ParseText {
  text: string;
  /** A top-level RETURNING clause was cut off. */
  returning: boolean;
  /** Per top-level set operator in text order: its ALL was dropped (INTERSECT ALL, EXCEPT ALL,
   *  which the grammar rejects; restoreSetAll puts it back into the AST). */
  droppedAll: boolean[];
}

const SET_WORDS = new Set(['union', 'intersect', 'except', 'minus']);

/**
 * Puts the ALL that buildParseText dropped back on the AST's top-level set operators (`set_op`
 * along the `_next` chain); false when the chain does not line up with the text.
 */
export function restoreSetAll(ast: unknown, droppedAll: readonly boolean[]): boolean {
  if (!droppedAll.includes(true)) return true;
  const chain: Array<Record<string, unknown>> = [];
  for (let n = ast; n && typeof n === 'object'; n = (n as Record<string, unknown>)._next)
    chain.push(n as Record<string, unknown>);
  const ops = chain.filter((n) => typeof n.set_op === 'string' && n._next);
  if (ops.length !== droppedAll.length) return false;
  ops.forEach((n, i) => {
    if (droppedAll[i]) n.set_op = `${String(n.set_op).toLowerCase()} all`;
  });
  return true;
}

const MODIFIERS = new Set([
  'low_priority',
  'quick',
  'delayed',
  'high_priority',
  'straight_join',
  'sql_small_result',
  'sql_big_result',
  'sql_buffer_result',
]);
/** MariaDB's names the grammar rejects -> the same function under a name it reads. */
const SYNONYMS = new Map([
  ['variance', 'var_pop'],
  ['std', 'stddev_pop'],
]);
/** Keywords after which an expression (so a function call) can start: elsewhere `std (` is a
 *  table or column name (INSERT INTO std (id) ...), which must keep its name. */
const EXPRESSION_AFTER = new Set([
  'select',
  'distinct',
  'all',
  'where',
  'having',
  'on',
  'by',
  'and',
  'or',
  'xor',
  'not',
  'when',
  'then',
  'else',
  'case',
  'between',
  'like',
  'regexp',
  'rlike',
  'is',
  'in',
  'div',
  'mod',
  'interval',
  'sql_no_cache',
  'sql_cache',
  'sql_calc_found_rows',
  'high_priority',
  'straight_join',
  'sql_small_result',
  'sql_big_result',
  'sql_buffer_result',
  'return',
  'limit',
]);
const expressionCanStart = (prev: Token | undefined) =>
  prev !== undefined &&
  (prev.type === T.LPAREN ||
    prev.type === T.COMMA ||
    prev.type === T.OP ||
    (prev.type === T.WORD && EXPRESSION_AFTER.has(prev.text)));
const MODIFIED = new Set(['select', 'insert', 'update', 'delete', 'replace', 'distinct', 'all']);

const isWord = (t: Token | undefined, w: string) => t !== undefined && t.type === T.WORD && t.text === w;

/** Index just past the parenthesized group opening at `open` (token index). */
export function groupEnd(toks: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < toks.length; i++) {
    const t = toks[i]!.type;
    if (t === T.LPAREN) depth++;
    else if (t === T.RPAREN && --depth === 0) return i + 1;
  }
  return toks.length;
}

export function buildParseText(sql: string, toks: readonly Token[]): ParseText | null {
  let text = '';
  let prevEnd = -1;
  let depth = 0;
  let returning = false;
  const droppedAll: boolean[] = [];
  const first = toks.find((t) => t.type === T.WORD)?.text ?? '';
  const put = (s: string, t: Token) => {
    if (prevEnd >= 0 && t.start > prevEnd) text += ' ';
    text += s;
    prevEnd = t.end;
  };
  let lastKept: Token | undefined;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const next = toks[i + 1];
    if (t.literal >= 0) {
      if (t.literal >= MAX_MARKED) return null;
      put(t.type === T.NUMBER ? String(NUMBER_MARKER + t.literal) : `'sgL${t.literal}q'`, t);
    } else if (t.type === T.PARAM) {
      if (t.param >= MAX_MARKED) return null;
      put(String(PARAM_MARKER + t.param), t);
    } else if (t.type === T.EXEC_OPEN || t.type === T.EXEC_CLOSE) {
      continue;
    } else if (t.type === T.WORD) {
      const w = t.text;
      const afterVerb = lastKept !== undefined && lastKept.type === T.WORD && MODIFIED.has(lastKept.text);
      if (afterVerb && (MODIFIERS.has(w) || (w === 'ignore' && (first === 'update' || first === 'delete'))))
        continue;
      if (w === 'straight_join') {
        put('JOIN', t);
      } else if (
        (w === 'use' || w === 'force' || w === 'ignore') &&
        (isWord(next, 'index') || isWord(next, 'key'))
      ) {
        // Index hint: skip to the end of its column list.
        let j = i + 2;
        while (j < toks.length && toks[j]!.type !== T.LPAREN) j++;
        i = groupEnd(toks, j) - 1;
        continue;
      } else if (w === 'partition' && next?.type === T.LPAREN && first !== 'create' && first !== 'alter') {
        i = groupEnd(toks, i + 1) - 1;
        continue;
      } else if (SET_WORDS.has(w) && depth === 0) {
        const all = (w === 'intersect' || w === 'except') && isWord(next, 'all');
        droppedAll.push(all);
        put(sql.slice(t.start, t.end), t);
        if (all) i++;
      } else if (SYNONYMS.has(w) && next?.type === T.LPAREN && expressionCanStart(lastKept)) {
        // Aggregates the grammar lacks, as their synonyms it reads (the shards run the original).
        put(SYNONYMS.get(w)!, t);
      } else if (w === 'for' && isWord(next, 'share')) {
        put('LOCK IN SHARE MODE', t);
        i++;
      } else if (
        w === 'as' &&
        depth === 0 &&
        (first === 'insert' || first === 'replace') &&
        lastKept?.type === T.RPAREN &&
        isAliasBeforeOnDuplicate(toks, i)
      ) {
        // VALUES (...) AS new [(cols)] ON DUPLICATE KEY UPDATE: the row alias (MySQL 8.0.19+).
        i += next && toks[i + 2]?.type === T.LPAREN ? groupEnd(toks, i + 2) - i - 1 : 1;
        continue;
      } else if (
        w === 'default' &&
        (lastKept?.type === T.LPAREN || lastKept?.type === T.COMMA) &&
        (next?.type === T.RPAREN || next?.type === T.COMMA)
      ) {
        put('sg_default()', t);
      } else if (w === 'returning' && depth === 0 && first !== 'select') {
        returning = true;
        break;
      } else put(sql.slice(t.start, t.end), t);
    } else if (t.type === T.OP && t.text === '<=>') {
      // Null-safe equality: never a shard-key condition, so any comparison parses the same facts.
      put('>=', t);
    } else {
      if (t.type === T.LPAREN) depth++;
      else if (t.type === T.RPAREN) depth--;
      put(sql.slice(t.start, t.end), t);
    }
    lastKept = t;
  }
  return { text, returning, droppedAll };
}

/** `AS alias [(cols)]` at i is followed by ON DUPLICATE KEY UPDATE. */
function isAliasBeforeOnDuplicate(toks: readonly Token[], i: number): boolean {
  let j = i + 2;
  if (toks[j]?.type === T.LPAREN) j = groupEnd(toks, j);
  return isWord(toks[j], 'on') && isWord(toks[j + 1], 'duplicate');
}
