// Applies the changes of source transactions to the destinations, idempotently, in one
// destination transaction per destination (opened on first use, committed together):
//   INSERT/UPDATE: upsert of the full new row image into the destination owning its shard key;
//                  when that inserted the row there (it was not on its owner), delete it by key on
//                  the others (an update may move a row's shard key). Invariant: after every
//                  applied batch a key is on at most one destination, so a row the upsert
//                  updated in place cannot be anywhere else and needs no delete;
//   DELETE:        delete by primary key on every destination (the old-key tuple has only the key).
// A reference table's row is upserted on every destination (never deleted elsewhere); an
// unsharded table exists on the first destination only, so nothing is sent to the others.
// Batches: a table's changes are collected and coalesced to one image per key (change-batch.ts),
// then sent as one multi-row upsert and one delete per table and destination, every destination
// at once. A table that a constraint ties to other rows (unique index besides the primary key,
// exclusion constraint, foreign key either way) is applied in source order instead: upserts of
// distinct keys to one destination batched, any other statement sending the batch first.
// Replaying a change therefore leaves the same rows. Unchanged TOASTed values ('u' in pgoutput,
// `undefined` here) are never written: the row keeps them where it is, or they are read from
// the destination the row moves away from.
import type pg from 'pg';
import { coalesceChanges, hasUnchanged, keyText, type RowChange } from './change-batch.js';
import type { Destination } from './destination.js';
import { describeError } from './pg-connect.js';
import { holders, type RowOwner, type RowRoute, type TextRow, tableKind } from './row-owner.js';
import {
  deleteByKeysSql,
  rowsPerStatement,
  selectColumnsSql,
  updateColumnsSql,
  upsertReturningSql,
  upsertRows,
} from './row-sql.js';
import type { KeyCompare, Segment } from './segments.js';
import type { TableMeta } from './table-meta.js';
import type { MovedTable } from './types.js';

/** A moved table as the applier knows it. */
export interface AppliedTable {
  moved: MovedTable;
  meta: TableMeta;
  /** Copy segments (forward capture); empty = every change applies. */
  segments: readonly Segment[];
  compare: KeyCompare;
  /** A constraint ties its rows to other rows: its changes are applied in source order. */
  ordered: boolean;
}

/**
 * Whether a constraint makes the order of changes to different keys matter: a unique index
 * other than the primary key, an exclusion constraint, or a foreign key from or to the table.
 */
export async function hasCrossRowConstraints(client: pg.Client, meta: TableMeta): Promise<boolean> {
  // The data plane's connections return every value as text (pg-connect.ts).
  const r = await client.query<{ tied: boolean | string }>(
    `SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = $1::regclass AND indisunique AND NOT indisprimary)
         OR EXISTS (SELECT 1 FROM pg_constraint
                     WHERE (conrelid = $1::regclass OR confrelid = $1::regclass) AND contype IN ('f', 'x')) AS tied`,
    [meta.qualified],
  );
  const tied = r.rows[0]?.tied;
  return tied === true || tied === 't';
}

/** A statement failed on one destination; `cause` tells whether it is reachable. */
export class DestinationFailure extends Error {
  constructor(
    readonly destination: string,
    override readonly cause: unknown,
  ) {
    super(`destination ${destination}: ${describeError(cause)}`);
    this.name = 'DestinationFailure';
  }
}

/** The primary-key values of a decoded row; null if one is missing (not a full key). */
export function keyOf(meta: TableMeta, row: TextRow): string[] | null {
  const key: string[] = [];
  for (const c of meta.primaryKey) {
    const v = row[c.name];
    if (typeof v !== 'string') return null;
    key.push(v);
  }
  return key;
}

interface PendingUpserts {
  t: AppliedTable;
  rows: Array<Array<string | null>>;
  keys: Set<string>;
}

/** Rows one batched statement carries at most. */
const MAX_BATCH = 500;
/** Collected changes that are applied (inside the open transactions) once this many wait. */
const MAX_COLLECTED = 5_000;

export interface WriterOptions {
  /** Coalesce the changes of tables without cross-row constraints (default true). */
  coalesce?: boolean;
}

export class TransactionWriter {
  private readonly open = new Map<number, pg.Client>();
  private readonly pending = new Map<number, PendingUpserts>();
  /** Changes of coalesced tables not yet sent, per table in the order tables first appear. */
  private collected = new Map<AppliedTable, RowChange[]>();
  private collectedCount = 0;

  constructor(
    private readonly destinations: readonly Destination[],
    private readonly route: RowRoute,
    private readonly options: WriterOptions = {},
  ) {}

  /** The destination's connection inside this transaction (BEGIN on first use). */
  private async client(i: number): Promise<pg.Client> {
    const existing = this.open.get(i);
    if (existing) return existing;
    const dest = this.destinations[i]!;
    try {
      const c = await dest.connection();
      await c.query('BEGIN');
      this.open.set(i, c);
      return c;
    } catch (err) {
      throw new DestinationFailure(dest.name, err);
    }
  }

