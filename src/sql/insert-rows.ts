// Splitting a multi-row INSERT across shards: the statement text with only some VALUES rows, and
// bind parameters inlined as literals so each part stands alone. libpg-query (v17, WASM) parses
// but cannot deparse, so this is a careful textual rewrite guided by the parse tree's locations.
import { parseSync } from 'libpg-query';
import { ShardgateError } from '../errors.js';
import { blockCommentEnd } from './fingerprint.js';

/** Index just past the quoted/commented token starting at `i`, or i + 1 for anything else. */
export function skipToken(sql: string, i: number): number {
  const c = sql[i];
  if ((c === 'E' || c === 'e') && sql[i + 1] === "'" && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? ' ')) {
    // E'...': a backslash escapes the next character (a quote too).
    let j = i + 2;
    while (j < sql.length) {
      const d = sql[j];
      if (d === '\\') j += 2;
      else if (d === "'" && sql[j + 1] === "'") j += 2;
      else if (d === "'") return j + 1;
      else j++;
    }
    return sql.length;
  }
  if (c === "'") {
    let j = i + 1;
    for (;;) {
      const q = sql.indexOf("'", j);
      if (q < 0) return sql.length;
      if (sql[q + 1] === "'") {
        j = q + 2;
        continue;
      }
      return q + 1;
    }
  }
  if (c === '"') {
    const q = sql.indexOf('"', i + 1);
    return q < 0 ? sql.length : q + 1;
  }
  if (c === '-' && sql[i + 1] === '-') {
    const nl = sql.indexOf('\n', i);
    return nl < 0 ? sql.length : nl + 1;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const end = blockCommentEnd(sql, i);
    return end < 0 ? sql.length : end;
  }
  if (c === '$') {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
    if (m) {
      const end = sql.indexOf(m[0], i + m[0].length);
      return end < 0 ? sql.length : end + m[0].length;
    }
  }
  return i + 1;
}

/** Finds the parenthesized row that contains position `inside`: [open, close]. */
function rowSpan(sql: string, from: number, inside: number): [number, number] {
  let open = -1;
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '(') {
      if (depth === 0 && i < inside) open = i;
      depth++;
      i++;
    } else if (c === ')') {
      depth--;
      if (depth === 0 && open >= 0 && i > inside) return [open, i];
      i++;
    } else {
      i = skipToken(sql, i);
    }
  }
  throw new ShardgateError('SCATTER_UNSUPPORTED', {
    detail: 'could not locate the VALUES rows of the INSERT',
  });
}

/** A literal that reads the same whatever standard_conforming_strings is (E'' when it has a backslash). */
function quoteLiteral(value: string): string {
  const quoted = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

/**
 * Replaces $n outside strings and comments with the parameter's value as a literal, followed by
 * `::casts[n-1]` when one is given (a parameter the client typed keeps its type).
 */
export function inlineParams(
  text: string,
  params: Array<string | null>,
  casts: Array<string | null> = [],
): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '$') {
      const m = /^\$(\d+)/.exec(text.slice(i, i + 12));
      if (m) {
        const n = Number(m[1]);
        const v = params[n - 1];
        const cast = casts[n - 1];
        out += `${v === null || v === undefined ? 'NULL' : quoteLiteral(v)}${cast ? `::${cast}` : ''}`;
        i += m[0].length;
        continue;
      }
    }
    const next = skipToken(text, i);
    out += text.slice(i, next);
    i = next;
  }
  return out;
}

/** The highest parameter number ($n) the statement text uses outside literals and comments (0: none). */
export function highestParam(text: string): number {
  let highest = 0;
  let i = 0;
  while (i < text.length) {
    if (text[i] === '$') {
      const m = /^\$(\d+)/.exec(text.slice(i, i + 12));
      if (m) {
        highest = Math.max(highest, Number(m[1]));
        i += m[0].length;
        continue;
      }
    }
    i = skipToken(text, i);
  }
  return highest;
}

/** A column added to every row: values[row] (integers, written as they are). */
export interface IdFill {
  column: string;
  values: string[];
}

/** Index of the `)` closing the column list whose last column starts at `last`. */
function columnListEnd(sql: string, last: number): number {
  let i = last;
  while (i < sql.length && sql[i] !== ')') i = skipToken(sql, i);
  if (i >= sql.length)
    throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'could not locate the INSERT column list' });
  return i;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function inlineInsertRows(
  sql: string,
  rows: number[],
  params: Array<string | null>,
  fill?: IdFill,
): string {
  const tree = parseSync(sql) as {
    stmts: Array<{
      stmt: {
        InsertStmt?: {
          cols?: Array<{ ResTarget?: { location?: number } }>;
          selectStmt?: { SelectStmt?: { valuesLists?: unknown[] } };
        };
      };
    }>;
  };
  const insert = tree.stmts[0]?.stmt.InsertStmt;
  const lists = insert?.selectStmt?.SelectStmt?.valuesLists as
    | Array<{ List: { items: Array<Record<string, { location?: number }>> } }>
    | undefined;
  if (!lists || lists.length === 0) {
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail: 'only INSERT ... VALUES can be split across shards',
    });
  }
  const spans: Array<[number, number]> = [];
  let from = 0;
  for (const list of lists) {
    const first = list.List.items[0];
    const loc = first ? Object.values(first)[0]?.location : undefined;
    if (loc === undefined)
      throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'a VALUES row without a located value' });
    const span = rowSpan(sql, from, loc);
    spans.push(span);
    from = span[1] + 1;
  }
  let head = sql.slice(0, spans[0]![0]);
  if (fill) {
    const cols = insert?.cols ?? [];
    const last = cols[cols.length - 1]?.ResTarget?.location;
    if (last === undefined)
      throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: 'an INSERT without a column list' });
    const end = columnListEnd(sql, last);
    head = `${sql.slice(0, end)}, ${quoteIdent(fill.column)}${sql.slice(end, spans[0]![0])}`;
  }
  const tail = sql.slice(spans[spans.length - 1]![1] + 1);
  const body = rows.map((r) => {
    const span = spans[r];
    if (!span) throw new ShardgateError('INTERNAL', { detail: `INSERT row ${r} does not exist` });
    const id = fill?.values[r];
    if (fill && !/^\d+$/.test(id ?? ''))
      throw new ShardgateError('INTERNAL', { detail: `no id for row ${r}` });
    return fill ? `${sql.slice(span[0], span[1])}, ${id})` : sql.slice(span[0], span[1] + 1);
  });
  return inlineParams(`${head}${body.join(', ')}${tail}`, params);
}
