// The texts of a MySQL cross-shard join (src/executor/broadcast-join.ts): the fetch of the
// detached occurrence's rows, and the statement with those rows in its place. An IN subquery
// becomes a list of literals (numbers as written, text as hex with an introducer, so a column
// compared with them keeps its own collation). A table becomes JSON_TABLE over the rows with
// each column declared as the table declares it (type, character set, collation from
// information_schema), so the statement types, compares and orders its values as it would over
// the table. node-sql-parser cannot read JSON_TABLE: the statement is planned with a
// placeholder derived table in its place (`planSql`), which the runner swaps for the rows.
// The site is found again by re-reading the statement (mysql-detach-sites.ts) and located in
// its tokens: the AST has no locations.
import sqlParser from 'node-sql-parser/build/mysql.js';
import { ShardgateError } from '../../errors.js';
import type { Row } from '../../executor/rows.js';
import { fingerprintMysql, type Token } from './fingerprint-mysql.js';
import { FROM_LIST_ENDS } from './mysql-clause-ends.js';
import { type MysqlDetachSite, mysqlDetachSites } from './mysql-detach-sites.js';
import { T } from './mysql-lexer.js';
import { isWord, readName, skipAlias, wordAt } from './mysql-tokens.js';
import { buildParseText } from './parse-text.js';

const parser = new sqlParser.Parser();

/** A column as information_schema.COLUMNS describes it. */
export interface TableColumn {
  name: string;
  /** COLUMN_TYPE, e.g. `bigint(20)`, `varchar(100)`, `decimal(12,2)`, `timestamp(6)`. */
  type: string;
  charset: string | null;
  collation: string | null;
}

/** A column of the fetched rows: numeric ones are written as numbers, others as text. */
export interface FetchedColumn {
  numeric: boolean;
  binary: boolean;
}

export interface MysqlBroadcastSql {
  site: MysqlDetachSite;
  fetchSql: string;
  /** The statement with the rows in place (runs on the shards) and the same statement with a
   *  placeholder in their place (for the planner; equal for an IN list), and the text that
   *  replaces the placeholder once planned. */
  residual(
    rows: Row[],
    fetched: FetchedColumn[],
    table: TableColumn[] | null,
  ): { run: string; plan: string; rows?: string };
}

/** Column types JSON_TABLE can declare and take back from their text exactly. */
const JSON_TABLE_TYPES =
  /^(tinyint|smallint|mediumint|int|integer|bigint|decimal|numeric|float|double|char|varchar|tinytext|text|mediumtext|longtext|date|datetime|timestamp|time|year)\b[^'"`]*$/i;

export const PLACEHOLDER = '(SELECT 1 AS sg_detached_rows)';
const PLACEHOLDER_RE = /\(\s*select\s+1\s+as\s+sg_detached_rows\s*\)/gi;

/** `planned` (the planner's text, maybe rewritten) with the placeholder replaced by `rows`. */
export function swapPlaceholder(planned: string, rows: string, table: string): string {
  const found = planned.match(PLACEHOLDER_RE) ?? [];
  if (found.length !== 1)
    throw new ShardgateError('JOIN_NOT_BROADCASTABLE', {
      table,
      detail: 'the statement already contains the text the proxy marks the fetched rows with',
    });
  return planned.replace(PLACEHOLDER_RE, () => rows);
}

const hex = (b: Buffer) => `X'${b.toString('hex')}'`;
const NUMBER = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i;

function literal(value: Buffer | null, c: FetchedColumn): string {
  if (value === null) return 'NULL';
  const text = value.toString('latin1');
  if (c.numeric && NUMBER.test(text)) return text;
  return c.binary ? `_binary ${hex(value)}` : `_utf8mb4 ${hex(value)}`;
}

const quoteIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;

function notBroadcastable(table: string, detail: string): ShardgateError {
  return new ShardgateError('JOIN_NOT_BROADCASTABLE', { table, detail });
}

/** Index just past the group opening at `open`. */
function groupClose(toks: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < toks.length; i++) {
    if (toks[i]!.type === T.LPAREN) depth++;
    else if (toks[i]!.type === T.RPAREN && --depth === 0) return i;
  }
  return -1;
}

/** Top-level token ranges: [from, where) is the FROM list, where the WHERE keyword (or -1). */
function topLevel(toks: readonly Token[]): { from: number; fromEnd: number; where: number } {
  let depth = 0;
  let from = -1;
  let fromEnd = toks.length;
  let where = -1;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === T.LPAREN) depth++;
    else if (t.type === T.RPAREN) depth--;
    else if (depth === 0 && t.type === T.WORD) {
      if (from < 0 && t.text === 'from') from = i;
      else if (from >= 0 && fromEnd === toks.length && FROM_LIST_ENDS.has(t.text)) {
        fromEnd = i;
        if (t.text === 'where') where = i;
      }
    }
  }
  return { from, fromEnd, where };
}

export function mysqlBroadcastSql(sql: string, siteIndex: number): MysqlBroadcastSql {
  const lists: Token[][] = [];
  fingerprintMysql(sql, lists);
  const toks = lists[0] ?? [];
  const pt = buildParseText(sql, toks);
  let site: MysqlDetachSite | undefined;
  try {
    site = pt ? mysqlDetachSites(parser.astify(pt.text, { database: 'MySQL' }))[siteIndex] : undefined;
  } catch {
    site = undefined;
  }
  if (!site || lists.length !== 1)
    throw new ShardgateError('INTERNAL', { detail: 'the cross-shard join site is gone from the text' });
  const { from, fromEnd, where } = topLevel(toks);
  return site.form === 'in-subquery'
    ? inList(sql, toks, site, where)
    : tableRows(sql, toks, site, from, fromEnd);
}

