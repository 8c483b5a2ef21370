// A Plan is data: what to run where, and why. The planner (planner.ts) is a pure function
// (facts, values, session, topology view) -> Plan; the executor runs it. Plans render to stable
// JSON (renderPlan) for SHARDGATE EXPLAIN, logs and golden tests.
import type { ConsistencyLevel } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { ResolvedProgram } from '../executor/aggregate-program.js';
import type { AggregateFn, ScatterRewrite, SetTree } from '../sql/facts.js';
import type { WindowProgram } from '../sql/pg-window-program.js';

export type Role = 'primary' | 'replica';

/** read_your_writes on a replica that has not yet replayed the session's write: wait, else fall back. */
export interface ReplayWait {
  /** The session's last write position on this shard (PostgreSQL LSN "X/Y" or MariaDB GTID). */
  position: string;
  maxWaitMs: number;
  /** Server to use when the wait runs out (the shard primary). */
  fallbackServer: string;
}

export interface RouteTarget {
  shard: string;
  /** Server name from the topology. */
  server: string;
  role: Role;
  wait?: ReplayWait;
}

export interface MergeOrder {
  /** 0-based column index in the result; -1: the column called `name` (after `*`). */
  column: number;
  name?: string;
  desc: boolean;
  nullsFirst: boolean;
}

export interface MergeAggregate {
  /** 0-based column index in the per-shard result. */
  column: number;
  fn: AggregateFn;
  /** For avg: the per-shard query returns sum at `column` and count at `countColumn`. For the
   *  stddev/variance family: count, sum(x::numeric), sum(x::numeric * x::numeric) are hidden at
   *  countColumn, sumColumn, sumSquaresColumn. */
  countColumn?: number;
  sumColumn?: number;
  sumSquaresColumn?: number;
  /** min()/max() of a plain table column (MySQL): whose collation compares text partials. */
  source?: { table: string; column: string };
}

/** How to combine per-shard results of a scatter read. */
export interface MergeSpec {
  /** MySQL: per CTE name, its plain-column outputs' table columns (text collation lookup). */
  cteSources?: Record<string, Record<string, { table: string; column: string }>>;
  /** MySQL set operations: per output position, each branch's table column (see SelectShape). */
  branchSources?: Array<Array<{ table: string; column: string }> | null>;
  /** Sort merged rows (each shard's rows arrive sorted the same way). */
  orderBy: MergeOrder[];
  /** Group on these 0-based columns and combine `aggregates`; empty groupBy + aggregates: one row. */
  groupBy: number[];
  aggregates: MergeAggregate[];
  /** Rows to skip, then rows to return, after merging. */
  offset: number;
  limit: number | null;
  distinct: boolean;
  /** Groups kept after merging: HAVING over hidden aggregate columns (listed in `aggregates`). */
  having?: MergeHaving;
  /** DISTINCT ON these 0-based columns: after ordering, the first row of each key. */
  distinctOn?: number[];
  /** A set operation evaluated at the proxy: each shard returns every leaf's rows tagged with
   *  the leaf number in a last column; leaves in onceLeaves (no sharded table) count once. */
  setOps?: { tree: SetTree; onceLeaves: number[] };
  /** Window functions evaluated at the proxy over the gathered rows, before ordering/paging. */
  windows?: WindowProgram;
  /** Aggregates computed at the proxy from hidden partial columns (constants resolved). */
  program?: ResolvedProgram;
  /** Columns added for the merge (e.g. avg's count) that the client must not see: the count kept. */
  visibleColumns: number | null;
}

/** A HAVING predicate with its constants resolved: column is a 0-based per-shard column. */
export type MergeHaving =
  | { op: 'and' | 'or' | 'not'; args: MergeHaving[] }
  | { op: 'compare'; comparison: string; column: number; value: string | null };

export interface PlanBase {
  /** Effective consistency level for reads; null for writes and statements without data. */
  level: ConsistencyLevel | null;
  /** Data types the statement touches. */
  dataTypes: string[];
  /** Topology version the plan was made against. */
  topologyVersion: number;
  /** Human-readable steps of the decision, in order. */
  reasons: string[];
  /** Shard-key values seen, for hot-key tracking: table -> values as text. */
  keys: Array<{ shard: string; table: string; value: string }>;
}

export interface SinglePlan extends PlanBase {
  type: 'single';
  target: RouteTarget;
  write: boolean;
}

