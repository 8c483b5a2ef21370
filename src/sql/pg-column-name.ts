// The name PostgreSQL gives an output column the query does not name, shared by the SELECT shape
// (merge column names) and the per-shard rewrites (typed NULL outputs keep the client's names).
import { isType, lastName, list, type Node, nodeType, str } from './pg-ast.js';

/** The name PostgreSQL gives an unnamed output column (FigureColname, the common cases). */
export function figureName(node: unknown): string {
  const t = nodeType(node);
  if (!t) return '?column?';
  const [type, b] = t;
  switch (type) {
    case 'ColumnRef': {
      const fields = list(b.fields);
      return str(fields[fields.length - 1]) ?? '?column?';
    }
    case 'FuncCall':
      return lastName(b.funcname) ?? '?column?';
    case 'TypeCast': {
      const inner = figureName(b.arg);
      if (inner !== '?column?') return inner;
      return lastName((b.typeName as Node | undefined)?.names) ?? '?column?';
    }
    case 'CollateClause':
      return figureName(b.arg);
    case 'A_Indirection': {
      const ind = list(b.indirection);
      return str(ind[ind.length - 1]) ?? figureName(b.arg);
    }
    case 'CaseExpr':
      return 'case';
    case 'CoalesceExpr':
      return 'coalesce';
    case 'MinMaxExpr':
      return b.op === 'IS_GREATEST' ? 'greatest' : 'least';
    case 'A_ArrayExpr':
      return 'array';
    case 'RowExpr':
      return 'row';
    case 'GroupingFunc':
      return 'grouping';
    case 'NullIfExpr':
      return 'nullif';
    case 'SubLink': {
      if (b.subLinkType === 'EXISTS_SUBLINK') return 'exists';
      if (b.subLinkType === 'ARRAY_SUBLINK') return 'array';
      const sel = isType(b.subselect, 'SelectStmt');
      const first = isType(list(sel?.targetList)[0], 'ResTarget');
      if (b.subLinkType === 'EXPR_SUBLINK' && first)
        return typeof first.name === 'string' ? first.name : figureName(first.val);
      return '?column?';
    }
    case 'SQLValueFunction': {
      const op = String(b.op ?? '').replace(/^SVFOP_/, '');
      return op.replace(/_N$/, '').toLowerCase() || '?column?';
    }
    default:
      return '?column?';
  }
}
