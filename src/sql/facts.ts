// QueryFacts: everything routing and scatter-gather need to know about a statement, and nothing
// more. Facts are computed once per query *shape* (fingerprint) and cached, so they never hold
// literal values themselves: they point at literals by index (into the fingerprint's literal
// list of the current text) or at bind parameters by number. Facts are independent of config, so
// routing rules can change at run time without invalidating the cache.

import type { AggregateProgram } from './pg-aggregate-program.js';
import type { WindowProgram } from './pg-window-program.js';

export type StatementKind =
  | 'read' // SELECT / VALUES / TABLE without locking or modifying CTEs (write functions: router)
  | 'write' // INSERT/UPDATE/DELETE/MERGE, SELECT ... FOR UPDATE, write functions, modifying CTEs
  | 'ddl' // CREATE/ALTER/DROP/TRUNCATE/GRANT/COMMENT ...
  | 'transaction' // BEGIN/START/COMMIT/ROLLBACK/SAVEPOINT/RELEASE/PREPARE TRANSACTION
  | 'session' // SET/SHOW/RESET/DISCARD
  | 'utility' // LISTEN/UNLISTEN/NOTIFY/COPY/VACUUM/ANALYZE/EXPLAIN/LOCK/PREPARE/EXECUTE/DEALLOCATE/...
  | 'shardgate' // SHARDGATE EXPLAIN ..., SET/SHOW/RESET shardgate.*: answered by the proxy itself
  | 'empty' // only comments / whitespace
  | 'unknown'; // could not be parsed: routed conservatively (primary)

/** Where a value comes from in the current execution of a shape. */
export type ValueRef =
  /** The Nth literal (0-based) of the fingerprint's literal list for this text. */
  | { kind: 'literal'; index: number; negate?: boolean }
  /** Bind parameter $index (1-based). */
  | { kind: 'param'; index: number }
  /** A value fixed by the shape itself (e.g. NULL, TRUE). */
  | { kind: 'const'; value: string | null };

/** The tables a statement's FROM list names, as key conditions resolve columns (both dialects). */
export interface FromScope {
  /** alias or name -> real table (MySQL: lower-cased); '' for subqueries and CTE references */
  aliases: Map<string, string>;
  /** Real tables of the FROM list (not subqueries, not CTE references). */
  tables: string[];
}

/** A column of a real table of the statement. */
export interface TableColumn {
  table: string;
  column: string;
}

/** `column = v`, `column IN (v1, v2)`, `column = ANY($n)` on a table of the statement. */
export interface KeyCondition {
  /** Real table name, lower-cased, without schema (aliases resolved). */
  table: string;
  column: string;
  /** Any of these values (one for `=`, several for IN). */
  values: ValueRef[];
  /** `= ANY($n)`: parameter n holds an array whose elements are the values. */
  arrayParam?: number;
}

export interface InsertShape {
  table: string;
  /** Column list as written; empty when the statement gives none (then table order). */
  columns: string[];
  /** One entry per VALUES row; each row one ValueRef per column (or null for an expression). */
  rows: Array<Array<ValueRef | null>>;
  /** INSERT ... SELECT, ON CONFLICT etc. keep rows but set this. */
  fromSelect: boolean;
  onConflict: boolean;
  returning: boolean;
  /** A bulk INSERT past limits.maxStatementTokens routed without its rows (rows is empty): a
   *  table whose rows decide the shard refuses it. */
  rowsUnread?: { maxTokens: number };
}

export type AggregateFn =
  | 'count'
  | 'sum'
  | 'min'
  | 'max'
  | 'avg'
  | 'bool_and'
  | 'bool_or'
  | 'stddev_samp'
  | 'stddev_pop'
  | 'var_samp'
  | 'var_pop';

export interface OutputColumn {
  /** Name the column will have in the result (alias or derived). */
  name: string;
  /** Aggregate call at the top of this target expression, if any. */
  aggregate?: AggregateFn;
  /** count(DISTINCT ...) and friends cannot be merged from per-shard results. */
  aggregateDistinct?: boolean;
  /** `*` expands to several columns; positions after it are unknown until RowDescription. */
  star?: boolean;
  /** min()/max() of a plain table column (MySQL): its collation orders the merge of text. */
  source?: { table: string; column: string };
}

export interface OrderItem {
  /** 1-based position in the output columns, when the sort key is an output column. */
  position: number | null;
  /** Name of the output column sorted by (for diagnostics). */
  name: string | null;
  /** A bare column name sorted by: after `*`, resolved against the result's columns. */
  columnName?: string;
  desc: boolean;
  /** NULLS FIRST/LAST as PostgreSQL resolves them (default: NULLS LAST for ASC, FIRST for DESC). */
  nullsFirst: boolean;
}

