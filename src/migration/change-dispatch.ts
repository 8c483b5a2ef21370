// One streaming session's decoded pgoutput messages turned into destination writes: relations
// are matched to the moved tables (a changed column list stops the split), each change is checked
// against the copy's segment rule, and source transactions' writes are committed together on
// every destination. Group commit: while more decoded messages are already queued, consecutive
// source transactions share one destination transaction (up to MAX_GROUP); it commits when the
// queue runs dry, at a catch-up marker, or at the cap. Replaying a group after a failure is
// harmless (the writes are idempotent) and the slot is acknowledged only after the commit.
// TRUNCATE is refused.
import type { Pgoutput } from 'pg-logical-replication';
import { type AppliedTable, keyOf, TransactionWriter, type WriterOptions } from './change-writer.js';
import type { Destination } from './destination.js';
import { requireLsn } from './lsn.js';
import type { RowRoute } from './row-owner.js';
import { changeApplies } from './segments.js';

/** Prefix of the catch-up markers written into the source's WAL. */
export const MARKER_PREFIX = 'shardgate';

/** TRUNCATE and other changes the applier refuses: the split stops, nothing is retried. */
export class RefusedChange extends Error {}

interface SourceTransaction {
  commitLsn: bigint;
  writer: TransactionWriter;
  markers: string[];
}

export interface DispatchHooks {
  /** Source transactions are committed on every destination; endLsn is the last commit's end. */
  committed(endLsn: bigint | null, markers: readonly string[]): void;
  /** A non-transactional marker. */
  marker(token: string): void;
  /** More decoded messages are already waiting (so a commit may wait for the next transaction). */
  moreQueued(): boolean;
}

/** Source transactions one destination transaction may carry. */
const MAX_GROUP = 256;

interface Group {
  writer: TransactionWriter;
  transactions: number;
  endLsn: bigint | null;
  markers: string[];
}

export class ChangeDispatcher {
  private readonly relations = new Map<number, AppliedTable | null>();
  private txn: SourceTransaction | null = null;
  /** Committed source transactions whose destination transaction is still open. */
  private group: Group | null = null;

  constructor(
    private readonly tables: ReadonlyMap<string, AppliedTable>,
    private readonly destinations: readonly Destination[],
    private readonly route: RowRoute,
    private readonly hooks: DispatchHooks,
    private readonly writerOptions: WriterOptions = {},
  ) {}

  /** Writes are open on the destinations (not yet committed, so not yet acknowledged). */
  get inTransaction(): boolean {
    return this.txn !== null || this.group !== null;
  }

  /** Rolls back the writes that will not commit (they are streamed again). */
  async abort(): Promise<void> {
    const writer = this.txn?.writer ?? this.group?.writer;
    this.txn = null;
    this.group = null;
    await writer?.abort();
  }

  async handle(m: Pgoutput.Message): Promise<void> {
    switch (m.tag) {
      case 'begin':
        this.txn = {
          commitLsn: m.commitLsn ? requireLsn(m.commitLsn) : 0n,
          writer:
            this.group?.writer ?? new TransactionWriter(this.destinations, this.route, this.writerOptions),
          markers: [],
        };
        return;
      case 'relation':
        this.relations.set(m.relationOid, this.matchRelation(m));
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        const txn = this.current();
        const t = this.tableOf(m.relation);
        if (t) await this.applyRow(txn, t, m);
        return;
      }
      case 'truncate': {
        const names = m.relations.map((r) => (r ? `${r.schema}.${r.name}` : '?')).join(', ');
        throw new RefusedChange(
          `TRUNCATE of ${names} during a split cannot be applied row by row; abort the split, or re-run it after the truncate`,
        );
      }
      case 'message': {
        if (m.prefix !== MARKER_PREFIX) return;
        const token = Buffer.from(m.content).toString('utf8');
        if (this.txn) this.txn.markers.push(token);
        else this.hooks.marker(token);
        return;
      }
      case 'commit': {
        const txn = this.current();
        this.txn = null;
        const group: Group = this.group ?? { writer: txn.writer, transactions: 0, endLsn: null, markers: [] };
        this.group = group;
        group.transactions++;
        if (m.commitEndLsn) group.endLsn = requireLsn(m.commitEndLsn);
        group.markers.push(...txn.markers);
        if (group.markers.length > 0 || group.transactions >= MAX_GROUP || !this.hooks.moreQueued()) {
          await this.flush();
        }
        return;
      }
      default:
        return; // origin, type: nothing to apply
    }
  }

  /** Commits the open group on every destination and reports it. */
  async flush(): Promise<void> {
    const group = this.group;
    if (!group || this.txn) return;
    await group.writer.commit();
    this.group = null;
    this.hooks.committed(group.endLsn, group.markers);
  }

  private matchRelation(m: Pgoutput.MessageRelation): AppliedTable | null {
    const t = this.tables.get(`${m.schema}.${m.name}`) ?? null;
    if (!t) return null;
    const streamed = new Set(m.columns.map((c) => c.name));
    const missing = t.meta.columns.filter((c) => !streamed.has(c.name)).map((c) => c.name);
    const extra = [...streamed].filter((n) => !t.meta.columns.some((c) => c.name === n));
    if (missing.length || extra.length)
      throw new RefusedChange(
        `the columns of ${t.meta.table} changed during the split (missing ${missing.join(', ') || 'none'}, new ${extra.join(', ') || 'none'}); abort the split and plan it again`,
      );
    return t;
  }

  /** A row change of a moved table, to the destinations owning its key. */
  private async applyRow(
    txn: SourceTransaction,
    t: AppliedTable,
    m: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete,
  ): Promise<void> {
    const key = m.tag === 'delete' ? null : keyOf(t.meta, m.new);
    const oldRow = m.tag === 'insert' ? null : (m.key ?? m.old);
    const oldKey = oldRow ? keyOf(t.meta, oldRow) : null;
    if (m.tag === 'delete') {
      if (!oldKey) throw new RefusedChange(`a DELETE on ${t.meta.table} arrived without its primary key`);
      if (await this.applies(txn, t, oldKey)) await txn.writer.deleteKey(t, oldKey);
      return;
    }
    // The primary key itself changed: the old key's row goes away everywhere.
    if (oldKey && key && !sameKey(oldKey, key) && (await this.applies(txn, t, oldKey)))
      await txn.writer.deleteKey(t, oldKey);
    if (key && (await this.applies(txn, t, key))) await txn.writer.upsert(t, m.new);
  }

  private tableOf(relation: Pgoutput.MessageRelation): AppliedTable | null {
    return this.relations.get(relation.relationOid) ?? null;
  }

  private applies(txn: SourceTransaction, t: AppliedTable, key: string[]): Promise<boolean> {
    return changeApplies(txn.commitLsn, key, t.segments, t.compare);
  }

  private current(): SourceTransaction {
    if (!this.txn) throw new RefusedChange('a change arrived outside a transaction (protocol error)');
    return this.txn;
  }
}

function sameKey(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
