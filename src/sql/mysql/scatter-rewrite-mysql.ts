// Per-shard SQL for a MySQL scatter read, the counterpart of src/sql/scatter-rewrite.ts with the
// same signature so the router can be given the dialect's function: LIMIT [m,] n / LIMIT n
// OFFSET m becomes LIMIT n+m (or no LIMIT for grouped results, which the merge limits), and
// avg(x) becomes sum(x) (aliased to the name the client expects) with count(x) appended to the
// select list, and HAVING is dropped with its aggregates appended after those. The edit is textual, guided
// by the MySQL lexer's tokens, so keywords inside strings, comments and backticks never match.
// A `?` inside the replaced LIMIT disappears with it: the planner already used its value.
import sqlParser from 'node-sql-parser/build/mysql.js';
import { ShardgateError } from '../../errors.js';
import type { ScatterRewrite } from '../facts.js';
import { fingerprintMysql, type Token } from './fingerprint-mysql.js';
import type { Node } from './mysql-ast.js';
import { HAVING_ENDS, SELECT_LIST_ENDS } from './mysql-clause-ends.js';
import { HAVING_AGGREGATES } from './mysql-having.js';
import { T } from './mysql-lexer.js';
import { mysqlWindowProgram, windowHiddenColumns } from './mysql-window-program.js';
import { buildParseText, groupEnd } from './parse-text.js';

const parser = new sqlParser.Parser();

interface Edit {
  start: number;
  end: number;
  text: string;
}

function unsupported(detail: string): ShardgateError {
  return new ShardgateError('SCATTER_UNSUPPORTED', { detail });
}

/** Indexes of the tokens at parenthesis depth 0. */
function topLevel(toks: readonly Token[]): number[] {
  const out: number[] = [];
  let depth = 0;
  toks.forEach((t, i) => {
    if (t.type === T.LPAREN) depth++;
    else if (t.type === T.RPAREN) depth--;
    else if (depth === 0) out.push(i);
  });
  return out;
}

const isWordTok = (t: Token | undefined, w: string) => t !== undefined && t.type === T.WORD && t.text === w;
const isValueTok = (t: Token | undefined) =>
  t !== undefined && (t.literal >= 0 || t.type === T.PARAM || t.type === T.NUMBER);

/** Token index just past `LIMIT v [, v | OFFSET v]` starting at i. */
function limitClauseEnd(toks: readonly Token[], i: number): number {
  let j = i + 1;
  if (!isValueTok(toks[j])) throw unsupported('a LIMIT that is not a number or placeholder');
  j++;
  if (toks[j]?.type === T.COMMA || isWordTok(toks[j], 'offset')) {
    if (!isValueTok(toks[j + 1])) throw unsupported('an OFFSET that is not a number or placeholder');
    j += 2;
  }
  return j;
}

const SELECT_MODIFIERS = new Set([
  'all',
  'distinct',
  'distinctrow',
  'high_priority',
  'straight_join',
  'sql_small_result',
  'sql_big_result',
  'sql_buffer_result',
  'sql_no_cache',
  'sql_cache',
  'sql_calc_found_rows',
]);

/** Token range of the top-level select list: [first item, end). */
function selectList(
  toks: readonly Token[],
  top: number[],
  what: string,
): { selectAt: number; from: number; listEnd: number } {
  const selectAt = top.find((i) => isWordTok(toks[i], 'select'));
  if (selectAt === undefined) throw unsupported(`${what} outside a plain SELECT`);
  let from = selectAt + 1;
  while (toks[from]?.type === T.WORD && SELECT_MODIFIERS.has(toks[from]!.text)) from++;
  const listEnd =
    top.find((i) => i > selectAt && toks[i]!.type === T.WORD && SELECT_LIST_ENDS.has(toks[i]!.text)) ??
    toks.length;
  return { selectAt, from, listEnd };
}

/**
 * HAVING removed (the merge evaluates it) and its count()/sum() calls appended to the select list,
 * in text order (mysql-having.ts numbers the hidden columns the same way).
 */
function havingEdits(sql: string, toks: readonly Token[], top: number[]): Edit[] {
  const at = top.find((i) => isWordTok(toks[i], 'having'));
  if (at === undefined) throw unsupported('HAVING whose clause cannot be located');
  const end =
    top.find((i) => i > at && toks[i]!.type === T.WORD && HAVING_ENDS.has(toks[i]!.text)) ?? toks.length;
  const calls: string[] = [];
  for (let i = at + 1; i < end; i++) {
    const t = toks[i]!;
    if (t.type === T.WORD && HAVING_AGGREGATES.has(t.text) && toks[i + 1]?.type === T.LPAREN) {
      const close = groupEnd(toks, i + 1);
      calls.push(sql.slice(t.start, toks[close - 1]!.end));
      i = close - 1;
    }
  }
  if (calls.length === 0) throw unsupported('HAVING without count() or sum()');
  const { listEnd } = selectList(toks, top, 'HAVING');
  const removeTo = end < toks.length ? toks[end]!.start : toks[end - 1]!.end;
  const listAt = toks[listEnd - 1]!.end;
  return [
    { start: toks[at]!.start, end: removeTo, text: '' },
    { start: listAt, end: listAt, text: `, ${calls.join(', ')}` },
  ];
}

