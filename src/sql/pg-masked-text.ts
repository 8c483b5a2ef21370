// The pieces the textual per-shard rewrites of a PostgreSQL SELECT share (scatter-rewrite.ts,
// pg-program-rewrite.ts, pg-window-program.ts). libpg-query cannot deparse, so they edit the
// client's text: clauses are located on the masked copy (literals and comments blanked, same
// offsets) and turned into edits that the caller applies right to left.
import { ShardgateError } from '../errors.js';
import { isType, list, type Node } from './pg-ast.js';
import { figureName } from './pg-column-name.js';

/** A word (or literal run) at parenthesis depth 0 of the masked text, lowercased. */
export interface Word {
  word: string;
  start: number;
  end: number;
}

/** Replace sql[start, end) with text. */
export interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Words that end a SELECT's select list. */
const SELECT_LIST_ENDS = [
  'from',
  'where',
  'group',
  'having',
  'window',
  'order',
  'limit',
  'offset',
  'fetch',
  'for',
];

/** Clauses that can follow HAVING. */
export const HAVING_ENDS = ['window', 'order', 'limit', 'offset', 'fetch', 'for'];

/** Clauses that can follow ORDER BY. */
const ORDER_BY_ENDS = ['limit', 'offset', 'fetch', 'for'];

/** An ORDER BY item's trailing ASC/DESC and NULLS FIRST/LAST. */
const SORT_DIRECTION = /\s+(?:asc|desc)?\s*(?:nulls\s+(?:first|last))?\s*$/i;

export function scatterUnsupported(detail: string): ShardgateError {
  return new ShardgateError('SCATTER_UNSUPPORTED', { detail });
}

/** Index just past the parenthesized group opening at `open`. */
export function groupEnd(masked: string, open: number): number {
  let depth = 0;
  for (let i = open; i < masked.length; i++) {
    if (masked[i] === '(') depth++;
    else if (masked[i] === ')' && --depth === 0) return i + 1;
  }
  return masked.length;
}

/**
 * Where an aggregate call at `loc` (its AST location) stands: its `(`, just past the `)` of its
 * arguments, and its end (past a FILTER (WHERE ...) clause when it has one).
 */