/** What a multi-shard SELECT needs to merge per-shard results. Present for plain SELECTs only. */
export interface SelectShape {
  outputs: OutputColumn[];
  orderBy: OrderItem[];
  limit: ValueRef | null;
  offset: ValueRef | null;
  /** 1-based output positions of GROUP BY keys; null entries: grouped by a non-output expression. */
  groupBy: Array<number | null>;
  distinct: boolean;
  hasAggregates: boolean;
  /** Window functions, set operations, HAVING etc. that a simple merge cannot reproduce. */
  unmergeable: string | null;
  /** Subqueries, CTEs, UNION branches and window functions that combine rows: each is right per
   *  shard only when it groups, partitions or correlates by the shard key. */
  nested?: NestedSelect[];
  /** 1-based output positions of DISTINCT ON expressions (null: not an output column). */
  distinctOn?: Array<number | null>;
  /** HAVING over count/sum/min/max compared with constants; hidden i is its i-th aggregate. */
  having?: { expr: HavingExpr; aggregates: AggregateFn[] };
  /** Aggregates the proxy computes from per-shard partials (expressions over aggregates,
   *  DISTINCT aggregates, array_agg/string_agg, HAVING over them). */
  program?: AggregateProgram;
  /** MySQL: the per-shard SQL of the program's hidden columns, in order (no literals inside). */
  programColumns?: string[];
  /** Top-level window functions the proxy can evaluate over the gathered rows (used when a
   *  window's partitions span shards). */
  windowProgram?: WindowProgram;
  /** Any top-level set operation: its operator tree over leaf SELECTs (0-based, left to right)
   *  and the tables each leaf reads; the proxy evaluates it over every shard's leaf rows. */
  setOps?: { tree: SetTree; branchTables: string[][] };
  /** MySQL: per CTE name, its plain-column outputs' table columns (whose collations compare). */
  cteSources?: Record<string, Record<string, { table: string; column: string }>>;
  /** MySQL set operations: per output position, the table column each branch reads there (null
   *  when a branch has an expression); text compares under their collation when they share one. */
  branchSources?: Array<Array<{ table: string; column: string }> | null>;
  /** A top-level UNION [ALL] of plain SELECTs: its kind and the tables each branch reads. */
  union?: { all: boolean; branchTables: string[][] };
}

/** A set operation's operator tree: leaves are the leaf SELECTs in text order. */
export type SetTree =
  | { leaf: number }
  | { op: 'union' | 'intersect' | 'except'; all: boolean; left: SetTree; right: SetTree };

/** A HAVING predicate the merge evaluates: comparisons of hidden aggregate columns. */
export type HavingExpr =
  | { op: 'and' | 'or' | 'not'; args: HavingExpr[] }
  | { op: 'compare'; comparison: string; hidden: number; value: ValueRef };

/** A subquery or CTE that combines rows: shard-local only when one of `keys` is a shard key. */
export interface NestedSelect {
  /** What combines rows ("an aggregate", "DISTINCT", "LIMIT/OFFSET", ...). */
  what: string;
  /** GROUP BY / DISTINCT ON / PARTITION BY columns and columns correlated to the outer row. */
  keys: string[];
}

export type TransactionAction =
  | 'begin'
  | 'commit'
  | 'rollback'
  | 'savepoint'
  | 'release'
  | 'rollback_to'
  | 'prepare'
  | 'commit_prepared'
  | 'rollback_prepared';

export interface TransactionFacts {
  action: TransactionAction;
  /** BEGIN READ ONLY / START TRANSACTION READ ONLY. */
  readOnly: boolean;
  /**
   * SAVEPOINT / ROLLBACK TO / RELEASE: the savepoint's name as the server compares it (PostgreSQL:
   * case-folded unless quoted); null when shardgate could not read it.
   */
  savepoint?: string | null;
}

export interface SessionFacts {
  action: 'set' | 'reset' | 'show' | 'discard';
  /** Lower-cased variable name ("search_path", "shardgate.vip", "all" for RESET ALL). */
  name: string | null;
  /** SET value as text (literal values resolved at analysis: SET has no bind parameters). */
  value: string | null;
  /** SET LOCAL: lasts to the end of the transaction. */
  local: boolean;
}

export type UtilityKind =
  | 'listen'
  | 'unlisten'
  | 'notify'
  | 'copy_from'
  | 'copy_to'
  | 'vacuum'
  | 'analyze'
  | 'explain'
  | 'lock'
  | 'prepare'
  | 'execute'
  | 'deallocate'
  | 'declare_cursor'
  | 'fetch'
  | 'close_cursor'
  | 'do'
  | 'call'
  | 'checkpoint'
  | 'other';

