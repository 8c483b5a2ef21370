// StatementFacts of SELECT / INSERT / REPLACE / UPDATE / DELETE from node-sql-parser's AST of the
// marked parse text (parse-text.ts). Values are never copied: constants are literal indexes or
// placeholder numbers, so the facts of a shape are cached and reused with other values.
import {
  type Assignment,
  emptyStatementFacts,
  type InsertShape,
  noteJoinSites,
  type StatementFacts,
  type ValueRef,
} from '../facts.js';
import { asArray, functionName, isNode, isTableRef, type Node, nameOf, valueRef, walk } from './mysql-ast.js';
import { mysqlColocationFacts } from './mysql-colocation.js';
import { mysqlDetachSites } from './mysql-detach-sites.js';
import { innerJoinQuals, keyConditions, scopeOf } from './mysql-key-conditions.js';
import { mysqlRangeConditions } from './mysql-range-conditions.js';
import { selectShape } from './mysql-select-shape.js';

/**
 * Functions that tie later statements to this server connection, as ProxySQL disables
 * multiplexing for them: named locks, and values only the same connection can return.
 */
export const PINNING_FUNCTIONS = new Set([
  'get_lock',
  'release_lock',
  'release_all_locks',
  'is_used_lock',
  'last_insert_id',
  'found_rows',
  'row_count',
]);

interface Collected {
  tables: Set<string>;
  cteNames: Set<string>;
}

/** Tables, functions, user variables, locking and INTO anywhere below the statement. */
function collect(ast: Node, facts: StatementFacts): Collected {
  const cteNames = new Set<string>();
  const refs: Node[] = [];
  const functions = new Set<string>();
  walk(ast, (n) => {
    if (isTableRef(n)) refs.push(n);
    else if (n.type === 'function' || n.type === 'aggr_func') {
      const name = functionName(n);
      if (name) functions.add(name);
    } else if (n.type === 'var' && n.prefix === '@') facts.pinsSession = true;
    if (Array.isArray(n.with)) {
      for (const w of n.with) {
        const name = isNode(w) ? nameOf(w.name) : null;
        if (name) cteNames.add(name.toLowerCase());
      }
    }
    if (typeof n.locking_read === 'string' && n.locking_read) facts.locking = true;
    if (
      n.type === 'select' &&
      asArray(n.options).some((o) => String(o).toUpperCase() === 'SQL_CALC_FOUND_ROWS')
    )
      facts.pinsSession = true;
  });
  const tables = new Set<string>();
  for (const r of refs) {
    const name = (r.table as string).toLowerCase();
    if (r.db || !cteNames.has(name)) tables.add(name);
  }
  facts.tables = [...tables].sort();
  facts.functions = [...functions].sort();
  for (const f of functions) if (PINNING_FUNCTIONS.has(f)) facts.pinsSession = true;
  return { tables, cteNames };
}

/** Real table a (possibly aliased) target name stands for. */
function resolveTarget(name: string, aliases: Map<string, string>): string | null {
  const real = aliases.get(name.toLowerCase());
  return real === undefined ? name.toLowerCase() : real || null;
}

function selectFacts(ast: Node, facts: StatementFacts, c: Collected): void {
  facts.kind = facts.locking ? 'write' : 'read';
  const scope = scopeOf(ast.from, c.cteNames);
  facts.keyConditions = keyConditions([ast.where, ...innerJoinQuals(ast.from)], scope);
  const ranges = mysqlRangeConditions([ast.where, ...innerJoinQuals(ast.from)], scope);
  if (ranges.length > 0) facts.ranges = ranges;
  facts.select = selectShape(ast);
  const into = isNode(ast.into) ? ast.into : null;
  if (into?.type === 'into') {
    // SELECT ... INTO @var / OUTFILE / DUMPFILE: no rows to the client.
    facts.select = null;
    if (String(into.keyword).toLowerCase() === 'var') facts.pinsSession = true;
    else facts.kind = 'write';
  }
}

