// Text rewrites of MySQL statements for multi-shard execution, guided by the MySQL lexer's tokens
// (so nothing inside strings, comments or backticks is touched):
//   - `?` placeholders replaced by the execution's values as literals, so a prepared statement
//     can run on every shard as one text query;
//   - a multi-row INSERT reduced to some of its VALUES rows (one part per shard).
import { ShardgateError } from '../../errors.js';
import { fingerprintMysql, type Token } from '../../sql/mysql/fingerprint-mysql.js';
import { T } from '../../sql/mysql/mysql-lexer.js';

/** A parameter's text and whether it was bound with a numeric type (inlined unquoted). */
export interface InlineValue {
  text: string | null;
  numeric: boolean;
}

const NUMBER_RE = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** A value as a MySQL literal that reads the same with or without NO_BACKSLASH_ESCAPES. */
export function sqlLiteral(v: InlineValue): string {
  if (v.text === null) return 'NULL';
  if (v.numeric && NUMBER_RE.test(v.text)) return v.text;
  if (/[\\\u0000-\u001f]/.test(v.text)) return `_utf8mb4 X'${Buffer.from(v.text, 'utf8').toString('hex')}'`;
  return `'${v.text.replace(/'/g, "''")}'`;
}

function tokensOf(sql: string): Token[] {
  const statements: Token[][] = [];
  fingerprintMysql(sql, statements);
  if (statements.length !== 1) {
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail: 'a multi-shard statement must be exactly one statement',
    });
  }
  return statements[0]!;
}

/** The text with every `?` (numbered in text order) replaced by its value. */
export function inlineParams(sql: string, values: readonly InlineValue[]): string {
  const params = tokensOf(sql).filter((t) => t.type === T.PARAM);
  if (params.length === 0) return sql;
  let out = '';
  let at = 0;
  for (const t of params) {
    const v = values[t.param - 1];
    if (!v)
      throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: `placeholder ${t.param} has no value` });
    out += sql.slice(at, t.start) + sqlLiteral(v);
    at = t.end;
  }
  return out + sql.slice(at);
}

/**
 * INSERT/REPLACE ... VALUES (...), (...) ... with only the rows at `rows` (0-based), parameters
 * inlined. What follows the rows (ON DUPLICATE KEY UPDATE, AS alias, RETURNING) stays.
 */
export function inlineInsertRowsMysql(
  sql: string,
  rows: number[],
  values: readonly InlineValue[],
  fill?: { column: string; values: string[] },
): string {
  const toks = tokensOf(sql);
  const valuesAt = toks.findIndex((t) => t.type === T.WORD && (t.text === 'values' || t.text === 'value'));
  if (valuesAt < 0) {
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail: 'only INSERT ... VALUES can be split across shards',
    });
  }
  const spans: Array<[number, number]> = [];
  let i = valuesAt + 1;
  for (;;) {
    if (toks[i]?.type !== T.LPAREN) break;
    let depth = 0;
    let j = i;
    for (; j < toks.length; j++) {
      if (toks[j]!.type === T.LPAREN) depth++;
      else if (toks[j]!.type === T.RPAREN && --depth === 0) break;
    }
    if (j >= toks.length)
      throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'an unterminated VALUES row' });
    spans.push([i, j]);
    if (toks[j + 1]?.type !== T.COMMA) {
      i = j + 1;
      break;
    }
    i = j + 2;
  }
  if (spans.length === 0)
    throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'an INSERT without VALUES rows' });
  const firstStart = toks[spans[0]![0]]!.start;
  const lastEnd = toks[spans[spans.length - 1]![1]]!.end;
  const piece = (from: number, to: number) => inlineRange(sql, toks, from, to, values);
  const body = rows.map((r) => {
    const span = spans[r];
    if (!span) throw new ShardgateError('INTERNAL', { detail: `INSERT row ${r} does not exist` });
    if (!fill) return piece(toks[span[0]]!.start, toks[span[1]]!.end);
    // The table's id column filled in by shardgate: one more value before the row's `)`.
    const id = fill.values[r];
    if (!id || !/^\d+$/.test(id)) throw new ShardgateError('INTERNAL', { detail: `no id for row ${r}` });
    return `${piece(toks[span[0]]!.start, toks[span[1]]!.start)}, ${id})`;
  });
  let head = piece(0, firstStart);
  if (fill) {
    // `INSERT INTO t (a, b) VALUES`: the column list ends right before VALUES.
    const close = toks[valuesAt - 1];
    if (close?.type !== T.RPAREN)
      throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'an INSERT without a column list' });
    const column = `\`${fill.column.replaceAll('`', '``')}\``;
    head = `${piece(0, close.start)}, ${column}${piece(close.start, firstStart)}`;
  }
  return `${head}${body.join(', ')}${piece(lastEnd, sql.length)}`;
}

/** sql[from, to) with the placeholders inside it inlined. */
function inlineRange(
  sql: string,
  toks: readonly Token[],
  from: number,
  to: number,
  values: readonly InlineValue[],
): string {
  let out = '';
  let at = from;
  for (const t of toks) {
    if (t.type !== T.PARAM || t.start < from || t.end > to) continue;
    const v = values[t.param - 1];
    if (!v)
      throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: `placeholder ${t.param} has no value` });
    out += sql.slice(at, t.start) + sqlLiteral(v);
    at = t.end;
  }
  return out + sql.slice(at, to);
}
