// What the harness needs to know about a PostgreSQL statement before running it: whether it
// writes (then the oracle runs it in a transaction that is rolled back if shardgate refuses it)
// and whether its top-level ORDER BY fixes the row order.
import { parseSync } from 'libpg-query';

export interface StatementInfo {
  writes: boolean;
  ordered: boolean;
}

const WRITE_TYPES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

function hasWrite(node: unknown): boolean {
  if (node === null || typeof node !== 'object') return false;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (WRITE_TYPES.has(k)) return true;
    if (hasWrite(v)) return true;
  }
  return false;
}

export function pgStatementInfo(sql: string): StatementInfo {
  let tree: { stmts?: Array<{ stmt?: Record<string, unknown> }> };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch {
    return { writes: false, ordered: false };
  }
  const stmt = tree.stmts?.[0]?.stmt ?? {};
  const select = stmt.SelectStmt as { sortClause?: unknown[] } | undefined;
  return {
    writes: hasWrite(stmt),
    ordered: Boolean(select?.sortClause && select.sortClause.length > 0),
  };
}