function insertFacts(ast: Node, facts: StatementFacts, returning: boolean): void {
  facts.kind = 'write';
  const target = asArray(ast.table).find(isNode);
  const table = target && typeof target.table === 'string' ? target.table.toLowerCase() : '';
  facts.writeTables = table ? [table] : [];
  const values = isNode(ast.values) ? ast.values : null;
  const set = asArray(ast.set).filter(isNode);
  let columns = asArray(ast.columns).map((c) => (nameOf(c) ?? '').toLowerCase());
  let rows: Array<Array<ValueRef | null>> = [];
  let fromSelect = true;
  if (values?.type === 'values') {
    rows = asArray(values.values).map((row) => asArray(isNode(row) ? row.value : null).map(valueRef));
    fromSelect = false;
  } else if (set.length > 0) {
    // INSERT ... SET a = 1, b = 2: one row.
    columns = set.map((s) => (nameOf(s.column) ?? '').toLowerCase());
    rows = [set.map((s) => valueRef(s.value))];
    fromSelect = false;
  }
  const prefix = typeof ast.prefix === 'string' ? ast.prefix.toLowerCase() : '';
  const shape: InsertShape = {
    table,
    columns,
    rows,
    fromSelect,
    // REPLACE deletes the conflicting row; IGNORE skips it: both resolve conflicts like ON CONFLICT.
    onConflict: ast.type === 'replace' || Boolean(ast.on_duplicate_update) || prefix.includes('ignore'),
    returning,
  };
  facts.insert = shape;
  const dup = isNode(ast.on_duplicate_update) ? ast.on_duplicate_update : null;
  if (dup) facts.assignments = assignments(asArray(dup.set), () => [table], true);
}

/** SET targets (UPDATE, ON DUPLICATE KEY UPDATE). `col = VALUES(col)` keeps the inserted row's
 *  own value (the row is routed by it): not an assignment that can move a row. */
function assignments(
  set: unknown[],
  tableOf: (qualifier: string | null) => string[],
  dup: boolean,
): Assignment[] {
  const out: Assignment[] = [];
  for (const s of set) {
    if (!isNode(s)) continue;
    const column = nameOf(s.column)?.toLowerCase();
    if (!column) continue;
    const v = isNode(s.value) ? s.value : null;
    if (dup && v && functionName(v) === 'values') {
      const arg = asArray(isNode(v.args) ? v.args.value : null)[0];
      if (isNode(arg) && nameOf(arg.column)?.toLowerCase() === column) continue;
    }
    const value = valueRef(s.value);
    for (const table of tableOf(nameOf(s.table))) out.push({ table, column, value });
  }
  return out;
}

function updateFacts(ast: Node, facts: StatementFacts, c: Collected): void {
  facts.kind = 'write';
  const scope = scopeOf(ast.table, c.cteNames);
  facts.keyConditions = keyConditions([ast.where, ...innerJoinQuals(ast.table)], scope);
  const ranges = mysqlRangeConditions([ast.where, ...innerJoinQuals(ast.table)], scope);
  if (ranges.length > 0) facts.ranges = ranges;
  const written = new Set<string>();
  for (const s of asArray(ast.set).filter(isNode)) {
    const q = nameOf(s.table);
    if (q === null) {
      // Unqualified: the only table, or (multi-table UPDATE) any of them.
      for (const t of scope.tables) written.add(t);
    } else {
      const real = resolveTarget(q, scope.aliases);
      if (real) written.add(real);
    }
  }
  facts.writeTables = [...(written.size ? written : new Set(scope.tables))].sort();
  facts.assignments = assignments(
    asArray(ast.set),
    (q) => {
      if (q === null) return scope.tables;
      const real = resolveTarget(q, scope.aliases);
      return real ? [real] : [];
    },
    false,
  );
}

function deleteFacts(ast: Node, facts: StatementFacts, c: Collected): void {
  facts.kind = 'write';
  const from = asArray(ast.from).length ? ast.from : ast.table;
  const scope = scopeOf(from, c.cteNames);
  facts.keyConditions = keyConditions([ast.where, ...innerJoinQuals(from)], scope);
  const written = new Set<string>();
  for (const t of asArray(ast.table).filter(isNode)) {
    if (typeof t.table !== 'string') continue;
    const real = resolveTarget(t.table, scope.aliases);
    if (real) written.add(real);
  }
  facts.writeTables = [...(written.size ? written : new Set(scope.tables))]
    .filter((t) => facts.tables.includes(t))
    .sort();
}

/** Facts of one parsed data statement; null when the AST is not one this module reads. */
export function dataFacts(ast: unknown, returning: boolean): StatementFacts | null {
  if (!isNode(ast)) return null;
  const facts = emptyStatementFacts('write');
  const c = collect(ast, facts);
  const colocation = mysqlColocationFacts(ast);
  if (colocation) facts.colocation = colocation;
  if (colocation && ast.type === 'select') noteJoinSites(colocation, mysqlDetachSites(ast));
  switch (ast.type) {
    case 'select':
      selectFacts(ast, facts, c);
      return facts;
    case 'insert':
    case 'replace':
      insertFacts(ast, facts, returning);
      return facts;
    case 'update':
      updateFacts(ast, facts, c);
      return facts;
    case 'delete':
      deleteFacts(ast, facts, c);
      return facts;
    default:
      return null;
  }
}
