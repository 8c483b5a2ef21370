// DDL and utility statements, read from tokens: their kind, the tables they name (DDL on a
// sharded table runs on every shard), and what pins the server connection (temporary tables,
// LOCK TABLES, FLUSH ... WITH READ LOCK, SQL-level PREPARE, HANDLER). Procedure, function,
// trigger and event bodies are never parsed: only the object and its table matter here.
import { emptyStatementFacts, type StatementFacts, type UtilityKind } from '../facts.js';
import type { Token } from './fingerprint-mysql.js';
import { T } from './mysql-lexer.js';
import { isWord, readName, scanTables, wordAt } from './mysql-tokens.js';

const DDL_WORDS = new Set(['create', 'alter', 'drop', 'truncate', 'rename', 'grant', 'revoke']);

/** Skips words while they are in `skip` (and `x = value` options such as ALGORITHM = MERGE). */
function skipWords(toks: readonly Token[], i: number, skip: ReadonlySet<string>): number {
  let j = i;
  for (;;) {
    const w = wordAt(toks, j);
    if (!skip.has(w)) return j;
    j++;
    if (toks[j]?.type === T.OP && toks[j]!.text === '=') {
      // ALGORITHM = MERGE, DEFINER = 'u'@'host' / CURRENT_USER()
      j += 2;
      if (toks[j]?.type === T.USERVAR) j++;
      if (toks[j]?.type === T.LPAREN && toks[j + 1]?.type === T.RPAREN) j += 2;
    }
  }
}

const CREATE_MODIFIERS = new Set([
  'or',
  'replace',
  'temporary',
  'unique',
  'fulltext',
  'spatial',
  'online',
  'offline',
  'ignore',
  'algorithm',
  'definer',
  'sql',
  'security',
  'invoker',
  'aggregate',
]);
const IF_EXISTS = new Set(['if', 'not', 'exists']);

/** `a, b, db.c`: names at i. */
function nameList(toks: readonly Token[], i: number): string[] {
  const out: string[] = [];
  let j = skipWords(toks, i, IF_EXISTS);
  for (;;) {
    const r = readName(toks, j);
    if (!r) return out;
    out.push(r.name);
    if (toks[r.end]?.type !== T.COMMA) return out;
    j = r.end + 1;
  }
}

/** The table after the first top-level ON (CREATE INDEX ... ON t, CREATE TRIGGER ... ON t). */
function tableAfterOn(toks: readonly Token[], from: number): string[] {
  for (let i = from; i < toks.length; i++) {
    if (isWord(toks[i], 'on')) {
      const r = readName(toks, i + 1);
      return r ? [r.name] : [];
    }
  }
  return [];
}

function ddlTables(toks: readonly Token[]): string[] {
  const verb = wordAt(toks, 0);
  const at = skipWords(toks, 1, CREATE_MODIFIERS);
  const object = wordAt(toks, at);
  switch (verb) {
    case 'create':
    case 'alter':
      if (object === 'table' || object === 'view') {
        const first = nameList(toks, at + 1).slice(0, 1);
        const like = toks.findIndex((t, k) => k > at && isWord(t, 'like'));
        const likeName = like > 0 ? readName(toks, like + 1) : null;
        return [...first, ...(likeName ? [likeName.name] : []), ...scanTables(toks).map((t) => t.name)];
      }
      if (object === 'index' || object === 'trigger') return tableAfterOn(toks, at);
      return [];
    case 'drop':
      if (object === 'table' || object === 'tables' || object === 'view') return nameList(toks, at + 1);
      if (object === 'index') return tableAfterOn(toks, at);
      return [];
    case 'truncate':
      return nameList(toks, isWord(toks[1], 'table') ? 2 : 1);
    case 'rename': {
      if (object !== 'table' && object !== 'tables') return [];
      const out: string[] = [];
      for (let i = at + 1; i < toks.length; i++) {
        const r = readName(toks, i);
        if (r && !isWord(toks[i], 'to')) {
          out.push(r.name);
          i = r.end - 1;
        }
      }
      return out;
    }
    default:
      return [];
  }
}

