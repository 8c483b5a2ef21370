// What the harness needs to know about a PostgreSQL statement before running it: whether it
// writes (then the oracle runs it in a transaction that is rolled back if shardgate refuses it)
// and whether its top-level ORDER BY fixes the row order.
import { parseSync } from 'libpg-query';

export interface StatementInfo {
  writes: boolean;
  ordered: boolean;
  /** Output columns holding array_agg / string_agg without ORDER BY: any element order is a
   *  right answer, so they compare as multisets of elements (delimiter null: an array). */
  unorderedCells?: UnorderedCell[];
}

export interface UnorderedCell {
  column: number;
  delimiter: string | null;
}

/** Top-level array_agg(x) / string_agg(x, 'd') outputs without an ORDER BY inside. */
function unorderedCells(select: Record<string, unknown> | undefined): UnorderedCell[] {
  const out: UnorderedCell[] = [];
  const targets = (select?.targetList as Array<Record<string, Record<string, unknown>>> | undefined) ?? [];
  targets.forEach((t, column) => {
    const call = (t.ResTarget?.val as Record<string, Record<string, unknown>> | undefined)?.FuncCall;
    if (!call || call.agg_order || call.over) return;
    const names = (call.funcname as Array<{ String?: { sval?: string } }> | undefined) ?? [];
    const name = names.at(-1)?.String?.sval;
    if (name === 'array_agg') out.push({ column, delimiter: null });
    if (name === 'string_agg') {
      const args = (call.args as Array<Record<string, Record<string, unknown>>> | undefined) ?? [];
      const d = (args[1]?.A_Const?.sval as { sval?: string } | undefined)?.sval;
      if (d !== undefined) out.push({ column, delimiter: d });
    }
  });
  return out;
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
  const unordered = unorderedCells(select as Record<string, unknown> | undefined);
  return {
    writes: hasWrite(stmt),
    ordered: Boolean(select?.sortClause && select.sortClause.length > 0),
    ...(unordered.length > 0 ? { unorderedCells: unordered } : {}),
  };
}
