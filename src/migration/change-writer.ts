// Applies the changes of one source transaction to the destinations, idempotently, in one
// destination transaction per destination (opened on first use, committed together):
//   INSERT/UPDATE: upsert of the full new row image into the destination owning its shard key,
//                  delete by primary key on the others (an update may move a row's shard key);
//   DELETE:        delete by primary key on every destination (the old-key tuple has only the key).
// Replaying a change therefore leaves the same rows. Unchanged TOASTed values ('u' in pgoutput,
// `undefined` here) are never written: the row keeps them where it is, or they are read from
// the destination the row moves away from.
import type pg from 'pg';
import type { Destination } from './destination.js';
import { describeError } from './pg-connect.js';
import type { RowRoute, TextRow } from './row-owner.js';
import { deleteByKeySql, selectColumnsSql, updateColumnsSql, upsertRows } from './row-sql.js';
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

export class TransactionWriter {
  private readonly open = new Map<number, pg.Client>();

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

  private async deleteElsewhere(t: AppliedTable, key: string[], keep: number | null): Promise<void> {
    const sql = deleteByKeySql(t.meta);
    for (let i = 0; i < this.destinations.length; i++) if (i !== keep) await this.run(i, sql, key);
  }

  async deleteKey(t: AppliedTable, key: string[]): Promise<void> {
    await this.deleteElsewhere(t, key, null);
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
    if (!Number.isInteger(owner) || owner < 0 || owner >= this.destinations.length)
      throw new Error(
        `the route of ${meta.table} returned destination ${owner} of ${this.destinations.length}`,
      );
    const unchanged = meta.columns.filter((c) => row[c.name] === undefined).map((c) => c.name);
    if (unchanged.length === 0) {
      const values = meta.columns.map((c) => row[c.name] as string | null);
      try {
        await upsertRows(await this.client(owner), meta, [values]);
      } catch (err) {
        throw err instanceof DestinationFailure
          ? err
          : new DestinationFailure(this.destinations[owner]!.name, err);
      }
      return this.deleteElsewhere(t, key, owner);
    }
    // Unchanged TOASTed columns: update only what was sent where the row already is...
    const sent = meta.columns.filter((c) => row[c.name] !== undefined).map((c) => c.name);
    const updated = await this.run(owner, updateColumnsSql(meta, sent), [...sent.map((c) => row[c]), ...key]);
    if ((updated.rowCount ?? 0) > 0) return this.deleteElsewhere(t, key, owner);
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
      return this.deleteElsewhere(t, key, owner);
    }
    // Nowhere: a later change, already applied before a replay, deleted the row; replaying
    // that delete keeps it deleted, so there is nothing to write.
  }

  get destinationsTouched(): number {
    return this.open.size;
  }

  /** Commits on every destination this transaction touched. */
  async commit(): Promise<void> {
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
    const entries = [...this.open.entries()];
    this.open.clear();
    await Promise.all(
      entries.map(([i, c]) => c.query('ROLLBACK').catch(() => this.destinations[i]!.discard())),
    );
  }
}
