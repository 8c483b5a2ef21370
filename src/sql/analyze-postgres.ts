// StatementFacts from the real PostgreSQL grammar (libpg-query, v17 WASM). Values are never
// copied into the facts: constants point at the fingerprint's literal list by index, parameters
// by number, so the facts of a shape are cached and reused with other values.
//
// Session pinning (pinsSession): CREATE TEMP objects (also SELECT INTO TEMP), LISTEN, session
// advisory locks (pg_advisory_lock*, pg_try_advisory_lock*; the _xact_ ones end with the
// transaction), SQL PREPARE, DECLARE ... WITH HOLD, LOAD, and set_config() (a setting the proxy
// cannot see). SET/RESET (ROLE and SESSION AUTHORIZATION included) are tracked, not pinned.
import { parseSync } from 'libpg-query';
import {
  type Assignment,
  emptyStatementFacts,
  type InsertShape,
  noteJoinSites,
  type RangeCondition,
  type StatementFacts,
  type UtilityKind,
} from './facts.js';
import type { Literal } from './fingerprint.js';
import { constText, isType, lastName, list, type Node, nodeType, relName, str, walk } from './pg-ast.js';
import { colocationFacts } from './pg-colocation.js';
import { copyInFacts, copyOutFacts } from './pg-copy-facts.js';
import { detachSites } from './pg-detach-sites.js';
import { innerJoinQuals, keyConditions, scopeOf } from './pg-key-conditions.js';
import { rangeConditions } from './pg-range-conditions.js';
import { selectShape } from './pg-select-shape.js';
import { discardFacts, setFacts, showFacts, transactionFacts } from './pg-session-facts.js';
import { LiteralMap, valueRef } from './pg-values.js';

const DDL = new Set([
  'CreateStmt',
  'AlterTableStmt',
  'DropStmt',
  'TruncateStmt',
  'IndexStmt',
  'ViewStmt',
  'CreateTableAsStmt',
  'RenameStmt',
  'CommentStmt',
  'GrantStmt',
  'GrantRoleStmt',
  'CreateSeqStmt',
  'AlterSeqStmt',
  'CreateFunctionStmt',
  'AlterFunctionStmt',
  'CreateSchemaStmt',
  'CreateExtensionStmt',
  'AlterExtensionStmt',
  'AlterOwnerStmt',
  'AlterObjectSchemaStmt',
  'CreateRoleStmt',
  'AlterRoleStmt',
  'DropRoleStmt',
  'CreateTrigStmt',
  'CreateDomainStmt',
  'AlterDomainStmt',
  'CompositeTypeStmt',
  'CreateEnumStmt',
  'AlterEnumStmt',
  'CreateRangeStmt',
  'DefineStmt',
  'CreatedbStmt',
  'AlterDatabaseStmt',
  'DropdbStmt',
  'ReindexStmt',
  'ClusterStmt',
  'RuleStmt',
  'CreatePolicyStmt',
  'AlterPolicyStmt',
  'CreatePublicationStmt',
  'AlterPublicationStmt',
  'CreateSubscriptionStmt',
  'AlterSubscriptionStmt',
  'DropSubscriptionStmt',
  'RefreshMatViewStmt',
  'AlterDefaultPrivilegesStmt',
  'CreateStatsStmt',
  'SecLabelStmt',
  'CreateCastStmt',
  'CreateOpClassStmt',
  'CreateForeignTableStmt',
  'CreateEventTrigStmt',
  'CreateTableSpaceStmt',
  'DropTableSpaceStmt',
  'DropOwnedStmt',
  'ReassignOwnedStmt',
]);

const UTILITY: Record<string, UtilityKind> = {
  ListenStmt: 'listen',
  UnlistenStmt: 'unlisten',
  NotifyStmt: 'notify',
  LockStmt: 'lock',
  PrepareStmt: 'prepare',
  ExecuteStmt: 'execute',
  DeallocateStmt: 'deallocate',
  DeclareCursorStmt: 'declare_cursor',
  FetchStmt: 'fetch',
  ClosePortalStmt: 'close_cursor',
  DoStmt: 'do',
  CallStmt: 'call',
  CheckPointStmt: 'checkpoint',
};

const WRITE_STATEMENTS = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
const PINNING_FUNCTIONS = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'set_config',
]);
const CURSOR_OPT_HOLD = 0x0020;

