// What the data plane needs to know about a moved table, read from the catalog: its qualified
// name, its columns in table order with their SQL types (generated columns excluded: they cannot
// be written and pgoutput does not send them) and its primary key. Statements are built from this
// with every value sent as text and cast to the column's type.
import type pg from 'pg';

export interface ColumnMeta {
  name: string;
  /** format_type() of the column, e.g. "bigint", "numeric(12,2)", "text[]". */
  type: string;
}

export interface TableMeta {
  /** The name the caller used (MovedTable.name). */
  table: string;
  schema: string;
  relname: string;
  /** Quoted, schema-qualified: "public"."users". */
  qualified: string;
  columns: ColumnMeta[];
  primaryKey: ColumnMeta[];
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export async function loadTableMeta(client: pg.Client, table: string): Promise<TableMeta> {
  const rel = await client.query<{ oid: string; nspname: string; relname: string }>(
    `SELECT c.oid::text AS oid, n.nspname, c.relname
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1::text)`,
    [table],
  );
  const row = rel.rows[0];
  if (!row) throw new Error(`table ${table} does not exist on the source`);
  const columns = await client.query<ColumnMeta>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type
       FROM pg_attribute
      WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
      ORDER BY attnum`,
    [row.oid],
  );
  const pk = await client.query<ColumnMeta>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1::oid AND i.indisprimary
      ORDER BY k.ord`,
    [row.oid],
  );
  if (pk.rows.length === 0)
    throw new Error(
      `table ${table} has no primary key: a live split needs one (keyset copy, idempotent apply); add a primary key first`,
    );
  return {
    table,
    schema: row.nspname,
    relname: row.relname,
    qualified: `${quoteIdent(row.nspname)}.${quoteIdent(row.relname)}`,
    columns: columns.rows,
    primaryKey: pk.rows,
  };
}

/** "id" or ("a", "b"): the primary key as a comparable expression. */
export function pkExpr(meta: TableMeta, alias?: string): string {
  const cols = meta.primaryKey.map((c) => (alias ? `${alias}.${quoteIdent(c.name)}` : quoteIdent(c.name)));
  return cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`;
}

/** "id" or "a", "b": the primary key columns for ORDER BY. */
export function pkOrder(meta: TableMeta, direction: '' | ' DESC' = ''): string {
  return meta.primaryKey.map((c) => `${quoteIdent(c.name)}${direction}`).join(', ');
}

/** $n::type or ($n::t1, $n+1::t2): key values as typed parameters starting at $first. */
export function pkParams(meta: TableMeta, first: number): string {
  const params = meta.primaryKey.map((c, i) => `$${first + i}::${c.type}`);
  return params.length === 1 ? params[0]! : `(${params.join(', ')})`;
}

/** "id" = $1::bigint AND ... : matches one row by key. */
export function pkEquals(meta: TableMeta, first: number): string {
  return meta.primaryKey.map((c, i) => `${quoteIdent(c.name)} = $${first + i}::${c.type}`).join(' AND ');
}

/** The key columns as text, for cursors: "id"::text AS k0, ... */
export function pkTextColumns(meta: TableMeta, alias?: string): string {
  return meta.primaryKey
    .map((c, i) => `${alias ? `${alias}.` : ''}${quoteIdent(c.name)}::text AS k${i}`)
    .join(', ');
}

/**
 * The next `limit` primary keys of the rows matching `where` (over alias t), in key order; with
 * `afterLast`, only keys past the last page's last key ($1..): keyset paging, no rescan.
 */
export function keysetPageSql(meta: TableMeta, where: string, afterLast: boolean, limit: number): string {
  const after = afterLast ? ` AND ${pkExpr(meta, 't')} > ${pkParams(meta, 1)}` : '';
  return `SELECT ${pkOrder(meta)} FROM ${meta.qualified} t WHERE ${where}${after} ORDER BY ${pkOrder(meta)} LIMIT ${limit}`;
}

export function keyFromTextRow(meta: TableMeta, row: Record<string, string | null>): string[] {
  return meta.primaryKey.map((_, i) => row[`k${i}`] ?? '');
}
