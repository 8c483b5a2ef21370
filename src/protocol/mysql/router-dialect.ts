// The router's MySQL text rewrites (RouterDialect): the per-shard rewrite of a scatter, a
// multi-row INSERT cut to some of its rows (COM_STMT_EXECUTE values arrive decoded to text,
// inlined as strings), and literals quoted MySQL's way for compensating templates.
import type { RouterDialect } from '../../router/router.js';
import { rewriteForScatterMysql } from '../../sql/mysql/scatter-rewrite-mysql.js';
import { mysqlLiteral } from '../../transactions/compensation-template.js';
import { inlineInsertRowsMysql } from './sql-inline.js';

export const MYSQL_ROUTER_DIALECT: RouterDialect = {
  rewriteForScatter: rewriteForScatterMysql,
  inlineInsertRows: (sql, rows, params, fill) =>
    inlineInsertRowsMysql(
      sql,
      rows,
      params.map((text) => ({ text, numeric: false })),
      fill,
    ),
  quoteLiteral: mysqlLiteral,
};