/**
 * The aggregate program's per-shard SELECT: its hidden columns appended to the select list and
 * HAVING removed (the merge evaluates outputs and HAVING over the combined partials).
 */
function programEdits(toks: readonly Token[], top: number[], columns: string[]): Edit[] {
  const edits: Edit[] = [];
  const at = top.find((i) => isWordTok(toks[i], 'having'));
  if (at !== undefined) {
    const end =
      top.find((i) => i > at && toks[i]!.type === T.WORD && HAVING_ENDS.has(toks[i]!.text)) ?? toks.length;
    const removeTo = end < toks.length ? toks[end]!.start : toks[end - 1]!.end;
    edits.push({ start: toks[at]!.start, end: removeTo, text: '' });
  }
  const { listEnd } = selectList(toks, top, 'an aggregate program');
  const listAt = toks[listEnd - 1]!.end;
  if (columns.length > 0) edits.push({ start: listAt, end: listAt, text: `, ${columns.join(', ')}` });
  return edits;
}

/** avg(x) -> sum(x) in place, count(x) appended at the end of the select list. */
function avgEdits(sql: string, toks: readonly Token[], top: number[], columns: number[]): Edit[] {
  const { selectAt, from, listEnd } = selectList(toks, top, 'avg()');
  // Select-list items as token ranges split at top-level commas.
  const items: Array<[number, number]> = [];
  let start = from;
  for (const i of top) {
    if (i <= selectAt || i >= listEnd) continue;
    if (toks[i]!.type === T.COMMA) {
      items.push([start, i]);
      start = i + 1;
    }
  }
  items.push([start, listEnd]);
  const edits: Edit[] = [];
  const counts: string[] = [];
  for (const column of columns) {
    const item = items[column];
    if (!item) throw unsupported('avg() column not found in the select list');
    const [s, e] = item;
    const name = toks[s];
    if (!isWordTok(name, 'avg') || toks[s + 1]?.type !== T.LPAREN) {
      throw unsupported('avg() under a cast or inside an expression');
    }
    const close = groupEnd(toks, s + 1);
    // Only an alias may follow the call: `avg(x) AS a`, `avg(x) a`.
    const rest = e - close;
    const aliasOnly =
      rest === 0 ||
      (rest === 1 && toks[close]!.type !== T.OP) ||
      (rest === 2 && isWordTok(toks[close], 'as'));
    if (!aliasOnly) throw unsupported('avg() inside an expression');
    edits.push({ start: name!.start, end: name!.end, text: 'sum' });
    // Unaliased, MySQL names the column after the text as written: keep "avg(x)", not "sum(x)".
    if (rest === 0) {
      const written = sql.slice(name!.start, toks[close - 1]!.end).replace(/`/g, '``');
      const at = toks[close - 1]!.end;
      edits.push({ start: at, end: at, text: ` AS \`${written}\`` });
    }
    counts.push(`count${sql.slice(toks[s + 1]!.start, toks[close - 1]!.end)}`);
  }
  const at = toks[listEnd - 1]!.end;
  edits.push({ start: at, end: at, text: `, ${counts.join(', ')}` });
  return edits;
}

const SET_WORDS = new Set(['union', 'intersect', 'except', 'minus']);

/**
 * A set operation the proxy evaluates (src/executor/set-operations.ts), as
 * src/sql/pg-set-operations.ts does for PostgreSQL: every shard runs each leaf SELECT tagged with
 * its number, `SELECT *, <i> FROM (<leaf i>) AS sg_leaf<i>`, joined by UNION ALL; the statement's
 * own ORDER BY / LIMIT are left to the merge.
 */
function setOperationSqlMysql(sql: string, toks: readonly Token[], top: number[], leafCount: number): string {
  const words = top.filter((i) => toks[i]!.type === T.WORD && SET_WORDS.has(toks[i]!.text));
  const last = words.at(-1) ?? -1;
  const tail = top.find((i) => i > last && (isWordTok(toks[i], 'order') || isWordTok(toks[i], 'limit')));
  const end = tail ?? toks.length;
  const spans: Array<[number, number]> = [];
  let from = 0;
  for (const w of words) {
    spans.push([from, w]);
    from = isWordTok(toks[w + 1], 'all') || isWordTok(toks[w + 1], 'distinct') ? w + 2 : w + 1;
  }
  spans.push([from, end]);
  const texts = spans.map(([a, b]) => {
    while (b > a && toks[b - 1]!.type === T.SEMI) b--;
    return b > a ? sql.slice(toks[a]!.start, toks[b - 1]!.end) : '';
  });
  if (texts.length !== leafCount || texts.some((t) => t.trim() === ''))
    throw unsupported('a set operation whose branches cannot be located in the text');
  return texts.map((t, i) => `SELECT *, ${i} FROM (${t}) AS sg_leaf${i}`).join(' UNION ALL ');
}

