// Applies the changes of source transactions to the destinations, idempotently, in one
// destination transaction per destination (opened on first use, committed together):
//   INSERT/UPDATE: upsert of the full new row image into the destination owning its shard key;
//                  when that inserted the row there (it was not on its owner), delete it by key on
//                  the others (an update may move a row's shard key). Invariant: after every
//                  applied change a key is on at most one destination, so a row the upsert
//                  updated in place cannot be anywhere else and needs no delete;
//   DELETE:        delete by primary key on every destination (the old-key tuple has only the key).
// A reference table's row is upserted on every destination (never deleted elsewhere); an
// unsharded table exists on the first destination only, so nothing is sent to the others.
// Upserts of distinct keys to one destination are batched into one multi-row statement; any
// other statement on a destination sends its pending batch first, so the order per key holds.
// Replaying a change therefore leaves the same rows. Unchanged TOASTed values ('u' in pgoutput,
// `undefined` here) are never written: the row keeps them where it is, or they are read from
// the destination the row moves away from.
import type pg from 'pg';
import type { Destination } from './destination.js';
import { describeError } from './pg-connect.js';
import { holders, type RowRoute, type TextRow, tableKind } from './row-owner.js';
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

/** Rows one batched upsert carries at most. */
const MAX_BATCH = 500;

export class TransactionWriter {
  private readonly open = new Map<number, pg.Client>();
  private readonly pending = new Map<number, PendingUpserts>();

  constructor(
    private readonly destinations: readonly Destination[],
    private readonly route: RowRoute,
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
      await this.run(i, deleteByKeysSql(t.meta, keys.length), keys.flat());
    }
  }

  /** Sends a destination's batched upserts; rows they inserted are deleted on the others. */
  private async flushDestination(i: number): Promise<void> {
    const batch = this.pending.get(i);
    if (!batch) return;
    this.pending.delete(i);
    const { meta } = batch.t;
    const r = await this.run(i, upsertReturningSql(meta, batch.rows.length), batch.rows.flat());
    const inserted = (r.rows as Array<Record<string, string | boolean>>)
      .filter((row) => row.inserted === true || row.inserted === 't')
      .map((row) => meta.primaryKey.map((_, k) => String(row[`k${k}`])));
    // A reference row belongs on every destination: inserting it here moves it from nowhere.
    if (tableKind(batch.t.moved) !== 'reference') await this.deleteElsewhere(batch.t, inserted, i);
  }

  private async flushAll(): Promise<void> {
    for (const i of [...this.pending.keys()]) await this.flushDestination(i);
  }

  async deleteKey(t: AppliedTable, key: string[]): Promise<void> {
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
    const owner = this.route(t.moved.name, row);
    if (owner === null) return this.deleteKey(t, key);
    if (owner === 'all') {
      for (let i = 0; i < this.destinations.length; i++) await this.upsertOn(t, row, key, i);
      return;
    }
    if (!Number.isInteger(owner) || owner < 0 || owner >= this.destinations.length)
      throw new Error(
        `the route of ${meta.table} returned destination ${owner} of ${this.destinations.length}`,
      );
    return this.upsertOn(t, row, key, owner);
  }

  /** The row's new image on destination `owner` (batched when the image is complete). */
  private async upsertOn(t: AppliedTable, row: TextRow, key: string[], owner: number): Promise<void> {
    const { meta } = t;
    const unchanged = meta.columns.filter((c) => row[c.name] === undefined).map((c) => c.name);
    if (unchanged.length === 0) {
      const keyText = key.join('\u001f');
      let batch = this.pending.get(owner);
      if (batch && (batch.t !== t || batch.keys.has(keyText))) {
        await this.flushDestination(owner);
        batch = undefined;
      }
      if (!batch) {
        batch = { t, rows: [], keys: new Set() };
        this.pending.set(owner, batch);
      }
      batch.rows.push(meta.columns.map((c) => row[c.name] as string | null));
      batch.keys.add(keyText);
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
    const entries = [...this.open.entries()];
    this.open.clear();
    await Promise.all(
      entries.map(([i, c]) => c.query('ROLLBACK').catch(() => this.destinations[i]!.discard())),
    );
  }
}
