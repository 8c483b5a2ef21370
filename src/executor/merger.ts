// Combines per-shard results of one scatter read into the result a single database would give,
// by running the primitives the merge spec asks for, in SQL's order: concatenation (or a set
// operation over tagged leaves), windows, grouping (the column-wise aggregate, or the aggregate
// program), HAVING, DISTINCT, ORDER BY, DISTINCT ON, OFFSET/LIMIT, hidden columns dropped.
// Both protocols use it; memory is bounded by maxRows (MERGE_ROW_LIMIT past it).
import { ShardgateError } from '../errors.js';
import type { MergeSpec } from '../router/plan.js';
import { aggregateRows } from './aggregate.js';
import { averageType } from './aggregate-partials.js';
import { runProgram } from './aggregate-program.js';
import { concatShards } from './concat.js';
import { distinctRows, firstPerKey } from './distinct.js';
import { filterHaving } from './having.js';
import { pageRows } from './limit.js';
import { sortRows } from './merge-sort.js';
import type { ColumnInfo, Row } from './rows.js';
import { evaluateSetOperation } from './set-operations.js';
import { runWindows } from './window-functions.js';

export class ResultMerger {
  private readonly perShard: Row[][] = [];
  private held = 0;

  constructor(
    private readonly spec: MergeSpec | null,
    private readonly columns: ColumnInfo[],
    private readonly options: {
      maxRows: number;
      /** PostgreSQL: avg() as numeric with PostgreSQL's result scale (or float8), sums of the
       *  column's own type, stddev/variance; otherwise avg is left for the protocol to format. */
      postgres?: boolean;
    },
  ) {}

  /** The columns the client sees: avg's type is numeric or float8, not its partial sum's. */
  outputColumns(): ColumnInfo[] {
    const cols = this.columns.slice();
    if (this.options.postgres && this.spec) {
      for (const a of this.spec.aggregates) {
        if (a.fn === 'avg' && a.countColumn !== undefined) {
          const c = cols[a.column]!;
          cols[a.column] = { ...c, typeOid: averageType(c.typeOid) };
        }
      }
    }
    // A set operation's leaf number (the last column) is the merge's own.
    if (this.spec?.setOps) return cols.slice(0, -1);
    return this.spec?.visibleColumns != null ? cols.slice(0, this.spec.visibleColumns) : cols;
  }

  add(shardIndex: number, row: Row): void {
    if (++this.held > this.options.maxRows)
      throw new ShardgateError('MERGE_ROW_LIMIT', { limit: this.options.maxRows });
    let list = this.perShard[shardIndex];
    if (!list) this.perShard[shardIndex] = list = [];
    list.push(row);
  }

  finish(): Row[] {
    const spec = this.spec;
    const cols = this.columns;
    let rows = spec?.setOps
      ? evaluateSetOperation(this.perShard, spec.setOps.tree, spec.setOps.onceLeaves, cols)
      : concatShards(this.perShard);
    if (!spec) return rows;
    if (spec.windows) rows = runWindows(rows, spec.windows, cols);
    if (spec.program) rows = runProgram(rows, spec.program, cols, spec.groupBy);
    else if (spec.aggregates.length > 0 || spec.groupBy.length > 0)
      rows = aggregateRows(rows, spec, cols, this.options.postgres === true);
    if (spec.having) rows = filterHaving(rows, spec.having, cols);
    if (spec.distinct) rows = distinctRows(rows, cols);
    if (spec.orderBy.length > 0) rows = sortRows(rows, spec.orderBy, cols);
    if (spec.distinctOn) rows = firstPerKey(rows, spec.distinctOn);
    rows = pageRows(rows, spec.offset, spec.limit);
    if (spec.visibleColumns !== null) rows = rows.map((r) => r.slice(0, spec.visibleColumns!));
    return rows;
  }
}