/**
 * Windows evaluated by the proxy: their hidden columns appended to the select list (the count
 * checked against the analyzer's program, parsed again from the same text).
 */
function windowEdits(sql: string, toks: readonly Token[], top: number[]): Edit[] {
  const { from, listEnd } = selectList(toks, top, 'window functions');
  const commas = top.filter((i) => i >= from && i < listEnd && toks[i]!.type === T.COMMA);
  const list: Array<[number, number]> = [];
  let a = from;
  for (const c of [...commas, listEnd]) {
    list.push([a, c]);
    a = c + 1;
  }
  const windowAt = top.find((i) => isWordTok(toks[i], 'window')) ?? -1;
  const hidden = windowHiddenColumns(sql, toks, list, windowAt);
  const pt = buildParseText(sql, toks);
  let program: ReturnType<typeof mysqlWindowProgram> | null = null;
  try {
    const ast = pt ? parser.astify(pt.text, { database: 'MySQL' }) : null;
    const sel = Array.isArray(ast) ? ast[0] : ast;
    program = sel ? mysqlWindowProgram(sel as unknown as Node) : null;
  } catch {
    program = null;
  }
  if (!hidden || !program || typeof program === 'string' || hidden.length !== program.hiddenColumns)
    throw unsupported('window clauses that cannot be located in the text');
  if (hidden.length === 0) return [];
  const at = toks[listEnd - 1]!.end;
  return [{ start: at, end: at, text: `, ${hidden.join(', ')}` }];
}

/** The statement text each shard runs, given the planner's ScatterRewrite. One SELECT only. */
export function rewriteForScatterMysql(sql: string, rewrite: ScatterRewrite): string {
  const statements: Token[][] = [];
  fingerprintMysql(sql, statements);
  if (statements.length !== 1) throw unsupported('a scatter rewrite needs exactly one statement');
  const toks = statements[0]!.filter((t) => t.type !== T.EXEC_OPEN && t.type !== T.EXEC_CLOSE);
  if (toks.length === 0) throw unsupported('an empty statement cannot be rewritten per shard');
  const top = topLevel(toks);
  // A UNION's top-level LIMIT is the whole statement's: only that may change per shard.
  const setOp = top.some(
    (i) => ['union', 'intersect', 'except'].includes(toks[i]!.text) && toks[i]!.type === T.WORD,
  );
  if (rewrite.setOps !== undefined) return setOperationSqlMysql(sql, toks, top, rewrite.setOps);
  if (setOp && (rewrite.avgColumns.length > 0 || rewrite.having || rewrite.program)) {
    throw unsupported('a set operation cannot be rewritten per shard');
  }
  const edits: Edit[] = [];
  const limitAt = top.find((i) => isWordTok(toks[i], 'limit'));
  if (limitAt !== undefined) {
    const end = limitClauseEnd(toks, limitAt);
    edits.push({
      start: toks[limitAt]!.start,
      end: toks[end - 1]!.end,
      text: rewrite.limit === null ? '' : `LIMIT ${rewrite.limit}`,
    });
  } else if (rewrite.limit !== null) {
    // Before FOR UPDATE / LOCK IN SHARE MODE / INTO, else at the end.
    const tail = top.find((i) => ['for', 'lock', 'into'].includes(toks[i]!.text) && toks[i]!.type === T.WORD);
    const at = tail !== undefined ? toks[tail]!.start : toks[toks.length - 1]!.end;
    edits.push({
      start: at,
      end: at,
      text: tail !== undefined ? `LIMIT ${rewrite.limit} ` : ` LIMIT ${rewrite.limit}`,
    });
  }
  if (rewrite.program) edits.push(...programEdits(toks, top, rewrite.programColumns ?? []));
  if (rewrite.windows) edits.push(...windowEdits(sql, toks, top));
  if (rewrite.avgColumns.length > 0) edits.push(...avgEdits(sql, toks, top, rewrite.avgColumns));
  // After avg's counts: the merge expects HAVING's aggregates last among the hidden columns.
  if (rewrite.having) edits.push(...havingEdits(sql, toks, top));
  // From the end; of two insertions at one place the later-made goes in first, so it ends up after.
  const ordered = edits.map((e, i) => ({ e, i })).sort((a, b) => b.e.start - a.e.start || b.i - a.i);
  let out = sql;
  for (const { e } of ordered) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
