// What the harness needs to know about a MySQL statement before running it (see
// statement-info.ts for PostgreSQL): whether it writes, and whether a top-level ORDER BY fixes
// the row order. Read from shardgate's own MySQL tokens: a write verb anywhere outside
// parentheses (WITH ... UPDATE too; SELECT ... FOR UPDATE is a read), and ORDER BY at parenthesis depth 0.
import { fingerprintMysql, type Token } from '../../src/sql/mysql/fingerprint-mysql.js';
import { T } from '../../src/sql/mysql/mysql-lexer.js';
import type { StatementInfo } from './statement-info.js';

const WRITE_VERBS = new Set(['insert', 'replace', 'update', 'delete']);

export function mysqlStatementInfo(sql: string): StatementInfo {
  const statements: Token[][] = [];
  fingerprintMysql(sql, statements);
  const toks = statements[0] ?? [];
  let depth = 0;
  let writes = false;
  let ordered = false;
  toks.forEach((t, i) => {
    if (t.type === T.LPAREN) depth++;
    else if (t.type === T.RPAREN) depth--;
    else if (depth === 0 && t.type === T.WORD) {
      // Not the UPDATE of ON DUPLICATE KEY UPDATE or of SELECT ... FOR UPDATE.
      const before = i > 0 && toks[i - 1]?.type === T.WORD ? toks[i - 1]!.text : '';
      if (WRITE_VERBS.has(t.text) && before !== 'for') writes = true;
      // ORDER BY of the whole statement; a UNION branch's own ORDER BY sits inside parentheses.
      if (t.text === 'order' && toks[i + 1]?.type === T.WORD && toks[i + 1]?.text === 'by') ordered = true;
    }
  });
  return { writes, ordered };
}
