// The snapshot copy: every moved table read in primary-key order from the slot's exported
// snapshot (REPEATABLE READ + SET TRANSACTION SNAPSHOT) by keyset pagination, each row routed by
// shard key to the target owning it (a reference table's rows to every target, an unsharded
// table's to the first), written as multi-row upserts (one transaction per target
// per batch), throttled, and checkpointed after every batch. The cursor only moves once every
// target committed the batch, so a batch is never skipped; a re-written batch is harmless (an
// upsert of the same snapshot image). A target that goes away pauses the copy until it is back.
import type pg from 'pg';
import type { KeyRange } from '../domain/keyspace.js';
import { Destination, untilReachable } from './destination.js';
import { openClient, withClient } from './pg-connect.js';
import type { BackoffSettings } from './retry.js';
import { holders, inRangesSql, rowOwner, tableKind } from './row-owner.js';
import { upsertRows } from './row-sql.js';
import { loadTableMeta, pkExpr, pkOrder, pkParams, quoteLiteral, type TableMeta } from './table-meta.js';
import type { Throttle } from './throttle.js';
import type { MovedTable, ServerAddress, SplitTarget, TableCopyState } from './types.js';

export interface CopyProgress {
  table: string;
  rows: number;
  bytes: number;
  /** Rate of this run (since copyTables was called) for this table. */
  rowsPerSecond: number;
  bytesPerSecond: number;
  estimatedRows: number;
  done: boolean;
  /** Rows of the source whose shard key no target owns (not copied). */
  unownedRows: number;
}

export interface CopyOptions {
  source: ServerAddress;
  targets: readonly SplitTarget[];
  tables: readonly MovedTable[];
  states: TableCopyState[];
  /** The exported snapshot of the slot (or of the temporary slot of a resumed segment). */
  snapshotName: string;
  throttle: Throttle;
  /** Persists the states; awaited after every batch before the next one is read. */
  checkpoint: (states: TableCopyState[]) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (progress: CopyProgress) => void;
  /** "copying", or "paused: target X unreachable (reason)" while a target is away. */
  onStatus?: (status: string) => void;
  backoff?: BackoffSettings;
  /**
   * The keyspace this source owns on the targets, when another source copies the rest (a merge):
   * removing an unfinished batch's rows then leaves the other source's rows of a sharded table alone.
   */
  sourceScope?: readonly KeyRange[];
}

export interface CopyResult {
  /** False when the signal aborted first; the states hold the last checkpoint. */
  complete: boolean;
  rows: number;
  bytes: number;
}

/** Fresh copy states for the tables: key columns from the catalog, one segment at the slot's point. */
export async function newCopyStates(
  source: ServerAddress,
  tables: readonly MovedTable[],
  consistentLsn: string,
): Promise<TableCopyState[]> {
  return withClient(source, 'migration-plan', async (c) => {
    const states: TableCopyState[] = [];
    for (const t of tables) {
      const meta = await loadTableMeta(c, t.name);
      const est = await c.query<{ n: string }>(
        'SELECT greatest(reltuples, 0)::int8::text AS n FROM pg_class WHERE oid = to_regclass($1::text)',
        [meta.qualified],
      );
      states.push({
        table: t.name,
        primaryKey: meta.primaryKey.map((k) => k.name),
        lastKey: null,
        rows: 0,
        bytes: 0,
        done: false,
        segments: [{ after: null, lsn: consistentLsn }],
        estimatedRows: Number(est.rows[0]?.n ?? 0),
      });
    }
    return states;
  });
}