export interface ScatterPlan extends PlanBase {
  type: 'scatter';
  targets: RouteTarget[];
  write: boolean;
  /** Null for writes and for plain concatenation without anything to merge. */
  merge: MergeSpec | null;
  /** SQL to send to each shard when it differs from the client's (e.g. avg -> sum, count; LIMIT n+offset). */
  rewrittenSql: string | null;
  /** Non-null when the per-shard SQL must be rewritten (see ScatterRewrite); rewrittenSql holds the result. */
  rewrite: ScatterRewrite | null;
  /** COPY table TO STDOUT: every shard's CopyData in turn (one CSV header line), summed tag. */
  copyOut?: { header: boolean };
  /** MySQL cross-shard join: the alias whose rows were put in as JSON_TABLE, and its real table
   *  (whose columns' collations order those rows' text). */
  detached?: { alias: string; table: string };
}

/** A multi-row INSERT whose rows belong to different shards (outside a transaction). */
export interface SplitInsertPlan extends PlanBase {
  type: 'split-insert';
  parts: Array<{ target: RouteTarget; rows: number[] }>;
  /** The INSERT omits the table's idColumn: each row gets values[row] in that column (the
   *  planner leaves values empty; the router fills them from its id generator). */
  fillIds?: { column: string; values: string[] };
}

/**
 * A read that combines two sharded tables without equating their shard keys. One occurrence
 * (detachable site `site`, of `table`) is fetched from its shards; the statement with those rows
 * in its place then reads one sharded table only, and runs as an ordinary read
 * (src/executor/broadcast-join.ts).
 */
export interface JoinPlan extends PlanBase {
  type: 'broadcast-join';
  site: number;
  table: string;
  form: 'table' | 'in-subquery';
  /** routing.maxJoinBytes: the fetched rows' bound. */
  maxBytes: number;
  /** The shard-key equality that would make the join co-located (for the refusal past the bound). */
  colocatedBy: string;
}

/**
 * An UPDATE that sets the shard key to a value owned by another shard (planner-key-change.ts):
 * the UPDATE runs on `sources`; on each source that is not the owner, the rows it changed are
 * deleted and inserted on `owner`, all in one cross-shard transaction (two-phase commit).
 */
export interface KeyMovePlan extends PlanBase {
  type: 'key-move';
  table: string;
  column: string;
  /** The new shard-key value, as text. */
  value: string;
  /** The primary of the shard that owns the new value. */
  owner: RouteTarget;
  /** The primaries the UPDATE runs on (the shards its WHERE clause needs). */
  sources: RouteTarget[];
}

/**
 * COPY table FROM STDIN into a sharded or reference table: one COPY per target primary, each row
 * sent to the shard its key maps to (keyColumn), or to every target (a reference table, keyColumn
 * null). All targets commit together (src/protocol/postgres/copy-in-runner.ts).
 */
export interface CopyInPlan extends PlanBase {
  type: 'copy-in';
  table: string;
  targets: RouteTarget[];
  keyColumn: string | null;
}

/**
 * COPY (query) TO STDOUT whose query needs several shards: the query runs as any read (planned
 * on its own, merged), and shardgate writes its rows in the COPY's format (copy-out-runner.ts).
 */
export interface CopyQueryOutPlan extends PlanBase {
  type: 'copy-query-out';
}

export type LocalAction =
  | { kind: 'set-context'; name: string; value: string | null }
  | { kind: 'show-context'; name: string }
  | { kind: 'explain'; plan: Plan }
  | { kind: 'clear-cache' };

/** Answered by the proxy itself; nothing reaches a backend. */
export interface LocalPlan extends PlanBase {
  type: 'local';
  action: LocalAction;
}

export interface ErrorPlan extends PlanBase {
  type: 'error';
  code: ErrorCode;
  params: Record<string, string | number>;
}

export type Plan =
  | SinglePlan
  | ScatterPlan
  | SplitInsertPlan
  | LocalPlan
  | ErrorPlan
  | JoinPlan
  | KeyMovePlan
  | CopyInPlan
  | CopyQueryOutPlan;

/** Stable JSON: keys in a fixed order so golden files and EXPLAIN output do not churn. */
export function renderPlan(plan: Plan): string {
  return JSON.stringify(
    plan,
    (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString();
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const sorted: Record<string, unknown> = {};
        for (const k of Object.keys(value).sort()) sorted[k] = (value as Record<string, unknown>)[k];
        return sorted;
      }
      return value;
    },
    2,
  );
}
