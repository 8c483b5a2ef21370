// Change capture of a MySQL/MariaDB split: the source's row-based binlog read from the snapshot's
// GTID position by @vlasky/zongji, each row change applied to the target owning the row (an
// update whose primary key or owner changed becomes a delete there and an upsert at the new
// owner). The changes queued while a batch applies make the next batch: per target a few
// multi-row statements in one transaction and one round trip (mysql-change-batch.ts), so the
// target round trips do not grow with the source's transaction rate. Upserts and deletes by key
// make a replayed change harmless, so a restart from an older position converges.
//
// Why a binlog client and not MariaDB's own replication: replication filters by database and
// table, never by key, so each half would receive every row of the table and the other half's
// rows would have to be deleted while writes are held, which makes the block as long as the
// table. The binlog client routes each row by the router's own hash, like the PostgreSQL applier.
// @vlasky/zongji is the maintained fork (releases in 2026, mysql2-based, ESM with types), reads
// MariaDB GTID positions, and decodes rows from the binlog's own column metadata under
// binlog_row_metadata=FULL (the launcher sets it), so no information_schema lookups race DDL.
import ZongJi, { MariadbGtidPosition } from '@vlasky/zongji';
import type { KeyRange } from '../domain/keyspace.js';
import { ShardgateError } from '../errors.js';
import { type ChangeRouting, type MysqlChange, planBatch, type QueuedChanges } from './mysql-change-batch.js';
import { outsideScope, ownersOf } from './mysql-copier.js';
import {
  binlogPosition,
  type MysqlConnection,
  type MysqlRow,
  mysqlConnectionOptions,
  mysqlPrimaryKey,
  openMysql,
} from './mysql-table.js';
import { tableKind } from './row-owner.js';
import type { MovedTable, ServerAddress, SplitTarget } from './types.js';

/**
 * Row changes one batch carries at most (more wait for the next one). A batch is planned and
 * formatted in one synchronous step on the proxy thread, which serves client traffic too: 5,000
 * changes took 72-127 ms there (the backlog of a copy, at the start of the catch-up, stalled
 * writes through the proxy), 500 take 4-15 ms (`planBatch` of single-row inserts, load 14). A
 * batch of 500 is still one round trip per target for half a second of 1,000 writes/s.
 */
const MAX_BATCH_CHANGES = 500;

export interface MysqlCaptureOptions {
  source: ServerAddress;
  targets: readonly SplitTarget[];
  tables: readonly MovedTable[];
  /** The snapshot's GTID position (copyMysqlTables). */
  fromGtid: string;
  /** Binlog client id, unique among the source's replicas. */
  serverId: number;
  /** A merge source's keyspace: changes to sharded rows outside it are not carried (leftovers). */
  scope?: readonly KeyRange[];
  /**
   * The target of each unsharded table, by name (default the first): a merge's reverse capture
   * returns each unsharded table to the source it came from.
   */
  homes?: ReadonlyMap<string, number>;
}

/**
 * How long stop() waits for the apply in flight, then for the target connections to end. mysql2's
 * end() queues COM_QUIT behind the statement in flight and resolves only when it runs: an upsert
 * that never returns (a lock held elsewhere, a half-open socket) would hold stop() for ever.
 */
const STOP_GRACE_MS = 5_000;

export class MysqlBinlogCapture {
  private readonly zongji: ZongJi;
  private readonly queue: QueuedChanges[] = [];
  private draining = false;
  /** Set by stop(): drain applies no further queued change. */
  private stopping = false;
  private applied: string;
  private failure: Error | null = null;
  private changesApplied = 0;
  /** The source connection catchUp reads the goal position over (sourcePosition). */
  private control: Promise<MysqlConnection> | null = null;
  /**
   * The GTID of the open standalone event group (DDL: a GTID event and one query event, no
   * commit marker). zongji counts such a group only when the next group's GTID arrives, so a DDL
   * as the source's last event would keep catchUp waiting for a write that, under the cutover
   * block, never comes; the capture counts it once its query event has arrived.
   */
  private standalone: { domainId: number; serverId: number; seqNo: number | string } | null = null;
  private readonly keys = new Map<string, string[]>();
  private readonly ranges: KeyRange[];
  private readonly byName: Map<string, MovedTable>;
  private readonly routing: ChangeRouting;

  private constructor(
    private readonly o: MysqlCaptureOptions,
    private readonly targets: MysqlConnection[],
  ) {
    this.applied = o.fromGtid;
    this.ranges = o.targets.map((t) => t.range);
    this.byName = new Map(o.tables.map((t) => [t.name, t]));
    this.zongji = new ZongJi(mysqlConnectionOptions(o.source));
    this.routing = {
      targets: targets.length,
      key: (table) => this.keys.get(table) as string[],
      owners: (table, row) => this.ownersOf(table, row),
    };
  }