  private async run(i: number, sql: string, params: unknown[]): Promise<pg.QueryResult> {
    const c = await this.client(i);
    try {
      return await c.query(sql, params);
    } catch (err) {
      throw new DestinationFailure(this.destinations[i]!.name, err);
    }
  }

  private async deleteElsewhere(t: AppliedTable, keys: string[][], keep: number | null): Promise<void> {
    if (keys.length === 0) return;
    for (const i of holders(t.moved, this.destinations.length)) {
      if (i === keep) continue;
      await this.flushDestination(i);
      await this.deleteKeysOn(i, t.meta, keys);
    }
  }

  /** DELETE by key, in as few statements as the parameter limit allows. */
  private async deleteKeysOn(i: number, meta: TableMeta, keys: readonly string[][]): Promise<void> {
    const per = Math.min(MAX_BATCH, Math.floor(65_535 / Math.max(1, meta.primaryKey.length)));
    for (let k = 0; k < keys.length; k += per) {
      const slice = keys.slice(k, k + per);
      await this.run(i, deleteByKeysSql(meta, slice.length), slice.flat());
    }
  }

  /** Upserts full images on destination i; returns the keys the upserts inserted. */
  private async upsertOnReturning(
    i: number,
    meta: TableMeta,
    rows: ReadonlyArray<ReadonlyArray<string | null>>,
  ): Promise<string[][]> {
    const inserted: string[][] = [];
    const per = Math.min(MAX_BATCH, rowsPerStatement(meta));
    for (let k = 0; k < rows.length; k += per) {
      const slice = rows.slice(k, k + per);
      const r = await this.run(i, upsertReturningSql(meta, slice.length), slice.flat());
      for (const row of r.rows as Array<Record<string, string | boolean>>)
        if (row.inserted === true || row.inserted === 't')
          inserted.push(meta.primaryKey.map((_, n) => String(row[`k${n}`])));
    }
    return inserted;
  }

  /** Sends a destination's batched upserts; rows they inserted are deleted on the others. */
  private async flushDestination(i: number): Promise<void> {
    const batch = this.pending.get(i);
    if (!batch) return;
    this.pending.delete(i);
    const inserted = await this.upsertOnReturning(i, batch.t.meta, batch.rows);
    // A reference row belongs on every destination: inserting it here moves it from nowhere.
    if (tableKind(batch.t.moved) !== 'reference') await this.deleteElsewhere(batch.t, inserted, i);
  }

  private async flushAll(): Promise<void> {
    for (const i of [...this.pending.keys()]) await this.flushDestination(i);
  }

  async deleteKey(t: AppliedTable, key: string[]): Promise<void> {
    if (this.coalesces(t)) return this.collect(t, { op: 'delete', key });
    await this.deleteElsewhere(t, [key], null);
  }

  async upsert(t: AppliedTable, row: TextRow): Promise<void> {
    const { meta } = t;
    const key = keyOf(meta, row);
    if (!key) throw new Error(`a change of ${meta.table} arrived without its primary key`);
    for (const c of meta.columns)
      if (!(c.name in row))
        throw new Error(
          `column ${c.name} of ${meta.table} is missing from the change stream: the table's schema changed during the split; abort it and plan again`,
        );
    if (this.coalesces(t)) return this.collect(t, { op: 'upsert', key, row });
    const owner = this.ownerOf(t, row);
    if (owner === null) return this.deleteElsewhere(t, [key], null);
    for (const i of this.targetsOf(owner)) await this.upsertOn(t, row, key, i);
  }

  private coalesces(t: AppliedTable): boolean {
    return this.options.coalesce !== false && !t.ordered;
  }

  private async collect(t: AppliedTable, change: RowChange): Promise<void> {
    let list = this.collected.get(t);
    if (!list) this.collected.set(t, (list = []));
    list.push(change);
    if (++this.collectedCount >= MAX_COLLECTED) await this.sendCollected();
  }

  private ownerOf(t: AppliedTable, row: TextRow): RowOwner {
    const owner = this.route(t.moved.name, row);
    if (owner === null || owner === 'all') return owner;
    if (!Number.isInteger(owner) || owner < 0 || owner >= this.destinations.length)
      throw new Error(
        `the route of ${t.meta.table} returned destination ${owner} of ${this.destinations.length}`,
      );
    return owner;
  }

  private targetsOf(owner: number | 'all'): number[] {
    return owner === 'all' ? [...this.destinations.keys()] : [owner];
  }

  /** Sends the collected changes: per table, one image per key. */
  private async sendCollected(): Promise<void> {
    const tables = this.collected;
    this.collected = new Map();
    this.collectedCount = 0;
    for (const [t, changes] of tables) await this.sendTable(t, coalesceChanges(changes));
  }