function sameKey(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function rowBytes(row: ReadonlyArray<string | null>): number {
  let n = 0;
  for (const v of row) if (v !== null) n += Buffer.byteLength(v);
  return n;
}

interface TableRun {
  table: MovedTable;
  state: TableCopyState;
  meta: TableMeta;
  shardKeyIndex: number;
  keyIndexes: number[];
}

class TableCopier {
  private runRows = 0;
  private runBytes = 0;
  private unowned = 0;
  private readonly started = Date.now();
  private readonly ranges: KeyRange[];

  constructor(
    private readonly o: CopyOptions,
    private readonly source: pg.Client,
    private readonly targets: Destination[],
    private readonly signal: AbortSignal,
    private readonly run: TableRun,
  ) {
    this.ranges = o.targets.map((t) => t.range);
  }

  /** Copies until the table is done (true) or the signal aborts (false). */
  async copy(): Promise<boolean> {
    const { state, meta } = this.run;
    const last = state.segments[state.segments.length - 1];
    // The segment starting at the cursor is a fresh or resumed snapshot: rows past the cursor on
    // the targets came from an unfinished batch of an older snapshot (rows deleted since would
    // survive there), so they go before this snapshot's copy resumes.
    if (last && sameKey(last.after, state.lastKey)) {
      const table = this.run.table;
      const conds = [
        ...(state.lastKey ? [`${pkExpr(meta)} > ${pkParams(meta, 1)}`] : []),
        ...(this.o.sourceScope && tableKind(table) === 'sharded'
          ? [inRangesSql(table.shardKey, table.keyType, this.o.sourceScope)]
          : []),
      ];
      const sql = `DELETE FROM ${meta.qualified}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`;
      const held = holders(this.run.table, this.targets.length);
      const ok = await this.onEveryTarget(
        (client) => client.query(sql, state.lastKey ?? []),
        this.targets.map((_, i) => (held.includes(i) ? [true] : [])),
      );
      if (!ok) return false;
    }
    const select = (after: boolean) =>
      `SELECT ${meta.columns.map((c) => `"${c.name.replace(/"/g, '""')}"`).join(', ')} FROM ${meta.qualified}` +
      (after ? ` WHERE ${pkExpr(meta)} > ${pkParams(meta, 1)}` : '') +
      ` ORDER BY ${pkOrder(meta)} LIMIT $${after ? meta.primaryKey.length + 1 : 1}`;
    const firstSql = select(false);
    const nextSql = select(true);
    for (;;) {
      if (this.signal.aborted) return false;
      const batch = this.o.throttle.batchRows;
      const r = await this.source.query<Array<string | null>>({
        text: state.lastKey ? nextSql : firstSql,
        values: state.lastKey ? [...state.lastKey, batch] : [batch],
        rowMode: 'array',
      });
      const rows = r.rows;
      if (rows.length === 0) {
        state.done = true;
        await this.o.checkpoint(this.o.states);
        this.report();
        return true;
      }
      const perTarget: Array<Array<Array<string | null>>> = this.targets.map(() => []);
      let bytes = 0;
      for (const row of rows) {
        bytes += rowBytes(row);
        const owner = rowOwner(this.run.table, row[this.run.shardKeyIndex], this.ranges);
        if (owner === null) this.unowned++;
        else if (owner === 'all') for (const rows of perTarget) rows.push(row);
        else perTarget[owner]!.push(row);
      }
      await this.o.throttle.take(rows.length, bytes, this.signal);
      if (this.signal.aborted) return false;
      const ok = await this.onEveryTarget((client, i) => upsertRows(client, meta, perTarget[i]!), perTarget);
      if (!ok) return false;
      const lastRow = rows[rows.length - 1]!;
      state.lastKey = this.run.keyIndexes.map((i) => lastRow[i] ?? '');
      state.rows += rows.length;
      state.bytes += bytes;
      this.runRows += rows.length;
      this.runBytes += bytes;
      if (rows.length < batch) state.done = true;
      await this.o.checkpoint(this.o.states);
      this.report();
      if (state.done) return true;
    }
  }

  /**
   * Runs op in one transaction on every target (only those with rows when `only` is given), in
   * parallel; a target that is unreachable is retried alone until it is back. False on abort.
   */
  private async onEveryTarget(
    op: (client: pg.Client, index: number) => Promise<unknown>,
    only?: ReadonlyArray<readonly unknown[]>,
  ): Promise<boolean> {
    const results = await Promise.all(
      this.targets.map(async (dest, i) => {
        if (only && only[i]!.length === 0) return true;
        const done = await untilReachable(dest, () => dest.transaction((c) => op(c, i)), {
          signal: this.signal,
          backoff: this.o.backoff,
          onPause: (reason) => this.o.onStatus?.(`paused: target ${dest.name} unreachable (${reason})`),
          onResume: () => this.o.onStatus?.('copying'),
        });
        return done !== undefined;
      }),
    );
    return results.every(Boolean) && !this.signal.aborted;
  }

  private report(): void {
    const { state } = this.run;
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000);
    this.o.onProgress?.({
      table: state.table,
      rows: state.rows,
      bytes: state.bytes,
      rowsPerSecond: this.runRows / seconds,
      bytesPerSecond: this.runBytes / seconds,
      estimatedRows: state.estimatedRows,
      done: state.done,
      unownedRows: this.unowned,
    });
  }
}

async function prepareRun(source: pg.Client, table: MovedTable, state: TableCopyState): Promise<TableRun> {
  const meta = await loadTableMeta(source, table.name);
  const pkNames = meta.primaryKey.map((c) => c.name);
  if (state.primaryKey.length === 0) state.primaryKey = pkNames;
  else if (state.primaryKey.join(',') !== pkNames.join(','))
    throw new Error(
      `the primary key of ${table.name} changed since the plan (${state.primaryKey.join(', ')} -> ${pkNames.join(', ')}); abort the split and plan it again`,
    );
  const shardKeyIndex = meta.columns.findIndex((c) => c.name === table.shardKey);
  if (shardKeyIndex < 0 && tableKind(table) === 'sharded')
    throw new Error(`table ${table.name} has no shard key column ${table.shardKey}`);
  const keyIndexes = pkNames.map((n) => meta.columns.findIndex((c) => c.name === n));
  return { table, state, meta, shardKeyIndex, keyIndexes };
}

/** Copies every table not yet done, from the given exported snapshot. */
export async function copyTables(o: CopyOptions): Promise<CopyResult> {
  const before = o.states.reduce((acc, s) => ({ rows: acc.rows + s.rows, bytes: acc.bytes + s.bytes }), {
    rows: 0,
    bytes: 0,
  });
  const internal = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, internal.signal]) : internal.signal;
  const source = await openClient(o.source, 'migration-copy');
  const targets = o.targets.map((t) => new Destination(t.server, 'migration-copy'));
  let complete = false;
  try {
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await source.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(o.snapshotName)}`);
    o.onStatus?.('copying');
    complete = true;
    for (const table of o.tables) {
      const state = o.states.find((s) => s.table === table.name);
      if (!state) throw new Error(`no copy state for table ${table.name}`);
      if (state.done) continue;
      const run = await prepareRun(source, table, state);
      if (!(await new TableCopier(o, source, targets, signal, run).copy())) {
        complete = false;
        break;
      }
    }
  } finally {
    internal.abort(); // ends retry loops still waiting on a target if a table failed
    await source.query('ROLLBACK').catch(() => undefined);
    await source.end().catch(() => undefined);
    await Promise.all(targets.map((t) => t.close()));
  }
  const after = o.states.reduce((acc, s) => ({ rows: acc.rows + s.rows, bytes: acc.bytes + s.bytes }), {
    rows: 0,
    bytes: 0,
  });
  return { complete, rows: after.rows - before.rows, bytes: after.bytes - before.bytes };
}
