// Per-shard SQL for a scatter read, when it must differ from the client's: LIMIT n OFFSET m
// becomes LIMIT n+m (or no LIMIT/OFFSET for grouped results, merged first), and avg(x) becomes
// sum(x) with count(x) appended to the select list. libpg-query (WASM) cannot deparse, so this is
// a textual rewrite guided by parse-tree locations over a masked copy of the text (strings and
// comments blanked by the fingerprint tokenizer's spans, so no keyword inside them is matched).
import { parseSync } from 'libpg-query';
import type { ScatterRewrite } from './facts.js';
import { blockCommentEnd, fingerprint } from './fingerprint.js';
import { isType, list, type Node, nodeType } from './pg-ast.js';
import { havingCalls } from './pg-having.js';
import {
  aggregateCallExtent,
  clauseEnd,
  type Edit,
  groupEnd,
  HAVING_ENDS,
  neutralHaving,
  scatterUnsupported,
  selectListEnd,
  statementEnd,
  type Word,
} from './pg-masked-text.js';
import { programEdits } from './pg-program-rewrite.js';
import { setOperationSql } from './pg-set-operations.js';
import { windowEdits } from './pg-window-program.js';

/** The text with literals as runs of '0' and comments as spaces (same length, same offsets). */
export function maskSql(sql: string): string {
  const lits = fingerprint(sql).literals;
  let out = '';
  let i = 0;
  let next = 0;
  while (i < sql.length) {
    const lit = lits[next];
    if (lit && lit.offset === i) {
      out += '0'.repeat(lit.end - lit.offset);
      i = lit.end;
      next++;
      continue;
    }
    const c = sql[i]!;
    if (c === '"') {
      let j = sql.indexOf('"', i + 1);
      while (j >= 0 && sql[j + 1] === '"') j = sql.indexOf('"', j + 2);
      const end = j < 0 ? sql.length : j + 1;
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      const end = nl < 0 ? sql.length : nl;
      out += ' '.repeat(end - i);
      i = end;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = blockCommentEnd(sql, i);
      const j = end < 0 ? sql.length : end;
      out += ' '.repeat(j - i);
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** Words (and literal runs) at parenthesis depth 0 of a masked text. */
function topLevelWords(masked: string): Word[] {
  const out: Word[] = [];
  let depth = 0;
  let i = 0;
  while (i < masked.length) {
    const c = masked[i]!;
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === '"') {
      const j = masked.indexOf('"', i + 1);
      i = j < 0 ? masked.length : j + 1;
      continue;
    } else if (/[A-Za-z_0-9$]/.test(c)) {
      let j = i + 1;
      while (j < masked.length && /[A-Za-z_0-9$.]/.test(masked[j]!)) j++;
      if (depth === 0) out.push({ word: masked.slice(i, j).toLowerCase(), start: i, end: j });
      i = j;
      continue;
    }
    i++;
  }
  return out;
}

/** The statement text each shard runs, given the planner's ScatterRewrite. One SELECT only. */
export function rewriteForScatter(sql: string, rewrite: ScatterRewrite): string {
  const masked = maskSql(sql);
  const words = topLevelWords(masked);
  if (rewrite.setOps !== undefined) return setOperationSql(sql, masked, words, rewrite.setOps);
  // A top-level UNION's LIMIT/OFFSET (after its last branch) applies to the whole union.
  if (words.some((w) => w.word === 'intersect' || w.word === 'except'))
    throw scatterUnsupported('INTERSECT/EXCEPT cannot be rewritten per shard');
  if (
    words.some((w) => w.word === 'union') &&
    (rewrite.avgColumns.length > 0 || (rewrite.statColumns?.length ?? 0) > 0)
  )
    throw scatterUnsupported('aggregates in a UNION cannot be rewritten per shard');
  if (words.some((w) => w.word === 'fetch'))
    throw scatterUnsupported('FETCH FIRST across shards (use LIMIT)');
  const edits: Edit[] = [];
  const limitClauseEnd = (at: number): number => {
    // LIMIT/OFFSET, its value (5, $1::bigint, (5), ALL), then ROW/ROWS for OFFSET
    let j = words[at]!.end;
    while (j < masked.length && /\s/.test(masked[j]!)) j++;
    while (j < masked.length && !/[\s;]/.test(masked[j]!))
      j = masked[j] === '(' ? groupEnd(masked, j) : j + 1;
    const rows = /^\s+rows?\b/i.exec(masked.slice(j));
    return rows ? j + rows[0].length : j;
  };
  const limitAt = words.findIndex((w) => w.word === 'limit');
  const offsetAt = words.findIndex((w) => w.word === 'offset');
  const tail = statementEnd(masked);
  // A removed LIMIT/OFFSET value that holds a parameter stays referenced as a NULL (no limit,
  // no offset): the client's Bind supplies every parameter, the shard's Parse must expect them.
  const kept = (at: number): string | null => {
    const value = sql
      .slice(words[at]!.end, limitClauseEnd(at))
      .replace(/\s+rows?\s*$/i, '')
      .trim();
    return masked.slice(words[at]!.end, limitClauseEnd(at)).includes('$')
      ? `(CASE WHEN false THEN (${value})::bigint END)`
      : null;
  };
  if (limitAt >= 0) {
    const param = kept(limitAt);
    edits.push({
      start: words[limitAt]!.start,
      end: limitClauseEnd(limitAt),
      text:
        rewrite.limit === null
          ? param
            ? `LIMIT ${param}`
            : ''
          : param
            ? `LIMIT least(${rewrite.limit}, ${param})`
            : `LIMIT ${rewrite.limit}`,
    });
  } else if (rewrite.limit !== null) {
    edits.push({ start: tail, end: tail, text: ` LIMIT ${rewrite.limit}` });
  }
  if (offsetAt >= 0) {
    const param = kept(offsetAt);
    edits.push({
      start: words[offsetAt]!.start,
      end: limitClauseEnd(offsetAt),
      text: param ? `OFFSET ${param}` : '',
    });
  }
  if (rewrite.program) edits.push(...programEdits(sql, masked, words, parsedSelect(sql)));
  if (rewrite.windows) edits.push(...windowEdits(sql, masked, words, parsedSelect(sql)));
  if (rewrite.avgColumns.length > 0 || (rewrite.statColumns?.length ?? 0) > 0 || rewrite.having)
    edits.push(
      ...aggregateEdits(
        sql,
        masked,
        words,
        rewrite.avgColumns,
        rewrite.statColumns ?? [],
        rewrite.having === true,
      ),
    );
  // Right to left; of two edits at one offset the later one first, so its text ends up after.
  const ordered = edits.map((e, i) => ({ ...e, i })).sort((a, b) => b.start - a.start || b.i - a.i);
  let out = sql;
  for (const e of ordered) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** The first statement of `sql`; one that does not parse cannot be rewritten (`failure` says what). */
function firstStatement(sql: string, failure: string): unknown {
  let tree: { stmts?: Array<{ stmt?: unknown }> };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch {
    throw scatterUnsupported(failure);
  }
  return tree.stmts?.[0]?.stmt;
}

function parsedSelect(sql: string): Node {
  const select = isType(firstStatement(sql, 'aggregates in a statement that does not parse'), 'SelectStmt');
  if (!select) throw scatterUnsupported('aggregates outside a SELECT');
  return select;
}

/**
 * avg(x) -> sum(x) AS avg in place (the client's name kept), count(x) appended at the end of the
 * select list; for stddev/variance(x), count(x), sum(x::numeric), sum(x::numeric * x::numeric)
 * appended after the counts. FILTER clauses go along with each appended aggregate.
 */
function aggregateEdits(
  sql: string,
  masked: string,
  words: Word[],
  avgColumns: number[],
  statColumns: number[],
  having: boolean,
) {
  const select = isType(firstStatement(sql, 'avg() in a statement that does not parse'), 'SelectStmt');
  const targets = list(select?.targetList);
  const edits: Edit[] = [];
  const appended: string[] = [];
  const call = (column: number | Node) => {
    const target =
      typeof column === 'number' ? isType(targets[column], 'ResTarget') : { val: { FuncCall: column } };
    const t = nodeType(target?.val);
    if (t?.[0] !== 'FuncCall') throw scatterUnsupported('an aggregate under a cast or inside an expression');
    // agg(x) FILTER (WHERE ...): the appended aggregates keep the filter.
    const { loc, open, argsEnd, end } = aggregateCallExtent(masked, t[1].location);
    return {
      loc,
      open,
      argsEnd,
      args: sql.slice(open + 1, argsEnd - 1),
      filter: sql.slice(argsEnd, end),
      named: typeof target?.name === 'string',
      end,
    };
  };
  for (const column of avgColumns) {
    const c = call(column);
    edits.push({ start: c.loc, end: c.open, text: 'sum' });
    if (!c.named) edits.push({ start: c.end, end: c.end, text: ' AS avg' });
    appended.push(`count(${c.args})${c.filter}`);
  }
  for (const column of statColumns) {
    const c = call(column);
    const x = `(${c.args})::numeric`;
    appended.push(`count(${c.args})${c.filter}`, `sum(${x})${c.filter}`, `sum(${x} * ${x})${c.filter}`);
  }
  if (having) {
    // HAVING's aggregates go to the end of the list; the clause itself is evaluated by the merge.
    const calls = havingCalls(select?.havingClause);
    if (calls === null) throw scatterUnsupported('HAVING that the merge cannot evaluate');
    for (const f of calls) {
      const c = call(f);
      appended.push(sql.slice(c.loc, c.end));
    }
    const at = words.findIndex((w) => w.word === 'having');
    if (at < 0) throw scatterUnsupported('HAVING whose clause cannot be located');
    const end = clauseEnd(masked, words, at, HAVING_ENDS);
    edits.push({ start: words[at]!.start, end, text: neutralHaving(sql, masked, words[at]!.end, end) });
  }
  const at = selectListEnd(masked, words);
  edits.push({ start: at, end: at, text: `, ${appended.join(', ')}` });
  return edits;
}