/** Comment hints: `/* shardgate: consistency=strong shard=s1 role=replica *\/`. */
export interface CommentHints {
  consistency?: string;
  shard?: string;
  role?: string;
  vip?: string;
  realtime?: string;
  battery_saving?: string;
}

/** Statements intercepted by the proxy (kind 'shardgate'). */
export type ShardgateCommand =
  | { command: 'explain'; statement: string }
  | { command: 'set'; name: string; value: string | null }
  | { command: 'show'; name: string }
  | { command: 'reset'; name: string }
  /** SHARDGATE CLEAR CACHE: drops every result-cache entry. */
  | { command: 'clear_cache' };

export interface StatementFacts {
  kind: StatementKind;
  /** All tables read or written, real names lower-cased without schema, deduplicated, sorted. */
  tables: string[];
  /** Tables written (INSERT/UPDATE/DELETE/MERGE targets, also in CTEs). */
  writeTables: string[];
  /** Shard-key candidates: equality conditions in the top-level AND of each WHERE/JOIN ON. */
  keyConditions: KeyCondition[];
  insert: InsertShape | null;
  select: SelectShape | null;
  /** FOR UPDATE / FOR SHARE / FOR NO KEY UPDATE / FOR KEY SHARE anywhere (subqueries, CTEs). */
  locking: boolean;
  /** WITH x AS (INSERT/UPDATE/DELETE ...). */
  modifyingCte: boolean;
  /** A MERGE statement (a compensating template cannot name its kind). */
  merge?: boolean;
  /** Every function called anywhere (lower-cased, without schema). The router applies the
   *  configurable write-function list (nextval, setval, ...) to it, so the cache stays valid
   *  when that list changes. */
  functions: string[];
  transaction: TransactionFacts | null;
  session: SessionFacts | null;
  utility: UtilityKind | null;
  /** COPY ... TO STDOUT: whether it copies a query (not a table) and has a CSV HEADER line. */
  copyOut?: { query: boolean; header: boolean; stdout: boolean; format?: CopyInFacts };
  /** COPY table FROM ...: what splitting its rows by shard key needs (src/sql/pg-copy-facts.ts). */
  copyIn?: CopyInFacts;
  shardgate: ShardgateCommand | null;
  /** DDL or utility touching temp objects, advisory locks etc.: pins the server connection. */
  pinsSession: boolean;
  /** Parse error message when kind is 'unknown'. */
  parseError: string | null;
  /** UPDATE ... SET and ON CONFLICT / ON DUPLICATE KEY UPDATE assignments: the planner refuses
   *  one that moves a row off its shard (a new shard-key value owned by another shard). */
  assignments?: Assignment[];
  /** `key < v`, `key >= v`, `key BETWEEN a AND b` in the top-level AND of the WHERE: a
   *  range-sharded table needs only the shards whose ranges they cover. */
  ranges?: RangeCondition[];
  /** Table occurrences and the equalities between them: the planner decides co-location. */
  colocation?: ColocationFacts;
}

export interface RangeBound {
  value: ValueRef;
  inclusive: boolean;
}

export interface RangeCondition {
  table: string;
  column: string;
  low: RangeBound | null;
  high: RangeBound | null;
}

export interface Assignment {
  table: string;
  column: string;
  /** The new value when it is a constant or a parameter; null for an expression. */
  value: ValueRef | null;
}

/** A whole query text: one or several statements (simple query protocol allows several). */
export interface QueryFacts {
  statements: StatementFacts[];
  hints: CommentHints;
  /** Number of literals the fingerprint extracted (sanity check on cache hits). */
  literalCount: number;
  /** Highest $n used. */
  paramCount: number;
}

/** Facts of a statement that touches nothing (the base every analysis fills in). */
export function emptyStatementFacts(kind: StatementKind): StatementFacts {
  return {
    kind,
    tables: [],
    writeTables: [],
    keyConditions: [],
    insert: null,
    select: null,
    locking: false,
    modifyingCte: false,
    functions: [],
    transaction: null,
    session: null,
    utility: null,
    shardgate: null,
    pinsSession: false,
    parseError: null,
  };
}

/** A shape with no known columns: a plain concatenation when `unmergeable` is null, else no merge. */
export function columnlessShape(unmergeable: string | null): SelectShape {
  return {
    outputs: [],
    orderBy: [],
    limit: null,
    offset: null,
    groupBy: [],
    distinct: false,
    hasAggregates: false,
    unmergeable,
  };
}

