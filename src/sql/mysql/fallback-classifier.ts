// Facts from tokens for data statements node-sql-parser cannot parse (measured: INSERT ... AS new
// ON DUPLICATE KEY UPDATE, VALUES (DEFAULT), SELECT ... FOR SHARE on older grammars, MariaDB
// syntax the MySQL grammar lacks). It decides the kind, the written table and, for single-table
// statements, the simple key conditions; multi-table statements get every table and no key.
// A statement it cannot place is a 'write' (primary, the safe side), never 'unknown': the
// server, not the proxy's parser, is the judge of valid SQL. parseError keeps the reason.
import {
  columnlessShape,
  emptyStatementFacts,
  type InsertShape,
  type SelectShape,
  type StatementFacts,
  type ValueRef,
} from '../facts.js';
import type { Token } from './fingerprint-mysql.js';
import { PINNING_FUNCTIONS } from './mysql-data-facts.js';
import { T } from './mysql-lexer.js';
import { MYSQL_AGGREGATES } from './mysql-select-shape.js';
import {
  isWord,
  readName,
  scanTables,
  skipAlias,
  type TableRef,
  tokenKeyConditions,
  tokenValue,
  wordAt,
} from './mysql-tokens.js';
import { groupEnd } from './parse-text.js';

/** Words followed by `(` that are not function calls. */
const NOT_FUNCTIONS = new Set([
  'in',
  'values',
  'value',
  'row',
  'exists',
  'using',
  'on',
  'as',
  'from',
  'join',
  'select',
  'where',
  'and',
  'or',
  'not',
  'into',
  'table',
  'key',
  'index',
  'partition',
  'over',
  'all',
  'any',
  'some',
  'with',
  'set',
  'by',
  'then',
  'else',
  'when',
  'is',
  'like',
  'between',
  'union',
  'lateral',
]);
const UNMERGEABLE_WORDS = new Set([
  'order',
  'group',
  'limit',
  'distinct',
  'having',
  'union',
  'window',
  'over',
  'intersect',
  'except',
  'offset',
]);

function dedupe(names: string[]): string[] {
  return [...new Set(names)].sort();
}

/** Functions, user variables, locking clauses and INTO targets anywhere in the statement. */
function scanCommon(toks: readonly Token[], f: StatementFacts): void {
  const functions = new Set<string>();
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === T.USERVAR) f.pinsSession = true;
    else if (t.type === T.WORD) {
      if (toks[i + 1]?.type === T.LPAREN && toks[i + 1]!.start === t.end && !NOT_FUNCTIONS.has(t.text))
        functions.add(t.text);
      if (t.text === 'sql_calc_found_rows') f.pinsSession = true;
      if (t.text === 'for' && (isWord(toks[i + 1], 'update') || isWord(toks[i + 1], 'share')))
        f.locking = true;
      if (t.text === 'lock' && isWord(toks[i + 1], 'in') && isWord(toks[i + 2], 'share')) f.locking = true;
    }
  }
  f.functions = [...functions].sort();
  for (const fn of functions) if (PINNING_FUNCTIONS.has(fn)) f.pinsSession = true;
}

/** A select shape that lets a plain concatenation through and refuses anything to merge. */
function opaqueShape(toks: readonly Token[], parseError: string): SelectShape {
  let depth = 0;
  let needsMerge = false;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === T.LPAREN) depth++;
    else if (t.type === T.RPAREN) depth--;
    else if (depth === 0 && t.type === T.WORD) {
      if (UNMERGEABLE_WORDS.has(t.text)) needsMerge = true;
    }
    // An aggregate at any depth: round(avg(x), 2) needs a merge as much as avg(x) does.
    if (t.type === T.WORD && MYSQL_AGGREGATES.has(t.text) && toks[i + 1]?.type === T.LPAREN)
      needsMerge = true;
  }
  return columnlessShape(
    needsMerge ? `a statement shardgate could not parse for merging (${parseError})` : null,
  );
}

function selectFallback(toks: readonly Token[], f: StatementFacts, parseError: string): void {
  const tables = scanTables(toks);
  f.tables = dedupe(tables.map((t) => t.name));
  f.kind = f.locking ? 'write' : 'read';
  const into = toks.findIndex((t) => isWord(t, 'into'));
  if (into >= 0) {
    if (toks[into + 1]?.type === T.USERVAR) f.pinsSession = true;
    else f.kind = 'write';
  } else f.select = opaqueShape(toks, parseError);
  if (tables.length === 1 && !toks.some((t) => isWord(t, 'join'))) {
    f.keyConditions = tokenKeyConditions(toks, tables[0]!);
  }
}

/** Row values of a VALUES list starting at the `(` at i: one ref per element, null for expressions. */
function readRows(toks: readonly Token[], i: number): { rows: Array<Array<ValueRef | null>>; end: number } {
  const rows: Array<Array<ValueRef | null>> = [];
  let j = i;
  for (;;) {
    if (isWord(toks[j], 'row')) j++;
    if (toks[j]?.type !== T.LPAREN) break;
    const close = groupEnd(toks, j) - 1;
    const row: Array<ValueRef | null> = [];
    let from = j + 1;
    let depth = 0;
    for (let k = j + 1; k <= close; k++) {
      const c = toks[k]!.type;
      if (c === T.LPAREN) depth++;
      else if (c === T.RPAREN && k < close) depth--;
      else if ((c === T.COMMA && depth === 0) || k === close) {
        if (k > from || c === T.COMMA) {
          const v = tokenValue(toks, from);
          row.push(v && v.end === k ? v.ref : null);
        }
        from = k + 1;
      }
    }
    rows.push(row);
    j = close + 1;
    if (toks[j]?.type !== T.COMMA) break;
    j++;
  }
  return { rows, end: j };
}

