// Idempotent row statements shared by the copier and the applier: a multi-row upsert of full row
// images, a delete by primary key, and the pieces for rows whose unchanged TOASTed columns were
// not sent. Values travel as text parameters cast to the column's type, so PostgreSQL's own input
// functions read exactly what its output functions wrote on the source.
import type pg from 'pg';
import { pkEquals, quoteIdent, type TableMeta } from './table-meta.js';

/** PostgreSQL's limit on parameters in one statement. */
const MAX_PARAMS = 65_535;

const upsertCache = new WeakMap<TableMeta, Map<number, string>>();

/** Rows of this table that fit in one statement's parameters. */
export function rowsPerStatement(meta: TableMeta): number {
  return Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, meta.columns.length)));
}

/** INSERT ... VALUES (...) x rowCount ON CONFLICT (pk) DO UPDATE SET every other column. */
export function upsertSql(meta: TableMeta, rowCount: number): string {
  let byCount = upsertCache.get(meta);
  if (!byCount) upsertCache.set(meta, (byCount = new Map()));
  const cached = byCount.get(rowCount);
  if (cached) return cached;
  const n = meta.columns.length;
  const values: string[] = [];
  for (let r = 0; r < rowCount; r++) {
    values.push(`(${meta.columns.map((c, i) => `$${r * n + i + 1}::${c.type}`).join(', ')})`);
  }
  const pkNames = new Set(meta.primaryKey.map((c) => c.name));
  const updates = meta.columns
    .filter((c) => !pkNames.has(c.name))
    .map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
  const sql =
    `INSERT INTO ${meta.qualified} (${meta.columns.map((c) => quoteIdent(c.name)).join(', ')}) VALUES ${values.join(', ')} ` +
    `ON CONFLICT (${meta.primaryKey.map((c) => quoteIdent(c.name)).join(', ')}) ` +
    (updates.length ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING');
  if (byCount.size < 64) byCount.set(rowCount, sql);
  return sql;
}

/** Upserts rows (arrays in meta.columns order) in as few statements as the parameter limit allows. */
export async function upsertRows(
  client: pg.Client,
  meta: TableMeta,
  rows: ReadonlyArray<readonly unknown[]>,
) {
  const per = rowsPerStatement(meta);
  for (let i = 0; i < rows.length; i += per) {
    const slice = rows.slice(i, i + per);
    await client.query(upsertSql(meta, slice.length), slice.flat());
  }
}

export function deleteByKeySql(meta: TableMeta): string {
  return `DELETE FROM ${meta.qualified} WHERE ${pkEquals(meta, 1)}`;
}

/** UPDATE of the given columns only (the others keep their value), by key. */
export function updateColumnsSql(meta: TableMeta, columns: readonly string[]): string {
  const types = new Map(meta.columns.map((c) => [c.name, c.type]));
  const sets = columns.map((c, i) => `${quoteIdent(c)} = $${i + 1}::${types.get(c)}`);
  return `UPDATE ${meta.qualified} SET ${sets.join(', ')} WHERE ${pkEquals(meta, columns.length + 1)}`;
}

/** SELECT the given columns (as text) of one row by key. */
export function selectColumnsSql(meta: TableMeta, columns: readonly string[]): string {
  const list = columns.map((c) => `${quoteIdent(c)}::text AS ${quoteIdent(c)}`).join(', ');
  return `SELECT ${list} FROM ${meta.qualified} WHERE ${pkEquals(meta, 1)}`;
}

/** The upsert of `rowCount` rows, returning each row's key as text and whether it was inserted. */
export function upsertReturningSql(meta: TableMeta, rowCount: number): string {
  const keys = meta.primaryKey.map((c, i) => `${quoteIdent(c.name)}::text AS k${i}`).join(', ');
  // xmax is 0 on a freshly inserted row version, the locking transaction on an updated one.
  return `${upsertSql(meta, rowCount)} RETURNING ${keys}, (xmax = 0) AS inserted`;
}

/** DELETE of `keyCount` rows by primary key. */
export function deleteByKeysSql(meta: TableMeta, keyCount: number): string {
  const n = meta.primaryKey.length;
  const tuples: string[] = [];
  for (let k = 0; k < keyCount; k++) {
    const params = meta.primaryKey.map((c, i) => `$${k * n + i + 1}::${c.type}`);
    tuples.push(n === 1 ? params[0]! : `(${params.join(', ')})`);
  }
  const cols = meta.primaryKey.map((c) => quoteIdent(c.name));
  const lhs = n === 1 ? cols[0]! : `(${cols.join(', ')})`;
  return `DELETE FROM ${meta.qualified} WHERE ${lhs} IN (${tuples.join(', ')})`;
}