function ddlFacts(toks: readonly Token[]): StatementFacts {
  const f = emptyStatementFacts('ddl');
  f.tables = [...new Set(ddlTables(toks))].sort();
  const verb = wordAt(toks, 0);
  const at = skipWords(toks, 1, new Set(['or', 'replace']));
  if ((verb === 'create' || verb === 'drop') && isWord(toks[at], 'temporary')) f.pinsSession = true;
  return f;
}

function utility(kind: UtilityKind, pins = false, tables: string[] = []): StatementFacts {
  const f = emptyStatementFacts('utility');
  f.utility = kind;
  f.pinsSession = pins;
  f.tables = [...new Set(tables)].sort();
  return f;
}

const OTHER_UTILITIES = new Set([
  'kill',
  'reset',
  'purge',
  'install',
  'uninstall',
  'change',
  'stop',
  'binlog',
  'cache',
  'help',
  'signal',
  'resignal',
  'get',
  'shutdown',
  'restart',
  'backup',
  'clone',
  'import',
  'unlock',
]);

const TABLE_MAINTENANCE = new Set(['optimize', 'repair', 'check', 'checksum', 'analyze']);

/** Facts of DDL and utility statements; null for anything else (data statements, EXPLAIN). */
export function utilityStatementFacts(toks: readonly Token[]): StatementFacts | null {
  const verb = wordAt(toks, 0);
  if (verb === 'drop' && isWord(toks[1], 'prepare')) return utility('deallocate');
  if (DDL_WORDS.has(verb)) return ddlFacts(toks);
  switch (verb) {
    case 'lock': {
      if (!isWord(toks[1], 'tables') && !isWord(toks[1], 'table')) return utility('other', true);
      // LOCK TABLES a READ, b AS x WRITE
      const tables: string[] = [];
      for (let i = 2; i < toks.length; i++) {
        const r = readName(toks, i);
        if (!r) continue;
        tables.push(r.name);
        while (i < toks.length && toks[i]!.type !== T.COMMA) i++;
      }
      const f = utility('lock', true, tables);
      f.writeTables = toks.some((t) => isWord(t, 'write')) ? f.tables : [];
      return f;
    }
    case 'prepare':
      return utility('prepare', true);
    case 'execute':
      return utility('execute');
    case 'deallocate':
      return utility('deallocate');
    case 'call':
      return utility('call');
    case 'do':
      return utility('do');
    case 'begin':
      // BEGIN NOT ATOMIC ... END (MariaDB): an anonymous block, like PostgreSQL's DO.
      return utility('do');
    case 'handler':
      return utility('other', true);
    case 'flush':
      return utility(
        'other',
        toks.some((t, i) => (isWord(t, 'read') && isWord(toks[i + 1], 'lock')) || isWord(t, 'export')),
      );
    case 'load': {
      const into = toks.findIndex((t) => isWord(t, 'into'));
      const r = into > 0 ? readName(toks, into + (isWord(toks[into + 1], 'table') ? 2 : 1)) : null;
      if (!r || !(isWord(toks[1], 'data') || isWord(toks[1], 'xml'))) return utility('other');
      const f = utility('copy_from', false, [r.name]);
      f.writeTables = [r.name];
      return f;
    }
  }
  if (TABLE_MAINTENANCE.has(verb)) {
    // ANALYZE TABLE t vs MariaDB's ANALYZE SELECT ... (EXPLAIN that runs the statement).
    const at = skipWords(toks, 1, new Set(['no_write_to_binlog', 'local']));
    if (!isWord(toks[at], 'table') && !isWord(toks[at], 'tables'))
      return verb === 'analyze' ? null : utility('other');
    return utility(
      verb === 'analyze' ? 'analyze' : verb === 'optimize' ? 'vacuum' : 'other',
      false,
      nameList(toks, at + 1),
    );
  }
  if (OTHER_UTILITIES.has(verb)) return utility('other');
  return null;
}