export function aggregateCallExtent(
  masked: string,
  loc: unknown,
): { loc: number; open: number; argsEnd: number; end: number } {
  if (typeof loc !== 'number') throw scatterUnsupported('an aggregate whose call cannot be located');
  const open = masked.indexOf('(', loc);
  const argsEnd = groupEnd(masked, open);
  const filter = /^\s*filter\s*\(/i.exec(masked.slice(argsEnd));
  const end = filter ? groupEnd(masked, argsEnd + filter[0].length - 1) : argsEnd;
  return { loc, open, argsEnd, end };
}

/** End of the statement's text, before trailing blanks and semicolons. */
export function statementEnd(masked: string): number {
  return masked.replace(/[\s;]+$/, '').length;
}

/** Where the clause starting at words[at] ends: at the next of `ends`, or the statement's end. */
export function clauseEnd(masked: string, words: Word[], at: number, ends: readonly string[]): number {
  const next = words.slice(at + 1).find((w) => ends.includes(w.word));
  return next ? next.start : statementEnd(masked);
}

/** Offset just past the last item of the select list (where appended columns go). */
export function selectListEnd(masked: string, words: Word[]): number {
  const selectAt = words.findIndex((w) => w.word === 'select');
  const next = words.slice(selectAt + 1).find((w) => SELECT_LIST_ENDS.includes(w.word));
  return statementEnd(next ? masked.slice(0, next.start) : masked);
}

/** A removed HAVING that holds parameters: kept as an always-true clause that is never evaluated. */
export function neutralHaving(sql: string, masked: string, start: number, end: number): string {
  if (!masked.slice(start, end).includes('$')) return '';
  return `HAVING (CASE WHEN false THEN (${sql.slice(start, end).trim()}) END) IS NULL `;
}

/**
 * The select-list edits of a per-shard program: each output in `computed` (0-based) becomes
 * `(CASE WHEN false THEN <expr> END) AS "<name>"`, a NULL of the type PostgreSQL gives the
 * expression, so the merged result is described exactly as one database would describe it while
 * the proxy computes the value; the `hidden` columns are appended after the client's.
 */
export function programListEdits(
  masked: string,
  words: Word[],
  select: Node,
  computed: number[],
  hidden: string[],
): Edit[] {
  const targets = list(select.targetList).map((t) => isType(t, 'ResTarget') ?? {});
  const listEnd = selectListEnd(masked, words);
  const edits = computed.flatMap((i) => typedNullOutputEdits(masked, targets, i, listEnd));
  if (hidden.length > 0) edits.push({ start: listEnd, end: listEnd, text: `, ${hidden.join(', ')}` });
  return edits;
}

/** The edits that turn select-list item `i` into its typed NULL (see programListEdits). */
function typedNullOutputEdits(masked: string, targets: Node[], i: number, listEnd: number): Edit[] {
  const rt = targets[i]!;
  const start = rt.location;
  if (typeof start !== 'number') throw scatterUnsupported('a select-list item that cannot be located');
  const next = targets[i + 1]?.location;
  let end = typeof next === 'number' ? masked.lastIndexOf(',', next) : listEnd;
  end = masked.slice(0, end).replace(/\s+$/, '').length;
  let exprEnd = end;
  if (typeof rt.name === 'string') {
    const alias = /\s+(?:as\s+)?(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)$/i.exec(masked.slice(start, end));
    if (!alias) throw scatterUnsupported('a select-list alias that cannot be located');
    exprEnd = end - alias[0].length;
  }
  const name = typeof rt.name === 'string' ? rt.name : figureName(rt.val);
  return [
    { start, end: start, text: '(CASE WHEN false THEN ' },
    { start: exprEnd, end, text: ` END) AS "${name.replace(/"/g, '""')}"` },
  ];
}

/** The edit that removes the top-level ORDER BY (the merge orders the rows), if there is one. */
export function orderByRemoval(masked: string, words: Word[]): Edit[] {
  const orderAt = words.findIndex((w, i) => w.word === 'order' && words[i + 1]?.word === 'by');
  if (orderAt < 0) return [];
  return [{ start: words[orderAt]!.start, end: clauseEnd(masked, words, orderAt, ORDER_BY_ENDS), text: '' }];
}

/**
 * [start, end) spans of `masked` between start and end split at commas of depth 0 (outside
 * brackets and quoted identifiers; the last span may be empty).
 */
export function splitTopLevel(masked: string, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let depth = 0;
  let from = start;
  for (let i = start; i < end; i++) {
    const c = masked[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === '"') {
      const j = masked.indexOf('"', i + 1);
      i = j < 0 ? end : j;
    } else if (c === ',' && depth === 0) {
      out.push([from, i]);
      from = i + 1;
    }
  }
  out.push([from, end]);
  return out;
}

/** Offset of the first depth-0 match of `re` at a word start in masked[start, end), or -1. */
export function topLevelMatch(masked: string, start: number, end: number, re: RegExp): number {
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = masked[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && (i === start || !/[\w$]/.test(masked[i - 1]!)) && re.test(masked.slice(i, end)))
      return i;
  }
  return -1;
}

/** The sort keys (client text, ASC/DESC and NULLS FIRST/LAST dropped) of the ORDER BY at `orderAt`. */
export function orderByKeys(sql: string, masked: string, orderAt: number, end: number): string[] {
  const listStart = orderAt + /^order\s+by/i.exec(masked.slice(orderAt))![0].length;
  return splitTopLevel(masked, listStart, end).map(([a, b]) => {
    const m = SORT_DIRECTION.exec(masked.slice(a, b));
    return sql.slice(a, m ? b - m[0].length : b).trim();
  });
}
