// Subqueries and CTEs inside a scatter read that compute across rows (aggregates, DISTINCT,
// LIMIT, window functions, UNION/INTERSECT/EXCEPT). Each shard runs them over its own rows only,
// which is right only when the rows they combine share a shard key: grouped or partitioned by it,
// or correlated to the outer row on it. The facts list them with the column names that could
// make them shard-local; merge-spec compares those with the tables' shard keys.
import type { NestedSelect } from './facts.js';
import { PG_AGGREGATES } from './pg-aggregates.js';
import { isType, list, type Node, str, walk } from './pg-ast.js';

function lastField(node: unknown): string | null {
  const ref = isType(node, 'ColumnRef');
  const fields = list(ref?.fields);
  return ref ? str(fields[fields.length - 1]) : null;
}

/** Column names in `a.col = b.col` equalities of a WHERE (correlation on a same-named column). */
function correlatedColumns(where: unknown): string[] {
  const out: string[] = [];
  walk(where, (type, b) => {
    if (type !== 'A_Expr' || b.kind !== 'AEXPR_OP') return;
    const op = str(list(b.name)[0]);
    const l = lastField(b.lexpr);
    if (op === '=' && l !== null && l === lastField(b.rexpr)) out.push(l);
  });
  return out;
}

function readsTables(sel: Node): boolean {
  let found = false;
  walk(sel.fromClause, (type) => {
    if (type === 'RangeVar') found = true;
  });
  // Set-operation branches are bare SelectStmt bodies.
  if (sel.larg || sel.rarg)
    found = readsTables((sel.larg ?? {}) as Node) || readsTables((sel.rarg ?? {}) as Node);
  return found;
}

/** What in this one SELECT level combines rows (null: it works row by row). */
function combines(sel: Node): string | null {
  if (sel.op && sel.op !== 'SETOP_NONE')
    return sel.op === 'SETOP_UNION' && sel.all ? null : 'UNION/INTERSECT/EXCEPT';
  if (sel.groupClause || sel.havingClause) return 'GROUP BY';
  if (Array.isArray(sel.distinctClause)) return 'DISTINCT';
  if (sel.limitCount || sel.limitOffset) return 'LIMIT/OFFSET';
  let what: string | null = null;
  walk(sel.targetList, (type, b) => {
    if (type === 'FuncCall' && b.over) what ??= 'a window function';
    else if (
      type === 'FuncCall' &&
      (b.agg_star ||
        b.agg_distinct ||
        PG_AGGREGATES.has(String(str(list(b.funcname).at(-1)) ?? '').toLowerCase()))
    )
      what ??= 'an aggregate';
  });
  return what;
}

/** The columns that make one nested SELECT's combining shard-local when they are a shard key. */
function localKeys(sel: Node): string[] {
  const keys: string[] = [];
  for (const g of list(sel.groupClause)) {
    const f = lastField(g);
    if (f) keys.push(f);
  }
  for (const d of list(sel.distinctClause)) {
    const f = lastField(d);
    if (f) keys.push(f);
  }
  walk(sel.targetList, (type, b) => {
    if (type !== 'FuncCall') return;
    // FuncCall.over is a bare WindowDef body.
    const over = (isType(b.over, 'WindowDef') ?? b.over) as Node | undefined;
    for (const p of list(over?.partitionClause)) {
      const f = lastField(p);
      if (f) keys.push(f);
    }
  });
  for (const w of list(sel.windowClause)) {
    for (const p of list(isType(w, 'WindowDef')?.partitionClause)) {
      const f = lastField(p);
      if (f) keys.push(f);
    }
  }
  keys.push(...correlatedColumns(sel.whereClause));
  return keys;
}

/** Every SELECT nested in `top` (CTEs, FROM subqueries, sublinks) that combines rows of tables. */
export function nestedSelects(top: Node): NestedSelect[] {
  const out: NestedSelect[] = [];
  const roots: unknown[] = [
    top.withClause,
    top.fromClause,
    top.targetList,
    top.whereClause,
    top.havingClause,
  ];
  const check = (body: Node) => {
    const what = combines(body);
    if (what !== null && readsTables(body))
      out.push({ what: `${what} in a subquery or CTE`, keys: localKeys(body) });
    for (const branch of [body.larg, body.rarg])
      if (branch && typeof branch === 'object') check(branch as Node);
  };
  for (const root of roots) {
    walk(root, (type, body) => {
      if (type === 'SelectStmt') check(body);
    });
  }
  return out;
}

/** One branch of a top-level UNION: what in it (or below it) combines rows. */
export function branchSelects(branch: Node): NestedSelect[] {
  const out = nestedSelects(branch);
  const what = combines(branch);
  if (what !== null && readsTables(branch))
    out.push({ what: `${what} in a UNION branch`, keys: localKeys(branch) });
  return out;
}
