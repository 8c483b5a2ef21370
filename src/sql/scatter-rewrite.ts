// Per-shard SQL for a scatter read, when it must differ from the client's: LIMIT n OFFSET m
// becomes LIMIT n+m (or no LIMIT/OFFSET for grouped results, merged first), and avg(x) becomes
// sum(x) with count(x) appended to the select list. libpg-query cannot deparse, so this is a
// textual rewrite guided by parse-tree locations and a top-level token scan.
import { parseSync } from 'libpg-query';
import { ShardgateError } from '../errors.js';
import type { ScatterRewrite } from '../router/plan.js';
import { skipToken } from './insert-rows.js';

interface TopToken {
  word: string;
  start: number;
  end: number;
}

/** Words and punctuation at parenthesis depth 0, outside strings and comments. */
function topLevelTokens(sql: string): TopToken[] {
  const out: TopToken[] = [];
  let depth = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '(') {
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      depth--;
      i++;
      continue;
    }
    if (/[A-Za-z_$0-9]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z_$0-9.]/.test(sql[j]!)) j++;
      if (depth === 0) out.push({ word: sql.slice(i, j).toLowerCase(), start: i, end: j });
      i = j;
      continue;
    }
    const next = skipToken(sql, i);
    if (depth === 0 && next > i + 1 && (c === "'" || c === '$')) out.push({ word: '?', start: i, end: next });
    i = next;
  }
  return out;
}

const CLAUSE_WORDS = new Set([
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
  'union',
  'intersect',
  'except',
]);

export function rewriteForScatter(sql: string, rewrite: ScatterRewrite): string {
  const edits: Array<{ start: number; end: number; text: string }> = [];
  const tokens = topLevelTokens(sql);
  // LIMIT / OFFSET clauses (the last ones at top level).
  const limitAt = tokens.findIndex((t) => t.word === 'limit');
  const offsetAt = tokens.findIndex((t) => t.word === 'offset');
  if (tokens.some((t) => t.word === 'fetch')) {
    throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'FETCH FIRST across shards (use LIMIT)' });
  }
  const clauseEnd = (at: number): number => {
    // keyword, value, optional ROW/ROWS
    let j = at + 1;
    const value = tokens[j];
    if (!value) return tokens[at]!.end;
    let end = value.end;
    if (tokens[j + 1] && (tokens[j + 1]!.word === 'row' || tokens[j + 1]!.word === 'rows'))
      end = tokens[++j]!.end;
    return end;
  };
  if (limitAt >= 0) {
    edits.push({
      start: tokens[limitAt]!.start,
      end: clauseEnd(limitAt),
      text: rewrite.limit === null ? '' : `LIMIT ${rewrite.limit}`,
    });
  } else if (rewrite.limit !== null && offsetAt >= 0) {
    edits.push({ start: sql.length, end: sql.length, text: ` LIMIT ${rewrite.limit}` });
  }
  if (offsetAt >= 0) edits.push({ start: tokens[offsetAt]!.start, end: clauseEnd(offsetAt), text: '' });
  if (rewrite.avgColumns.length > 0) {
    const tree = parseSync(sql) as { stmts: Array<{ stmt: { SelectStmt?: { targetList: unknown[] } } }> };
    const targets = tree.stmts[0]?.stmt.SelectStmt?.targetList ?? [];
    const counts: string[] = [];
    for (const column of rewrite.avgColumns) {
      const rt = (targets[column] as { ResTarget?: { val?: { FuncCall?: { location: number } } } })
        ?.ResTarget;
      const loc = rt?.val?.FuncCall?.location;
      if (loc === undefined)
        throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'avg() whose call cannot be located' });
      const open = sql.indexOf('(', loc);
      let depth = 0;
      let close = open;
      for (let i = open; i < sql.length; i = skipToken(sql, i)) {
        if (sql[i] === '(') depth++;
        else if (sql[i] === ')' && --depth === 0) {
          close = i;
          break;
        }
      }
      edits.push({ start: loc, end: open, text: 'sum' });
      counts.push(`count${sql.slice(open, close + 1)}`);
    }
    const selectAt = tokens.findIndex((t) => t.word === 'select');
    const endOfList = tokens.slice(selectAt + 1).find((t) => CLAUSE_WORDS.has(t.word));
    const at = (endOfList ? sql.slice(0, endOfList.start) : sql).replace(/[\s;]+$/, '').length;
    edits.push({ start: at, end: at, text: `, ${counts.join(', ')}` });
  }
  edits.sort((a, b) => b.start - a.start);
  let out = sql;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