function inList(
  sql: string,
  toks: readonly Token[],
  site: MysqlDetachSite,
  where: number,
): MysqlBroadcastSql {
  // The WHERE's `IN (SELECT` outside subqueries, in text order, as the analyzer numbered them.
  const opens: number[] = [];
  const subqueryParens: boolean[] = [];
  for (let i = where + 1; where >= 0 && i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === T.LPAREN) {
      const w = wordAt(toks, i + 1);
      if (!subqueryParens.includes(true) && isWord(toks[i - 1], 'in') && w === 'select') opens.push(i);
      subqueryParens.push(w === 'select' || w === 'with');
    } else if (t.type === T.RPAREN) subqueryParens.pop();
    else if (
      subqueryParens.length === 0 &&
      t.type === T.WORD &&
      FROM_LIST_ENDS.has(t.text) &&
      t.text !== 'where'
    )
      break;
  }
  const open = opens[site.ordinal];
  const close = open === undefined ? -1 : groupClose(toks, open);
  const fromAt = open === undefined ? -1 : toks.findIndex((t, i) => i > open && isWord(t, 'from'));
  if (open === undefined || close < 0 || readName(toks, fromAt + 1)?.name !== site.table)
    throw new ShardgateError('INTERNAL', { detail: 'the IN subquery could not be located' });
  const before = sql.slice(0, toks[open]!.start);
  const after = sql.slice(toks[close]!.end);
  return {
    site,
    fetchSql: sql.slice(toks[open + 1]!.start, toks[close]!.start),
    residual: (rows, fetched) => {
      const c = fetched[0] ?? { numeric: false, binary: false };
      // An empty list is not SQL; an empty subquery keeps IN false and NOT IN true.
      const list =
        rows.length === 0
          ? '(SELECT NULL FROM DUAL WHERE FALSE)'
          : `(${rows.map((r) => literal(r[0] ?? null, c)).join(', ')})`;
      const run = before + list + after;
      return { run, plan: run };
    },
  };
}

function tableRows(
  sql: string,
  toks: readonly Token[],
  site: MysqlDetachSite,
  from: number,
  fromEnd: number,
): MysqlBroadcastSql {
  const found: Array<{ start: number; end: number; alias: string }> = [];
  let depth = 0;
  for (let i = from; from >= 0 && i < fromEnd; i++) {
    const t = toks[i]!;
    if (t.type === T.LPAREN) depth++;
    else if (t.type === T.RPAREN) depth--;
    if (depth !== 0 || !(isWord(t, 'from') || isWord(t, 'join') || t.type === T.COMMA)) continue;
    const name = readName(toks, i + 1);
    if (!name || name.name !== site.table) continue;
    const alias = skipAlias(toks, name.end);
    if ((alias.alias ?? name.name) !== site.alias) continue;
    const next = wordAt(toks, alias.end);
    if (name.qualifier !== null && alias.alias === null)
      throw notBroadcastable(site.table, 'a schema-qualified table without an alias (give it an alias)');
    if (next === 'use' || next === 'force' || next === 'ignore' || next === 'partition')
      throw notBroadcastable(site.table, 'index hints or PARTITION on the joined table (drop them)');
    // The name the rest of the statement uses, spelled as the client spelled it.
    const last = alias.alias === null ? name.end - 1 : alias.end - 1;
    found.push({
      start: toks[i + 1]!.start,
      end: toks[alias.end - 1]!.end,
      alias: sql.slice(toks[last]!.start, toks[last]!.end),
    });
  }
  const at = found[0];
  if (!at || found.length !== 1)
    throw new ShardgateError('INTERNAL', { detail: 'the joined table could not be located' });
  const before = sql.slice(0, at.start);
  const after = sql.slice(at.end);
  return {
    site,
    fetchSql: `SELECT * FROM ${sql.slice(at.start, at.end)}`,
    residual: (rows, _fetched, table) => {
      if (!table || table.length === 0)
        throw notBroadcastable(
          site.table,
          'its column definitions could not be read from information_schema',
        );
      const columns = table.map((c, i) => {
        if (!JSON_TABLE_TYPES.test(c.type))
          throw notBroadcastable(
            site.table,
            `column ${c.name} has type ${c.type}, which the proxy does not put back into SQL`,
          );
        const text = c.charset && c.collation ? ` CHARACTER SET ${c.charset} COLLATE ${c.collation}` : '';
        return `${quoteIdent(c.name)} ${c.type}${text} PATH '$[${i}]'`;
      });
      const json = JSON.stringify(rows.map((r) => r.map((v) => (v === null ? null : v.toString('utf8')))));
      const rowsSql = `JSON_TABLE(_utf8mb4 ${hex(Buffer.from(json, 'utf8'))}, '$[*]' COLUMNS (${columns.join(', ')}))`;
      return {
        run: `${before}${rowsSql} AS ${at.alias}${after}`,
        plan: `${before}${PLACEHOLDER} AS ${at.alias}${after}`,
        rows: rowsSql,
      };
    },
  };
}
