// Where a MySQL cross-shard join can take one table's rows out of the statement (the rules of
// src/sql/pg-detach-sites.ts over node-sql-parser's AST): a table of the top-level FROM list
// joined by commas, [INNER|CROSS] JOIN or as the right side of a LEFT JOIN, or the table of an
// uncorrelated `x [NOT] IN (SELECT y FROM t ...)` in the top-level AND of the WHERE. The AST
// has no locations, so each site says how the rewrite finds it again in the tokens
// (mysql-broadcast-sql.ts): a table by name and alias, an IN subquery by its ordinal among the
// WHERE's `IN (SELECT` in text order. Anything else (RIGHT or NATURAL joins, derived tables,
// set operations, WITH) gives no sites, so the planner refuses.
import type { JoinSite } from '../facts.js';
import { asArray, conjuncts, functionName, isNode, isTableRef, type Node, walk } from './mysql-ast.js';

export interface MysqlDetachSite extends JoinSite {
  /** Lower-cased name the statement uses for the table (its alias, else its name). */
  alias: string;
  /** 'in-subquery': its place among the WHERE's IN subqueries (text order), else -1. */
  ordinal: number;
}

const JOINS = new Set(['INNER JOIN', 'JOIN', 'CROSS JOIN', 'LEFT JOIN', 'LEFT OUTER JOIN']);

const subquery = (n: unknown): Node | null => (isNode(n) && isNode(n.ast) ? n.ast : null);

/** The subquery of `x [NOT] IN (SELECT ...)`, else null. */
function inSubquery(n: Node): Node | null {
  if (n.type !== 'binary_expr' || (n.operator !== 'IN' && n.operator !== 'NOT IN')) return null;
  const right = isNode(n.right) ? n.right : null;
  const items = right?.type === 'expr_list' ? asArray(right.value) : [];
  return items.length === 1 ? subquery(items[0]) : null;
}

/** Every `IN (SELECT` below `root` outside subqueries, in text order (left before right). */
function inSubqueriesInOrder(root: unknown, out: Node[] = []): Node[] {
  if (Array.isArray(root)) {
    for (const x of root) inSubqueriesInOrder(x, out);
    return out;
  }
  if (!isNode(root) || subquery(root)) return out;
  if (inSubquery(root)) out.push(root);
  for (const k in root) if (k !== 'loc') inSubqueriesInOrder(root[k], out);
  return out;
}

/** One table, one plain output, nothing that combines rows, every column its own. */
function closedSubquery(sel: Node): string | null {
  if (sel.type !== 'select' || isNode(sel._next) || sel.with || sel.distinct) return null;
  for (const k of ['groupby', 'having', 'orderby', 'window', 'locking_read']) if (sel[k]) return null;
  if (isNode(sel.limit) && asArray(sel.limit.value).length > 0) return null;
  if (isNode(sel.into) && sel.into.position) return null;
  const from = asArray(sel.from);
  const t = from[0];
  if (from.length !== 1 || !isNode(t) || !isTableRef(t) || asArray(sel.columns).length !== 1) return null;
  const table = (t.table as string).toLowerCase();
  const own = new Set([table, typeof t.as === 'string' ? t.as.toLowerCase() : table]);
  let closed = true;
  walk([sel.columns, sel.where], (n) => {
    if (subquery(n) || n.type === 'aggr_func' || isNode(n.over) || n.type === 'star') closed = false;
    if (n.type === 'column_ref') {
      if (n.column === '*') closed = false;
      if (typeof n.table === 'string' && !own.has(n.table.toLowerCase())) closed = false;
    }
    if (n.type === 'function' && functionName(n) === 'group_concat') closed = false;
  });
  return closed ? table : null;
}

/** The sites of one parsed statement (empty when it is not a plain SELECT this reads). */
export function mysqlDetachSites(ast: unknown): MysqlDetachSite[] {
  if (!isNode(ast) || ast.type !== 'select' || isNode(ast._next) || ast.with) return [];
  const sites: MysqlDetachSite[] = [];
  for (const [i, item] of asArray(ast.from).entries()) {
    if (!isNode(item) || !isTableRef(item)) return [];
    const join = typeof item.join === 'string' ? item.join.toUpperCase() : null;
    if (join !== null && !JOINS.has(join)) return [];
    const table = (item.table as string).toLowerCase();
    sites.push({
      form: 'table',
      table,
      alias: typeof item.as === 'string' ? item.as.toLowerCase() : table,
      ordinal: -1,
      detachable: true,
      // The right side of a LEFT JOIN is null-extended; the tables before it are not.
      anchor: !(i > 0 && join?.startsWith('LEFT')),
    });
  }
  const ordered = inSubqueriesInOrder(ast.where);
  for (const c of conjuncts(ast.where)) {
    const sel = inSubquery(c);
    const table = sel ? closedSubquery(sel) : null;
    const left = isNode(c.left) ? c.left : null;
    if (!table || !left || left.type === 'expr_list') continue;
    sites.push({
      form: 'in-subquery',
      table,
      alias: table,
      ordinal: ordered.indexOf(c),
      detachable: true,
      anchor: false,
    });
  }
  return sites;
}
