// StatementFacts for each statement of a MySQL/MariaDB text (the cache-miss path). Transaction,
// session, DDL and utility statements are read from tokens; data statements (SELECT, INSERT,
// REPLACE, UPDATE, DELETE, WITH, TABLE, VALUES) from node-sql-parser's MySQL grammar over the
// marked parse text, with the token-based fallback classifier when it cannot parse them.
// The MySQL grammar was measured against the MariaDB one on the test corpus and parses more
// of it (MariaDB's rejects UPDATE/DELETE ... LIMIT and the JSON ->> operator).
import sqlParser from 'node-sql-parser/build/mysql.js';
import { emptyStatementFacts, type StatementFacts } from '../facts.js';
import type { Fingerprint, Literal } from '../fingerprint.js';
import { fallbackFacts } from './fallback-classifier.js';
import type { Token } from './fingerprint-mysql.js';
import { dataFacts, PINNING_FUNCTIONS } from './mysql-data-facts.js';
import { T } from './mysql-lexer.js';
import { sessionStatementFacts } from './mysql-session-facts.js';
import { isWord, readName, wordAt } from './mysql-tokens.js';
import { utilityStatementFacts } from './mysql-utility-facts.js';
import { buildParseText, restoreSetAll } from './parse-text.js';

const parser = new sqlParser.Parser();
const PARSE_OPTIONS = { database: 'MySQL' };

/** Statements longer than this (tokens) are read by the fallback: the parser is slow on them. */
const MAX_PARSER_TOKENS = 4000;

const DATA_VERBS = new Set(['select', 'with', 'insert', 'replace', 'update', 'delete', 'table', 'values']);

function shortError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

function parseData(sql: string, toks: readonly Token[]): StatementFacts {
  if (toks.length > MAX_PARSER_TOKENS)
    return fallbackFacts(toks, 'statement too long for the parser; analyzed from tokens');
  const pt = buildParseText(sql, toks);
  if (!pt) return fallbackFacts(toks, 'too many literals to mark for the parser');
  let ast: unknown;
  try {
    ast = parser.astify(pt.text, PARSE_OPTIONS);
  } catch (err) {
    return fallbackFacts(toks, shortError(err));
  }
  if (Array.isArray(ast)) ast = ast.length === 1 ? ast[0] : null;
  if (!restoreSetAll(ast, pt.droppedAll))
    return fallbackFacts(toks, 'INTERSECT ALL / EXCEPT ALL not located');
  const facts = dataFacts(ast, pt.returning);
  if (!facts) return fallbackFacts(toks, 'statement shape not understood');
  if (toks.some((t) => t.type === T.USERVAR)) facts.pinsSession = true;
  return facts;
}

const EXPLAIN_OPTIONS = new Set(['extended', 'partitions', 'analyze', 'format']);

/** EXPLAIN / DESCRIBE of a statement or a table, and MariaDB's ANALYZE <statement>. */
function explainFacts(sql: string, toks: readonly Token[], literals: readonly Literal[]): StatementFacts {
  const verb = wordAt(toks, 0);
  let i = 1;
  let runs = verb === 'analyze';
  while (EXPLAIN_OPTIONS.has(wordAt(toks, i))) {
    if (wordAt(toks, i) === 'analyze') runs = true;
    // FORMAT = JSON
    i += wordAt(toks, i) === 'format' && toks[i + 1]?.type === T.OP ? 3 : 1;
  }
  const inner = toks.slice(i);
  const first = inner.findIndex((t) => t.type !== T.LPAREN);
  if (!DATA_VERBS.has(wordAt(inner, first))) {
    // DESCRIBE t [col] / EXPLAIN t: the table's columns. EXPLAIN FOR CONNECTION n: utility.
    const f = emptyStatementFacts('session');
    f.session = { action: 'show', name: 'columns', value: null, local: false };
    const r = readName(toks, i);
    if (r && !isWord(toks[i], 'for')) f.tables = [r.name];
    else {
      f.kind = 'utility';
      f.utility = 'explain';
      f.session = null;
    }
    return f;
  }
  const facts = analyzeStatement(sql, inner, literals);
  facts.utility = 'explain';
  if (!runs && facts.kind === 'write') {
    facts.kind = 'read';
    facts.writeTables = [];
  }
  facts.insert = null;
  facts.select = null;
  return facts;
}

function analyzeStatement(sql: string, toks: readonly Token[], literals: readonly Literal[]): StatementFacts {
  if (toks.length === 0) return emptyStatementFacts('empty');
  const known = sessionStatementFacts(sql, toks, literals) ?? utilityStatementFacts(toks);
  if (known) return known;
  const verb = wordAt(toks, 0);
  if (verb === 'explain' || verb === 'describe' || verb === 'desc' || verb === 'analyze')
    return explainFacts(sql, toks, literals);
  let first = 0;
  while (toks[first]?.type === T.LPAREN) first++;
  if (DATA_VERBS.has(wordAt(toks, first))) return parseData(sql, toks);
  const f = fallbackFacts(toks, `statement ${verb ? verb.toUpperCase() : 'text'} not recognized`);
  for (const fn of f.functions) if (PINNING_FUNCTIONS.has(fn)) f.pinsSession = true;
  return f;
}

/**
 * Facts per statement of the text. `tokens` are the fingerprint's tokens per statement; the
 * executable-comment markers are transparent (their content is SQL). Never throws.
 */
export function analyzeMysql(sql: string, fp: Fingerprint, tokens: readonly Token[][]): StatementFacts[] {
  if (tokens.length === 0) return [emptyStatementFacts('empty')];
  return tokens.map((raw) => {
    const toks = raw.filter((t) => t.type !== T.EXEC_OPEN && t.type !== T.EXEC_CLOSE);
    try {
      return analyzeStatement(sql, toks, fp.literals);
    } catch (err) {
      // A shape this code did not expect: route conservatively (primary), never crash.
      const f = emptyStatementFacts('write');
      f.parseError = shortError(err);
      return f;
    }
  });
}