  static async start(o: MysqlCaptureOptions): Promise<MysqlBinlogCapture> {
    const targets: MysqlConnection[] = [];
    // A batch goes to each target as one multi-statement query (mysql-change-batch.ts).
    for (const t of o.targets) {
      const c = await openMysql(t.server, { multipleStatements: true });
      targets.push(c);
      // mysql2 escapes quotes with a backslash: under NO_BACKSLASH_ESCAPES a value could end its
      // literal and, with multiple statements on, start a statement of its own.
      await c.query("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')");
    }
    const capture = new MysqlBinlogCapture(o, targets);
    try {
      const source = await openMysql(o.source);
      try {
        for (const t of o.tables) capture.keys.set(t.name, await mysqlPrimaryKey(source, t.name));
      } finally {
        await source.end();
      }
      await capture.listen();
    } catch (err) {
      // The source refused the connection or the binlog dump (no REPLICATION SLAVE grant...).
      await capture.stop();
      throw err;
    }
    return capture;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.zongji.on('ready', () => resolve());
      this.zongji.on('error', (err: Error) => {
        this.failure ??= err;
        reject(err);
      });
      this.zongji.on('binlog', (event) => this.receive(event));
      this.zongji.start({
        serverId: this.o.serverId,
        gtidSet: this.o.fromGtid,
        includeEvents: [
          'tablemap',
          'writerows',
          'updaterows',
          'deleterows',
          'xid',
          'query',
          'mariadbgtid',
          'heartbeat',
        ],
        includeSchema: { [this.o.source.database]: this.o.tables.map((t) => t.name) },
      });
    });
  }

  private receive(event: BinlogEvent): void {
    const name = event.getEventName();
    const position = this.positionAfter(event);
    if (name === 'query') {
      const touched = this.statementOnMovedTable(event.query ?? '');
      // DDL, TRUNCATE (no row events) or statement-logged DML would leave the halves silently
      // different from the source: the capture stops and says so.
      if (touched) {
        this.failure ??= new Error(
          `statement on moved table ${touched} during the split is not carried to the halves: ` +
            `"${(event.query ?? '').slice(0, 120)}"; abandon this split and start it again`,
        );
      }
    }
    const changes: MysqlChange[] = [];
    const table = event.tableId !== undefined ? event.tableMap?.[event.tableId]?.tableName : undefined;
    if (table && this.byName.has(table)) {
      if (name === 'writerows')
        changes.push({ kind: 'insert', table, rows: (event.rows ?? []) as MysqlRow[] });
      for (const r of event.rows ?? []) {
        if (name === 'deleterows') changes.push({ kind: 'delete', table, row: r as MysqlRow });
        else if (name === 'updaterows') {
          const u = r as { before: MysqlRow; after: MysqlRow };
          changes.push({ kind: 'update', table, before: u.before, after: u.after });
        }
      }
    }
    this.queue.push({ changes, position });
    void this.drain();
  }

  /** zongji's committed position, plus the standalone group this event completes. */
  private positionAfter(event: BinlogEvent): string | undefined {
    const name = event.getEventName();
    if (name === 'mariadbgtid') {
      this.standalone = event.standalone ? (event as Required<BinlogEvent>) : null;
      return this.zongji.gtidSet;
    }
    const group = this.standalone;
    if (name !== 'query' || !group || /^\s*BEGIN\b/i.test(event.query ?? '')) return this.zongji.gtidSet;
    this.standalone = null;
    const position = MariadbGtidPosition.parse(this.zongji.gtidSet ?? this.applied);
    position.add(group);
    return position.toString();
  }

  /** The moved table a binlog statement names, other than transaction control; null when none. */
  private statementOnMovedTable(query: string): string | null {
    if (/^\s*(BEGIN|COMMIT|ROLLBACK|XA\s|SAVEPOINT|RELEASE\s+SAVEPOINT)/i.test(query)) return null;
    const words = new Set(query.toLowerCase().match(/[a-z0-9_$]+/g) ?? []);
    for (const t of this.byName.keys()) if (words.has(t.toLowerCase())) return t;
    return null;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.failure && !this.stopping) {
        const items = this.takeBatch();
        const batch = planBatch(items, this.routing, (sql, values) =>
          (this.targets[0] as MysqlConnection).format(sql, values as unknown[]),
        );
        await this.send(batch.queries);
        this.changesApplied += batch.changes;
        if (batch.position !== undefined) this.applied = batch.position;
      }
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    } finally {
      this.draining = false;
    }
  }

  /** The queued events from the front, up to MAX_BATCH_CHANGES row changes (at least one event). */
  private takeBatch(): QueuedChanges[] {
    let n = 0;
    let changes = 0;
    while (n < this.queue.length && (n === 0 || changes < MAX_BATCH_CHANGES))
      changes += (this.queue[n++] as QueuedChanges).changes.length;
    return this.queue.splice(0, n);
  }

  /** Each target's queries, every target at once; fails with the first failure once all settled. */
  private async send(queries: readonly string[][]): Promise<void> {
    const results = await Promise.allSettled(
      this.targets.map(async (c, i) => {
        try {
          for (const q of queries[i] ?? []) await c.query(q);
        } catch (err) {
          // A failed statement leaves its transaction open on this connection: close it.
          await c.query('ROLLBACK').catch(() => undefined);
          const { errno, message } = err as { errno?: number; message?: string };
          throw new ShardgateError('MIGRATION_APPLY_FAILED', {
            target: this.o.targets[i]?.server.name ?? `target ${i}`,
            detail: `${message ?? String(err)}${errno ? ` (errno ${errno})` : ''}`,
          });
        }
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Where a changed row goes: its owners among the targets (none outside a merge's scope). */
  private ownersOf(table: string, row: MysqlRow): number[] {
    const t = this.byName.get(table) as MovedTable;
    const home = this.o.homes?.get(t.name);
    if (outsideScope(t, row, this.o.scope)) return [];
    if (home !== undefined && tableKind(t) === 'unsharded') return [home];
    return ownersOf(t, row, this.ranges, this.targets.length);
  }

  /** GTID position up to which every captured change is on the targets. */
  get appliedPosition(): string {
    return this.applied;
  }

  get appliedChanges(): number {
    return this.changesApplied;
  }

  /** The first apply or stream error; capture stops applying after it. */
  get error(): Error | null {
    return this.failure;
  }

  /**
   * Resolves once the targets hold every change the source had committed when called (its
   * @@gtid_binlog_pos); throws the capture's error, or after timeoutMs.
   */
  async catchUp(timeoutMs: number): Promise<string> {
    const goal = await this.sourcePosition();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.failure) throw this.failure;
      // `applied` moves only once a batch is on the targets, and every event of a transaction it
      // covers arrived before it: the goal is reached even while later events keep the queue
      // busy (under a steady write load the queue is never empty between batches).
      if (covers(this.applied, goal)) return goal;
      if (Date.now() > deadline)
        throw new Error(
          `binlog capture did not reach ${goal} within ${timeoutMs} ms (applied ${this.applied})`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * The source's @@gtid_binlog_pos over one connection kept for it: the cutover block calls
   * catchUp, and a connection set up there (TCP, login) would lengthen every held write. A kept
   * connection the server closed meanwhile (wait_timeout over a reverse capture's idle hours, a
   * restart) is dropped when it ends and the read tried once more on a new one (it only reads).
   */
  private async sourcePosition(retried = false): Promise<string> {
    if (this.stopping) throw new Error('the binlog capture is stopping');
    if (!this.control) {
      const opening = openMysql(this.o.source);
      this.control = opening;
      void opening.then(
        (conn) => {
          const forget = () => {
            if (this.control === opening) this.control = null;
          };
          conn.once('end', forget);
          conn.once('error', forget);
          // stop() ran while it opened: nobody else will close it.
          if (this.stopping) conn.destroy();
        },
        () => {
          if (this.control === opening) this.control = null;
        },
      );
    }
    const c = this.control;
    try {
      return await binlogPosition(await c);
    } catch (err) {
      if (this.control === c) this.control = null;
      void c.then((conn) => conn.destroy()).catch(() => undefined);
      if (retried || this.stopping) throw err;
      return this.sourcePosition(true);
    }
  }

  /**
   * Stops reading and closes the target connections, always within about 2 x STOP_GRACE_MS.
   * Returns why it had to destroy them instead of ending them (null when they ended cleanly).
   */
  async stop(): Promise<string | null> {
    this.stopping = true;
    // Taken before any wait: catchUp opens no new one once stopping is set.
    const control = this.control;
    this.control = null;
    void control?.then((c) => c.destroy()).catch(() => undefined);
    try {
      this.zongji.stop();
    } catch {
      // Its connections are being torn down anyway; the targets below still close.
    }
    let reason: string | null = null;
    if (!(await idleWithin(() => !this.draining, STOP_GRACE_MS)))
      reason = `an apply to the target was still running after ${STOP_GRACE_MS} ms`;
    if (!(await settlesWithin(Promise.allSettled(this.targets.map((c) => c.end())), STOP_GRACE_MS)))
      reason ??= `the target connections did not end within ${STOP_GRACE_MS} ms`;
    if (reason) for (const c of this.targets) c.destroy();
    return reason;
  }
}

/** The fields of zongji's events the capture reads. */
interface BinlogEvent {
  getEventName(): string;
  query?: string;
  tableId?: number;
  tableMap?: Record<number, { tableName: string }>;
  rows?: unknown[];
  /** MariaDB GTID events: the group has no commit marker (DDL), and its GTID. */
  standalone?: boolean;
  domainId?: number;
  serverId?: number;
  seqNo?: number | string;
}

/** True when position `applied` covers every domain's GTID of `goal` (both 'd-s-n,...'). */
export function covers(applied: string, goal: string): boolean {
  const have = MariadbGtidPosition.parse(applied);
  return goal
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '')
    .every((g) => have.covers(g));
}

/** True once idle() holds (polled), false when it still does not after ms. */
async function idleWithin(idle: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!idle()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** True when p settled within ms, false when it had not (p keeps running; its outcome is dropped). */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    p.then(done, done);
  });
}