  /**
   * One table's coalesced changes (one per key): on every holding destination at once, a delete
   * of the deleted keys and an upsert of the rows it owns; then, at once again, rows an upsert
   * inserted leave the other destinations. Images without their unchanged TOASTed values last.
   */
  private async sendTable(t: AppliedTable, changes: readonly RowChange[]): Promise<void> {
    const { meta } = t;
    const deleted: string[][] = [];
    const rows = new Map<number, Array<Array<string | null>>>();
    const partial: Array<{ row: TextRow; key: string[]; owner: number | 'all' }> = [];
    for (const c of changes) {
      const key = [...c.key];
      const owner = c.op === 'upsert' ? this.ownerOf(t, c.row) : null;
      if (c.op === 'delete' || owner === null) deleted.push(key);
      else if (hasUnchanged(c.row)) partial.push({ row: c.row, key, owner });
      else {
        const image = meta.columns.map((col) => c.row[col.name] as string | null);
        for (const i of this.targetsOf(owner)) {
          let list = rows.get(i);
          if (!list) rows.set(i, (list = []));
          list.push(image);
        }
      }
    }
    const places = [...new Set([...holders(t.moved, this.destinations.length), ...rows.keys()])];
    const inserted = new Map<number, string[][]>();
    await this.onEach(places, async (i) => {
      if (deleted.length > 0) await this.deleteKeysOn(i, meta, deleted);
      const own = rows.get(i);
      if (own) inserted.set(i, await this.upsertOnReturning(i, meta, own));
    });
    // A reference row belongs on every destination: inserting it here moves it from nowhere.
    if (tableKind(t.moved) !== 'reference' && inserted.size > 0)
      await this.onEach(places, async (i) => {
        const gone = [...inserted].filter(([j]) => j !== i).flatMap(([, keys]) => keys);
        if (gone.length > 0) await this.deleteKeysOn(i, meta, gone);
      });
    for (const p of partial) for (const i of this.targetsOf(p.owner)) await this.upsertOn(t, p.row, p.key, i);
  }

  /** Runs fn for every destination at once; fails with the first failure once all settled. */
  private async onEach(indexes: readonly number[], fn: (i: number) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(indexes.map(fn));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** The row's new image on destination `owner` (batched when the image is complete). */
  private async upsertOn(t: AppliedTable, row: TextRow, key: string[], owner: number): Promise<void> {
    const { meta } = t;
    const unchanged = meta.columns.filter((c) => row[c.name] === undefined).map((c) => c.name);
    if (unchanged.length === 0) {
      const k = keyText(key);
      let batch = this.pending.get(owner);
      if (batch && (batch.t !== t || batch.keys.has(k))) {
        await this.flushDestination(owner);
        batch = undefined;
      }
      if (!batch) {
        batch = { t, rows: [], keys: new Set() };
        this.pending.set(owner, batch);
      }
      batch.rows.push(meta.columns.map((c) => row[c.name] as string | null));
      batch.keys.add(k);
      if (batch.rows.length >= Math.min(MAX_BATCH, rowsPerStatement(meta)))
        await this.flushDestination(owner);
      return;
    }
    // Every statement below must see the rows batched so far.
    await this.flushAll();
    // Unchanged TOASTed columns: update only what was sent where the row already is...
    const sent = meta.columns.filter((c) => row[c.name] !== undefined).map((c) => c.name);
    const updated = await this.run(owner, updateColumnsSql(meta, sent), [...sent.map((c) => row[c]), ...key]);
    if ((updated.rowCount ?? 0) > 0) return;
    // A reference row missing here was deleted by a later change already applied (a replay).
    if (tableKind(t.moved) !== 'sharded') return;
    // ...or the row moves here: its unchanged values are on the destination it leaves.
    for (let i = 0; i < this.destinations.length; i++) {
      if (i === owner) continue;
      const found = await this.run(i, selectColumnsSql(meta, unchanged), key);
      const old = found.rows[0] as Record<string, string | null> | undefined;
      if (!old) continue;
      const full = meta.columns.map((c) => (row[c.name] === undefined ? (old[c.name] ?? null) : row[c.name]));
      try {
        await upsertRows(await this.client(owner), meta, [full]);
      } catch (err) {
        throw new DestinationFailure(this.destinations[owner]!.name, err);
      }
      return this.deleteElsewhere(t, [key], owner);
    }
    // Nowhere: a later change, already applied before a replay, deleted the row; replaying
    // that delete keeps it deleted, so there is nothing to write.
  }

  get destinationsTouched(): number {
    return this.open.size;
  }

  /** Commits on every destination this transaction touched. */
  async commit(): Promise<void> {
    await this.sendCollected();
    await this.flushAll();
    const entries = [...this.open.entries()];
    this.open.clear();
    await Promise.all(
      entries.map(async ([i, c]) => {
        try {
          await c.query('COMMIT');
        } catch (err) {
          throw new DestinationFailure(this.destinations[i]!.name, err);
        }
      }),
    );
  }

  /** Rolls back what is open; a broken connection is dropped instead. */
  async abort(): Promise<void> {
    this.pending.clear();
    this.collected = new Map();
    this.collectedCount = 0;
    const entries = [...this.open.entries()];
    this.open.clear();
    await Promise.all(
      entries.map(([i, c]) => c.query('ROLLBACK').catch(() => this.destinations[i]!.discard())),
    );
  }
}