/** Tables, write targets, functions, locking and modifying CTEs anywhere below `stmt`. */
function collect(stmt: unknown, facts: StatementFacts): Set<string> {
  const cteNames = new Set<string>();
  const rangeVars: Node[] = [];
  const writeTargets: string[] = [];
  const functions = new Set<string>();
  walk(stmt, (type, body) => {
    if (type === 'RangeVar') rangeVars.push(body);
    else if (type === 'CommonTableExpr') {
      if (typeof body.ctename === 'string') cteNames.add(body.ctename.toLowerCase());
      if (WRITE_STATEMENTS.has(nodeType(body.ctequery)?.[0] ?? '')) facts.modifyingCte = true;
    } else if (type === 'FuncCall') {
      const name = lastName(body.funcname);
      if (name) functions.add(name);
    } else if (type === 'SelectStmt' && body.lockingClause) facts.locking = true;
    else if (WRITE_STATEMENTS.has(type)) {
      const name = relName(body.relation);
      if (name) writeTargets.push(name);
    }
  });
  const tables = new Set<string>();
  for (const rv of rangeVars) {
    const name = (rv.relname as string).toLowerCase();
    // A CTE name hides a table of the same name (unless schema-qualified).
    if (rv.schemaname || !cteNames.has(name)) tables.add(name);
  }
  facts.tables = [...tables].sort();
  facts.writeTables = [...new Set(writeTargets)].filter((t) => tables.has(t)).sort();
  facts.functions = [...functions].sort();
  for (const f of functions) if (PINNING_FUNCTIONS.has(f)) facts.pinsSession = true;
  return cteNames;
}

function insertShape(body: Node, lits: LiteralMap): InsertShape {
  const sel = isType(body.selectStmt, 'SelectStmt');
  const values = sel?.valuesLists === undefined ? null : list(sel.valuesLists);
  const plainValues = values !== null && !sel?.withClause && !sel?.sortClause && !sel?.limitCount;
  return {
    table: relName(body.relation) ?? '',
    columns: list(body.cols).map((c) => {
      const rt = isType(c, 'ResTarget');
      return typeof rt?.name === 'string' ? rt.name.toLowerCase() : '';
    }),
    rows: plainValues
      ? values.map((row) => list(isType(row, 'List')?.items).map((v) => valueRef(v, lits)))
      : [],
    // INSERT ... SELECT and INSERT ... DEFAULT VALUES have no VALUES rows to route by.
    fromSelect: !plainValues,
    onConflict: body.onConflictClause !== undefined,
    returning: body.returningList !== undefined,
  };
}

/** SET targets of an UPDATE or ON CONFLICT DO UPDATE. `col = EXCLUDED.col` keeps the inserted
 *  row's own value (the row is routed by it): not an assignment that can move a row. */
function assignments(table: string, targets: unknown, lits: LiteralMap): Assignment[] {
  const out: Assignment[] = [];
  for (const t of list(targets)) {
    const rt = isType(t, 'ResTarget');
    if (typeof rt?.name !== 'string') continue;
    const column = rt.name.toLowerCase();
    const ref = isType(rt.val, 'ColumnRef');
    const fields = list(ref?.fields).map(str);
    if (fields.length === 2 && fields[0]?.toLowerCase() === 'excluded' && fields[1]?.toLowerCase() === column)
      continue;
    // SET (a, b) = (...): a MultiAssignRef value is an expression for each column.
    out.push({ table, column, value: isType(rt.val, 'MultiAssignRef') ? null : valueRef(rt.val, lits) });
  }
  return out;
}

function addRanges(facts: StatementFacts, ranges: RangeCondition[]): void {
  if (ranges.length > 0) facts.ranges = ranges;
}

function isTemp(rel: unknown): boolean {
  const body = isType(rel, 'RangeVar') ?? (rel as Node | undefined);
  return body?.relpersistence === 't';
}

function explainAnalyzes(options: unknown): boolean {
  for (const o of list(options)) {
    const d = isType(o, 'DefElem');
    if (d?.defname !== 'analyze') continue;
    const v = d.arg === undefined ? 'true' : (constText(d.arg) ?? 'true').toLowerCase();
    return !['false', 'off', '0', 'no'].includes(v);
  }
  return false;
}

