// Where a cross-shard join can take one table's rows out of the statement (src/executor/
// broadcast-join.ts): a table of the top-level FROM reached only through inner joins, commas or
// as the nullable side of a LEFT/RIGHT join, or the table of an uncorrelated `x [NOT] IN (SELECT
// y FROM t ...)` in the top-level AND of the WHERE. Replacing such an occurrence by its rows
// (fetched from every shard) leaves a statement whose other sharded table is partitioned across
// the shards, so each shard's answer is its part of the whole and the ordinary merge applies.
// The same walk serves the analyzer (which sites exist, as facts) and the rewrite (where they
// are in this execution's text), so both agree on the numbering.
import { isType, list, type Node, nodeType, str, walk } from './pg-ast.js';

export interface DetachSite {
  form: 'table' | 'in-subquery';
  /** Real table name, lower-cased. */
  table: string;
  /** 'table': the name the rest of the statement uses for it (alias or table name). */
  alias: string;
  /** Byte offset of the table reference ('table') or of the IN / NOT / operator ('in-subquery'). */
  location: number;
  /** May be replaced by its rows: inner/comma joined, the nullable side of an outer join, or
   *  an IN subquery. */
  detachable: boolean;
  /** Every result row holds exactly one of its rows (a FROM table never null-extended): when it
   *  is the one sharded table left, the shards' answers partition the result. */
  anchor: boolean;
}

/** Every table of the top-level FROM, then the IN subqueries of the WHERE, in text order. */
export function detachSites(body: Node): DetachSite[] {
  if ((body.op && body.op !== 'SETOP_NONE') || body.withClause) return [];
  const sites: DetachSite[] = [];
  const from = (node: unknown, allowed: boolean, anchor: boolean): void => {
    const t = nodeType(node);
    if (!t) return;
    const [type, b] = t;
    if (type === 'RangeVar') {
      const alias = b.alias as { aliasname?: string; colnames?: unknown } | undefined;
      if (typeof b.relname !== 'string') return;
      sites.push({
        detachable: allowed && list(alias?.colnames).length === 0,
        anchor,
        form: 'table',
        table: b.relname.toLowerCase(),
        alias: alias?.aliasname ?? b.relname,
        location: typeof b.location === 'number' ? b.location : -1,
      });
    } else if (type === 'JoinExpr') {
      const j = b.jointype;
      const ok = !b.alias;
      from(
        b.larg,
        ok && allowed && (j === 'JOIN_INNER' || j === 'JOIN_RIGHT'),
        anchor && (j === 'JOIN_INNER' || j === 'JOIN_LEFT'),
      );
      from(
        b.rarg,
        ok && allowed && (j === 'JOIN_INNER' || j === 'JOIN_LEFT'),
        anchor && (j === 'JOIN_INNER' || j === 'JOIN_RIGHT'),
      );
    }
  };
  for (const f of list(body.fromClause)) from(f, true, true);
  for (const c of conjuncts(body.whereClause)) {
    const not = isType(c, 'BoolExpr');
    const link = isType(not?.boolop === 'NOT_EXPR' ? list(not.args)[0] : c, 'SubLink');
    const site = link ? inSubquerySite(link) : null;
    if (site) sites.push(site);
  }
  // An occurrence that cannot be located cannot be replaced.
  for (const s of sites) if (s.location < 0) s.detachable = false;
  return sites;
}

function conjuncts(node: unknown, out: unknown[] = []): unknown[] {
  const b = isType(node, 'BoolExpr');
  if (b && b.boolop === 'AND_EXPR') for (const a of list(b.args)) conjuncts(a, out);
  else if (node) out.push(node);
  return out;
}

/** `x IN (SELECT y FROM t ...)` with one table, one output, nothing that combines rows, and
 *  every column qualified by nothing or by t itself (so it cannot reach the outer query). */
function inSubquerySite(link: Node): DetachSite | null {
  const op = list(link.operName);
  if (link.subLinkType !== 'ANY_SUBLINK' || (op.length > 0 && str(op[op.length - 1]) !== '=')) return null;
  if (nodeType(link.testexpr)?.[0] === 'RowExpr') return null;
  const sel = isType(link.subselect, 'SelectStmt');
  if (!sel || (sel.op && sel.op !== 'SETOP_NONE') || sel.withClause) return null;
  for (const k of [
    'groupClause',
    'havingClause',
    'limitCount',
    'limitOffset',
    'distinctClause',
    'windowClause',
  ])
    if (sel[k] !== undefined) return null;
  if (list(sel.lockingClause).length > 0 || list(sel.targetList).length !== 1) return null;
  const items = list(sel.fromClause);
  const rv = isType(items[0], 'RangeVar');
  if (items.length !== 1 || !rv || typeof rv.relname !== 'string') return null;
  const own = new Set([
    rv.relname.toLowerCase(),
    (rv.alias as { aliasname?: string } | undefined)?.aliasname,
  ]);
  let closed = true;
  walk([sel.targetList, sel.whereClause], (type, body) => {
    if (type === 'SubLink' || type === 'FuncCall' || type === 'A_Star') {
      // Aggregates would combine rows; a nested subquery could correlate: not a site.
      if (type !== 'FuncCall' || body.over || body.agg_star || isAggregateName(body)) closed = false;
    }
    if (type === 'ColumnRef') {
      const fields = list(body.fields).map(str);
      if (fields.some((f) => f === null)) closed = false;
      else if (fields.length > 1 && !own.has(fields[fields.length - 2]!)) closed = false;
    }
  });
  if (!closed || typeof link.location !== 'number') return null;
  return {
    form: 'in-subquery',
    table: rv.relname.toLowerCase(),
    alias: rv.relname,
    location: link.location,
    detachable: true,
    anchor: false,
  };
}

const AGGREGATE_NAMES = new Set(['count', 'sum', 'min', 'max', 'avg', 'array_agg', 'string_agg']);

function isAggregateName(f: Node): boolean {
  const names = list(f.funcname);
  return AGGREGATE_NAMES.has((str(names[names.length - 1]) ?? '').toLowerCase()) || Boolean(f.agg_distinct);
}
