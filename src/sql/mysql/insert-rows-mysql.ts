// Splitting a multi-row MySQL INSERT / REPLACE across shards, the counterpart of
// src/sql/insert-rows.ts (same signature): the statement text with only some VALUES rows, and
// `?` placeholders inlined as literals so each part stands alone. Guided by the MySQL lexer's
// tokens, so parentheses and `?` inside strings, comments and backticks are never touched.
import { ShardgateError } from '../../errors.js';
import { fingerprintMysql, type Token } from './fingerprint-mysql.js';
import { T } from './mysql-lexer.js';
import { afterTopLevelWord } from './mysql-tokens.js';
import { groupEnd } from './parse-text.js';

/**
 * A parameter as a MySQL string literal. Quotes are doubled (valid with and without
 * NO_BACKSLASH_ESCAPES); a backslash is escaped as the default sql_mode reads it.
 */
export function quoteMysqlLiteral(value: string): string {
  let body = value.replaceAll("'", "''");
  if (body.includes('\\')) body = body.replaceAll('\\', '\\\\');
  if (body.includes('\0')) body = body.replaceAll('\0', '\\0');
  return `'${body}'`;
}

/** Row groups [open token, past close token) of the top-level VALUES list. */
function rowGroups(toks: readonly Token[]): Array<[number, number]> {
  const at = afterTopLevelWord(toks, 'values', 'value');
  const rows: Array<[number, number]> = [];
  if (at < 0) return rows;
  let j = at;
  for (;;) {
    const row = toks[j]?.type === T.WORD && toks[j]!.text === 'row' ? j + 1 : j;
    if (toks[row]?.type !== T.LPAREN) break;
    const end = groupEnd(toks, row);
    rows.push([j, end]);
    if (toks[end]?.type !== T.COMMA) break;
    j = end + 1;
  }
  return rows;
}

export function inlineInsertRowsMysql(sql: string, rows: number[], params: Array<string | null>): string {
  const statements: Token[][] = [];
  fingerprintMysql(sql, statements);
  const toks = statements[0] ?? [];
  const first = toks.find((t) => t.type === T.WORD)?.text;
  const groups = first === 'insert' || first === 'replace' ? rowGroups(toks) : [];
  if (statements.length !== 1 || groups.length === 0) {
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail: 'only one INSERT ... VALUES can be split across shards',
    });
  }
  const tokenSpan = (from: number, to: number): [number, number] => [toks[from]!.start, toks[to - 1]!.end];
  const head: [number, number] = [0, toks[groups[0]![0]]!.start];
  const tail: [number, number] = [toks[groups[groups.length - 1]![1] - 1]!.end, sql.length];
  const placeholders = toks.filter((t) => t.type === T.PARAM);
  const copy = ([start, end]: [number, number]): string => {
    let out = '';
    let at = start;
    for (const p of placeholders) {
      if (p.start < start || p.end > end) continue;
      const v = params[p.param - 1];
      out += sql.slice(at, p.start) + (v === null || v === undefined ? 'NULL' : quoteMysqlLiteral(v));
      at = p.end;
    }
    return out + sql.slice(at, end);
  };
  const body = rows.map((r) => {
    const g = groups[r];
    if (!g) throw new ShardgateError('INTERNAL', { detail: `INSERT row ${r} does not exist` });
    return copy(tokenSpan(g[0], g[1]));
  });
  return `${copy(head)}${body.join(', ')}${copy(tail)}`;
}