const INSERT_MODIFIERS = new Set(['low_priority', 'delayed', 'high_priority', 'ignore', 'into']);

function insertFallback(toks: readonly Token[], f: StatementFacts): void {
  f.kind = 'write';
  let i = 1;
  let onConflict = wordAt(toks, 0) === 'replace';
  while (INSERT_MODIFIERS.has(wordAt(toks, i))) {
    if (wordAt(toks, i) === 'ignore') onConflict = true;
    i++;
  }
  const target = readName(toks, i);
  const table = target?.name ?? '';
  i = target?.end ?? i;
  if (isWord(toks[i], 'partition') && toks[i + 1]?.type === T.LPAREN) i = groupEnd(toks, i + 1);
  const columns: string[] = [];
  if (toks[i]?.type === T.LPAREN && !isWord(toks[i + 1], 'select') && !isWord(toks[i + 1], 'with')) {
    const close = groupEnd(toks, i) - 1;
    for (let k = i + 1; k < close; k++) {
      const r = readName(toks, k);
      if (r) {
        columns.push(r.name);
        k = r.end - 1;
      }
    }
    i = close + 1;
  }
  let rows: Array<Array<ValueRef | null>> = [];
  let fromSelect = true;
  const verb = wordAt(toks, i);
  if (verb === 'values' || verb === 'value') {
    const r = readRows(toks, i + 1);
    rows = r.rows;
    fromSelect = false;
  } else if (verb === 'set') {
    // INSERT ... SET a = 1, b = 2
    const row: Array<ValueRef | null> = [];
    let k = i + 1;
    for (;;) {
      const col = readName(toks, k);
      if (!col || toks[col.end]?.type !== T.OP || toks[col.end]!.text !== '=') break;
      columns.push(col.name);
      const v = tokenValue(toks, col.end + 1);
      let end = col.end + 1;
      let depth = 0;
      while (
        end < toks.length &&
        !(depth === 0 && (toks[end]!.type === T.COMMA || isWord(toks[end], 'on')))
      ) {
        if (toks[end]!.type === T.LPAREN) depth++;
        else if (toks[end]!.type === T.RPAREN) depth--;
        end++;
      }
      row.push(v && v.end === end ? v.ref : null);
      if (toks[end]?.type !== T.COMMA) break;
      k = end + 1;
    }
    rows = [row];
    fromSelect = false;
  }
  if (toks.some((t, k) => isWord(t, 'duplicate') && isWord(toks[k - 1], 'on'))) onConflict = true;
  const insert: InsertShape = {
    table,
    columns,
    rows,
    fromSelect,
    onConflict,
    returning: toks.some((t) => isWord(t, 'returning')),
  };
  f.insert = insert;
  f.writeTables = table ? [table] : [];
  f.tables = dedupe([...(table ? [table] : []), ...scanTables(toks).map((t) => t.name)]);
}

const UPDATE_MODIFIERS = new Set(['low_priority', 'ignore', 'quick']);

/** UPDATE t SET ... / DELETE FROM t WHERE ...: the single table, else null (multi-table form). */
function singleTable(toks: readonly Token[]): TableRef | null {
  let i = 1;
  while (UPDATE_MODIFIERS.has(wordAt(toks, i))) i++;
  const isDelete = wordAt(toks, 0) === 'delete';
  if (isDelete) {
    if (!isWord(toks[i], 'from')) return null;
    i++;
  }
  const r = readName(toks, i);
  if (!r) return null;
  const alias = skipAlias(toks, r.end);
  const next = wordAt(toks, alias.end);
  const after = isDelete ? ['where', 'order', 'limit', 'partition', 'returning', ''] : ['set'];
  if (!after.includes(next)) return null;
  if (next === '' && alias.end < toks.length) return null;
  return { name: r.name, alias: alias.alias };
}

function updateDeleteFallback(toks: readonly Token[], f: StatementFacts): void {
  f.kind = 'write';
  const single = singleTable(toks);
  const all = scanTables(toks).map((t) => t.name);
  if (single) {
    f.tables = dedupe([single.name, ...all]);
    f.writeTables = [single.name];
    f.keyConditions = tokenKeyConditions(toks, single);
  } else {
    // Multi-table: any of them may be written.
    f.tables = dedupe(all);
    f.writeTables = f.tables;
  }
}

/** Facts of a data statement from its tokens (the parser failed with `parseError`). */
export function fallbackFacts(toks: readonly Token[], parseError: string): StatementFacts {
  const f = emptyStatementFacts('write');
  f.parseError = parseError;
  scanCommon(toks, f);
  let first = 0;
  while (toks[first]?.type === T.LPAREN) first++;
  switch (wordAt(toks, first)) {
    case 'select':
    case 'with':
    case 'table':
    case 'values':
      selectFallback(toks, f, parseError);
      break;
    case 'insert':
    case 'replace':
      insertFallback(toks, f);
      break;
    case 'update':
    case 'delete':
      updateDeleteFallback(toks, f);
      break;
    default:
      f.tables = dedupe(scanTables(toks).map((t) => t.name));
  }
  return f;
}