/** Analyzes one parsed statement. `sql` is the whole text (locations are relative to it). */
function analyzeStatement(stmt: unknown, lits: LiteralMap): StatementFacts {
  const t = nodeType(stmt);
  if (!t) return emptyStatementFacts('empty');
  const [type, body] = t;
  switch (type) {
    case 'TransactionStmt':
      return transactionFacts(body);
    case 'VariableSetStmt':
      return setFacts(body);
    case 'VariableShowStmt':
      return showFacts(body);
    case 'DiscardStmt':
      return discardFacts(body);
    case 'ExplainStmt': {
      const inner = analyzeStatement(body.query, lits);
      inner.utility = 'explain';
      // Only EXPLAIN ANALYZE runs the statement; a plain EXPLAIN of a write is a read.
      if (!explainAnalyzes(body.options) && inner.kind === 'write') {
        inner.kind = 'read';
        inner.writeTables = [];
      }
      // The result is a plan, not the statement's rows: nothing to split or merge.
      inner.insert = null;
      inner.select = null;
      return inner;
    }
  }
  const facts = emptyStatementFacts('read');
  const cteNames = collect(stmt, facts);
  if (WRITE_STATEMENTS.has(type) || type === 'SelectStmt') {
    const colocation = colocationFacts(type, body, lits);
    if (colocation) facts.colocation = colocation;
    if (colocation && type === 'SelectStmt') noteJoinSites(colocation, detachSites(body));
  }
  switch (type) {
    case 'SelectStmt': {
      facts.kind = facts.locking || facts.modifyingCte ? 'write' : 'read';
      const from = list(body.fromClause);
      const scope = scopeOf(from, cteNames);
      facts.keyConditions = keyConditions([body.whereClause, ...innerJoinQuals(from)], scope, lits);
      addRanges(facts, rangeConditions([body.whereClause, ...innerJoinQuals(from)], scope, lits));
      facts.select = selectShape(body, lits);
      const into = body.intoClause as Node | undefined;
      if (into) {
        // SELECT ... INTO creates a table.
        facts.kind = 'ddl';
        facts.select = null;
        if (isTemp(into.rel)) facts.pinsSession = true;
      }
      return facts;
    }
    case 'InsertStmt': {
      facts.kind = 'write';
      facts.insert = insertShape(body, lits);
      const conflict = body.onConflictClause as Node | undefined;
      if (conflict?.targetList)
        facts.assignments = assignments(facts.insert.table, conflict.targetList, lits);
      return facts;
    }
    case 'UpdateStmt':
    case 'DeleteStmt': {
      facts.kind = 'write';
      const from = [{ RangeVar: body.relation }, ...list(body.fromClause ?? body.usingClause)];
      const scope = scopeOf(from, new Set());
      facts.keyConditions = keyConditions([body.whereClause, ...innerJoinQuals(from)], scope, lits);
      addRanges(facts, rangeConditions([body.whereClause, ...innerJoinQuals(from)], scope, lits));
      if (type === 'UpdateStmt')
        facts.assignments = assignments(relName(body.relation) ?? '', body.targetList, lits);
      return facts;
    }
    case 'MergeStmt':
      facts.kind = 'write';
      facts.merge = true;
      return facts;
    case 'CopyStmt':
      facts.kind = 'utility';
      facts.utility = body.is_from ? 'copy_from' : 'copy_to';
      if (body.is_from) {
        const name = relName(body.relation);
        facts.writeTables = name ? [name] : [];
        facts.copyIn = copyInFacts(body);
      } else {
        const header = list(body.options).some((o) => {
          const d = isType(o, 'DefElem');
          return (
            d?.defname === 'header' && !['false', 'off', '0'].includes(String(constText(d.arg) ?? 'true'))
          );
        });
        facts.copyOut = { query: Boolean(body.query), header, stdout: !body.filename && !body.is_program };
        // COPY (query) TO STDOUT over several shards is written by shardgate in this format.
        if (body.query) facts.copyOut.format = copyOutFacts(body);
      }
      return facts;
    case 'VacuumStmt':
      facts.kind = 'utility';
      facts.utility = body.is_vacuumcmd ? 'vacuum' : 'analyze';
      return facts;
  }
  if (DDL.has(type)) {
    facts.kind = 'ddl';
    if (type === 'CreateStmt' || type === 'CreateSeqStmt') {
      if (isTemp(body.relation ?? body.sequence)) facts.pinsSession = true;
    } else if (type === 'ViewStmt') {
      if (isTemp(body.view)) facts.pinsSession = true;
    } else if (type === 'CreateTableAsStmt') {
      if (isTemp((body.into as Node | undefined)?.rel)) facts.pinsSession = true;
    } else if (
      type === 'DropStmt' &&
      (body.removeType === 'OBJECT_TABLE' || body.removeType === 'OBJECT_VIEW')
    ) {
      // DROP TABLE names its tables as name lists, not RangeVars.
      const names = new Set(facts.tables);
      for (const o of list(body.objects)) {
        const parts = list(isType(o, 'List')?.items).map(str);
        const last = parts[parts.length - 1];
        if (last) names.add(last.toLowerCase());
      }
      facts.tables = [...names].sort();
    }
    return facts;
  }
  facts.kind = 'utility';
  facts.utility = UTILITY[type] ?? 'other';
  if (type === 'ListenStmt' || type === 'PrepareStmt' || type === 'LoadStmt') facts.pinsSession = true;
  if (type === 'DeclareCursorStmt' && ((body.options as number) & CURSOR_OPT_HOLD) !== 0)
    facts.pinsSession = true;
  return facts;
}

function errorFacts(err: unknown): StatementFacts {
  const f = emptyStatementFacts('unknown');
  f.parseError = err instanceof Error ? err.message : String(err);
  return f;
}

/**
 * Parses the whole text once and returns facts per statement. A syntax error anywhere gives one
 * 'unknown' statement: the server rejects the whole text too, before running any of it.
 */
export function analyzePostgres(sql: string, literals: readonly Literal[]): StatementFacts[] {
  let tree: { stmts?: Array<{ stmt?: unknown }> };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch (err) {
    return [errorFacts(err)];
  }
  const stmts = tree?.stmts ?? [];
  if (stmts.length === 0) return [emptyStatementFacts('empty')];
  const lits = new LiteralMap(literals, sql);
  return stmts.map((s) => {
    try {
      return s.stmt ? analyzeStatement(s.stmt, lits) : emptyStatementFacts('empty');
    } catch (err) {
      // A tree shape this code did not expect: route conservatively, never crash.
      return errorFacts(err);
    }
  });
}