/** A column as written: the table occurrences (indexes into ColocationFacts.refs) it may belong
 *  to (one when qualified; each occurrence of the innermost FROM when not) and its name. */
export interface ColumnOf {
  refs: number[];
  column: string;
}

/** A nested query block whose rows depend on other rows (GROUP BY, aggregates, DISTINCT, window
 *  functions, LIMIT): run per shard it is right only when it sees one shard-key value at a time. */
export interface LocalBlock {
  /** Occurrences inside the block (nested ones included). */
  refs: number[];
  /** The construct, for the refusal message. */
  what: string;
  /** Columns that fix the block to one key value: correlation with the outer query, and (when
   *  grouping is all it does) its GROUP BY / DISTINCT columns. */
  keyColumns: ColumnOf[];
}

/**
 * How the table occurrences of a statement are combined. Present when there are several
 * occurrences or a nested block that needs a shard-local check; the planner, which knows the
 * shard keys, decides whether each shard can answer for its own rows.
 */
export interface ColocationFacts {
  /** Real table of each occurrence (FROM items and DML targets at any depth). */
  refs: string[];
  /** Occurrences whose rows are combined; several groups for the branches of a top-level
   *  set operation (UNION ALL of per-shard branches needs no co-location between them). */
  groups: number[][];
  /** `a = b` between two occurrences' columns: WHERE / JOIN ON top-level AND, USING, IN (SELECT). */
  links: Array<[ColumnOf, ColumnOf]>;
  /** `col = value`, IN (...), = ANY(...) restricting one occurrence (WHERE / inner JOIN ON). */
  pins: Array<{ of: ColumnOf; values: ValueRef[]; arrayParam?: number }>;
  blocks: LocalBlock[];
  /** The top-level FROM's tables and the WHERE's IN subqueries, for a cross-shard join
   *  (src/sql/pg-detach-sites.ts says which may be replaced by rows); numbered as the rewrite
   *  finds them again. */
  joinSites?: JoinSite[];
}

export interface JoinSite {
  form: 'table' | 'in-subquery';
  table: string;
  /** May be replaced by its rows fetched from every shard. */
  detachable: boolean;
  /** Never null-extended: left as the only sharded table, the shards partition the result. */
  anchor: boolean;
}

/** A SELECT's join sites (their JoinSite fields), kept when one of them could be detached. */
export function noteJoinSites(colocation: ColocationFacts, sites: readonly JoinSite[]): void {
  const joinSites = sites.map(({ form, table, detachable, anchor }) => ({ form, table, detachable, anchor }));
  if (joinSites.some((s) => s.detachable)) colocation.joinSites = joinSites;
}

/**
 * How each shard's SQL must differ from the client's for a scatter read. The planner sees facts,
 * not text: the router applies this with scatter-rewrite.ts and fills rewrittenSql.
 */
export interface ScatterRewrite {
  /**
   * Replaces the client's LIMIT/OFFSET on every shard: a number is `LIMIT n` (the client's
   * limit + offset) without OFFSET; null removes LIMIT and OFFSET (grouped/aggregated results:
   * the merge applies them).
   */
  limit: number | null;
  /** 0-based output columns holding avg(x): send sum(x) there and append count(x) at the end. */
  avgColumns: number[];
  /** 0-based output columns holding stddev/variance(x): append count(x), sum(x::numeric) and
   *  sum(x::numeric * x::numeric) after the avg counts (PostgreSQL only). */
  statColumns?: number[];
  /** Remove HAVING and append its aggregates after everything else (the merge filters groups). */
  having?: boolean;
  /** The aggregate program: every aggregate-holding output becomes a typed NULL per shard, its
   *  partials are appended, HAVING and ORDER BY are removed (the merge evaluates them). */
  program?: boolean;
  /** MySQL: the program's hidden columns' SQL, appended to the select list as written. */
  programColumns?: string[];
  /** Window outputs become typed NULLs, their inputs are appended, ORDER BY is removed. */
  windows?: boolean;
  /** Run the set operation's leaves, tagged, as one UNION ALL (this many leaves). */
  setOps?: number;
}

/** COPY table [(columns)] FROM STDIN and the options that decide how its rows are read. */
export interface CopyInFacts {
  table: string;
  schema: string | null;
  /** The column list, or null for all columns in table order. */
  columns: string[] | null;
  stdin: boolean;
  csv: boolean;
  header: boolean;
  delimiter: string;
  nullText: string;
  quote: string;
  escape: string;
  defaultText: string | null;
  forceNull: string[] | '*';
  /** Why the rows cannot be split at the proxy (binary format...), or null. */
  problem: string | null;
}
