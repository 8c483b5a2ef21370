// The two texts of a PostgreSQL cross-shard join (src/executor/broadcast-join.ts): the fetch of
// the detached occurrence's rows, and the statement with those rows in its place. A table
// becomes `(VALUES (...), ...) AS alias(columns)`, an IN subquery a list of values; every value
// is cast to the type (and type modifier) its column had, so the statement types, compares and
// describes its result as it would over the table. libpg-query cannot deparse: the edits are
// textual, located by parse-tree offsets on the masked text (literals and comments blanked).
import { parseSync } from 'libpg-query';
import { ShardgateError } from '../errors.js';
import type { ColumnInfo, Row } from '../executor/rows.js';
import { isType, type Node } from './pg-ast.js';
import { type DetachSite, detachSites } from './pg-detach-sites.js';
import { groupEnd } from './pg-masked-text.js';
import { maskSql } from './scatter-rewrite.js';

export interface BroadcastSql {
  /** The read that returns the detached occurrence's rows (all columns, or the IN's one). */
  fetchSql: string;
  /** The statement with `rows` (of `columns`, as the fetch described them) in its place. */
  residualSql(columns: ColumnInfo[], rows: Row[]): string;
}

const TYPE_NAMES: Record<number, string> = {
  16: 'boolean',
  17: 'bytea',
  19: 'name',
  20: 'bigint',
  21: 'smallint',
  23: 'integer',
  25: 'text',
  26: 'oid',
  114: 'json',
  700: 'real',
  701: 'double precision',
  1042: 'character',
  1043: 'character varying',
  1082: 'date',
  1083: 'time',
  1114: 'timestamp',
  1184: 'timestamptz',
  1186: 'interval',
  1700: 'numeric',
  2950: 'uuid',
  3802: 'jsonb',
};

/** The SQL type of a result column, with its modifier (varchar(n), numeric(p,s), timestamp(p)). */
export function pgTypeName(column: ColumnInfo, table: string): string {
  const name = TYPE_NAMES[column.typeOid];
  if (!name)
    throw new ShardgateError('JOIN_NOT_BROADCASTABLE', {
      table,
      detail: `column ${column.name} has type oid ${column.typeOid}, which the proxy does not put back into SQL`,
    });
  const mod = column.typeModifier ?? -1;
  if (mod < 0) return name;
  if (column.typeOid === 1042 || column.typeOid === 1043) return `${name}(${mod - 4})`;
  if (column.typeOid === 1700) return `numeric(${(mod - 4) >> 16},${(mod - 4) & 0xffff})`;
  if (column.typeOid === 1114 || column.typeOid === 1184 || column.typeOid === 1083)
    return column.typeOid === 1184 ? `timestamp(${mod}) with time zone` : `${name}(${mod})`;
  return name;
}

function quoteText(text: string): string {
  const body = text.replace(/'/g, "''");
  // E'' reads backslashes the same whatever standard_conforming_strings says.
  return text.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

function cell(value: Buffer | null, type: string): string {
  return value === null ? `NULL::${type}` : `${quoteText(value.toString('utf8'))}::${type}`;
}

/** Byte offset (libpg-query's locations) to string index. */
function charIndex(sql: string, byteOffset: number): number {
  return Buffer.from(sql, 'utf8').subarray(0, byteOffset).toString('utf8').length;
}

export function pgBroadcastSql(sql: string, siteIndex: number): BroadcastSql {
  const tree = parseSync(sql) as { stmts?: Array<{ stmt?: unknown }> };
  const body = isType(tree.stmts?.[0]?.stmt, 'SelectStmt') as Node | null;
  const site: DetachSite | undefined = body ? detachSites(body)[siteIndex] : undefined;
  if (!site)
    throw new ShardgateError('INTERNAL', { detail: 'the cross-shard join site is gone from the text' });
  const masked = maskSql(sql);
  const at = charIndex(sql, site.location);
  if (site.form === 'in-subquery') {
    const open = masked.indexOf('(', at);
    const end = open < 0 ? -1 : groupEnd(masked, open);
    if (open < 0 || masked[end - 1] !== ')')
      throw new ShardgateError('INTERNAL', { detail: 'the IN subquery could not be located' });
    return {
      fetchSql: sql.slice(open + 1, end - 1),
      residualSql: (columns, rows) => {
        const type = pgTypeName(columns[0]!, site.table);
        // An empty list is not SQL; an empty subquery of the same type keeps IN / NOT IN right.
        const list =
          rows.length === 0
            ? `(SELECT NULL::${type} WHERE false)`
            : `(${rows.map((r) => cell(r[0] ?? null, type)).join(', ')})`;
        return sql.slice(0, open) + list + sql.slice(end);
      },
    };
  }
  const name = /^(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*))*/.exec(
    masked.slice(at),
  );
  if (!name) throw new ShardgateError('INTERNAL', { detail: 'the joined table could not be located' });
  let end = at + name[0].length;
  const alias = /^\s+(?:as\s+)?(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)/i.exec(masked.slice(end));
  const aliased =
    alias &&
    alias[0]
      .trim()
      .replace(/^as\s+/i, '')
      .replace(/^"|"$/g, '') === site.alias;
  if (aliased) end += alias[0].length;
  const reference = sql.slice(at, end);
  return {
    fetchSql: `SELECT * FROM ${reference}`,
    residualSql: (columns, rows) => {
      const types = columns.map((c) => pgTypeName(c, site.table));
      const names = columns.map((c) => quoteIdent(c.name)).join(', ');
      const values =
        rows.length === 0
          ? `(SELECT ${types.map((t) => `NULL::${t}`).join(', ')} WHERE false)`
          : `(VALUES ${rows.map((r) => `(${r.map((v, i) => cell(v, types[i]!)).join(', ')})`).join(', ')})`;
      return `${sql.slice(0, at)}${values} AS ${quoteIdent(site.alias)}(${names})${sql.slice(end)}`;
    },
  };
}
