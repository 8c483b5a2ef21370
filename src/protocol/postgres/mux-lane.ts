// Server-side multiplexing (pool.multiplex, transaction pooling): autocommit units of different
// clients written back to back on one server connection, without waiting for the previous reply.
// PostgreSQL answers requests in order, and every unit here ends at its own ReadyForQuery (a
// Sync-terminated extended batch or a simple Query); so a lane cuts the server's byte stream at
// ReadyForQuery messages and hands each stretch to the binding whose unit is at the head. An
// error skips only to its own unit's Sync: the next unit starts clean. Only units that can neither
// open a transaction nor change session state are pipelined (see pipelineable()); a unit that ends
// with the server in a transaction anyway poisons the lane (the connection is dropped, the units
// behind it fail as on a lost connection, never run inside someone else's transaction).
// A unit joins a lane only when the pool has no idle connection and no room to open one (find()).
import type { PgPool } from '../../backend/pg-pool.js';
import type { PgServerConnection } from '../../backend/pg-server-connection.js';
import type { PoolConfig } from '../../config/schema.js';
import type { PlannedStatement } from '../../router/router.js';
import { mayChangeUnseenState } from './server-state-changes.js';
import type { PreparedStatement, SessionState } from './session-state.js';
import { statementsToCheck } from './statement-shapes.js';
import { FE, type Unit } from './units.js';

const READY = 0x5a; // 'Z'

/** What a lane needs of a binding (ServerBinding implements it). */
export interface LaneMember {
  readonly tracker: { readonly idle: boolean; readonly status: number };
  /** A stretch of the server's response that belongs to this member's unit. */
  receive(chunk: Buffer): void;
  /** The connection was lost under this member's unit (`shun`: the server's fault, not the lane's). */
  serverLost(err: Error | null, shun?: boolean): void;
  /** The unit Parsed or Closed a named statement on the connection (not yet confirmed). */
  readonly touchedStatements: boolean;
}

/** Units pipelined behind another one since start (for tests and operators). */
export const multiplexCounters = { pipelined: 0, lanesOpened: 0, poisoned: 0, stalledClientsClosed: 0 };

const lanesByPool = new WeakMap<PgPool, MuxLane[]>();
/** A moving average of how long the server spends on one unit at the head of a lane. */
interface UnitTiming {
  unitMs: number;
}
const timingByPool = new WeakMap<PgPool, UnitTiming>();
/** Weight of the newest sample in UnitTiming.unitMs. */
const TIMING_WEIGHT = 1 / 8;
/** Pipelineable units waiting for room in a lane (every connection busy, some of them lanes). */
const roomWaiters = new WeakMap<PgPool, Array<() => void>>();
/** Pipelineable units waiting in the pool's own queue (they open lanes; lanes need not drain for them). */
const pipelinedInPoolQueue = new WeakMap<PgPool, number>();

function wake(pool: PgPool, all: boolean): void {
  const waiters = roomWaiters.get(pool);
  if (!waiters || waiters.length === 0) return;
  if (all) for (const w of waiters.splice(0)) w();
  else waiters.shift()!();
}

export class MuxLane {
  /** Members whose unit is written and not yet answered, in the order written. */
  private readonly inFlight: LaneMember[] = [];
  /** Members from checkout to release (the connection goes back to the pool when none is left). */
  private readonly members = new Set<LaneMember>();
  /** In-flight units that Parsed or Closed named statements: a unit naming statements waits for them. */
  private unsettled = 0;
  /** No more units join (poisoned, a client stopped reading, a cancel, a lost connection). */
  private closedToJoin = false;
  /** Body bytes of the current server message still to come (it began in an earlier chunk). */
  private bodyLeft = 0;
  /** The current message is a ReadyForQuery: its end ends the head's unit. */
  private inReady = false;
  /** A message header split across chunks (headerHave of its 5 bytes so far). */
  private readonly header = Buffer.alloc(5);
  private headerHave = 0;
  private corked = false;
  /** A unit left the server in a transaction: nothing more is delivered on this connection. */
  private poisoned = false;
  /** When the unit at the head became the head (performance.now()): how long the server has been on it. */
  private headSince = 0;
  /** Its pool's recent time per unit (shared by the pool's lanes). */
  private readonly timing: UnitTiming;

  private constructor(
    private readonly pool: PgPool,
    readonly conn: PgServerConnection,
  ) {
    let timing = timingByPool.get(pool);
    if (!timing) {
      timing = { unitMs: 0 };
      timingByPool.set(pool, timing);
    }
    this.timing = timing;
    this.attachConn();
  }

  /** Routes the connection's bytes through the lane (again, after an internal query on it). */
  attachConn(): void {
    this.conn.onData = (chunk) => this.onData(chunk);
    this.conn.onClose = (err) => this.onClose(err);
  }

  /** A lane for a connection whose first unit is pipelineable; it is joinable from now on. */
  static open(pool: PgPool, conn: PgServerConnection): MuxLane {
    const lane = new MuxLane(pool, conn);
    let lanes = lanesByPool.get(pool);
    if (!lanes) {
      lanes = [];
      lanesByPool.set(pool, lanes);
    }
    lanes.push(lane);
    multiplexCounters.lanesOpened++;
    return lane;
  }

  /**
   * The lane this unit joins, or null: it takes a connection of its own. Never behind another
   * client's unit while the pool has an idle connection or room to open one: that unit may be a
   * slow statement (head-of-line blocking). At the bound, the lane where it expects to wait least
   * (see expectedWait) among those with the same settings and room (depth bounds each queue).
   */
  static find(
    pool: PgPool,
    depth: number,
    settings: Map<string, string>,
    serverSettings: (conn: PgServerConnection) => Map<string, string>,
    unit: Unit,
    prepared: Map<string, PreparedStatement>,
  ): MuxLane | null {
    if (!pool.exhausted) return null;
    const lanes = lanesByPool.get(pool);
    // Checkouts wait for a connection (a transaction, a SET...): lanes drain and give theirs back.
    if (!lanes || pool.waitingCount > (pipelinedInPoolQueue.get(pool) ?? 0)) return null;
    const now = performance.now();
    let best: MuxLane | null = null;
    let bestWait = Number.POSITIVE_INFINITY;
    for (const lane of lanes) {
      if (!lane.accepts(depth, settings, serverSettings(lane.conn), unit, prepared)) continue;
      const wait = lane.expectedWait(now);
      // Equal estimates (no unit timed yet): the shorter queue.
      if (wait < bestWait || (wait === bestWait && lane.members.size < best!.members.size)) {
        best = lane;
        bestWait = wait;
      }
    }
    return best;
  }

  /** A lane of `pool` with these settings that takes units: room may come up in it. */
  static worthWaiting(
    pool: PgPool,
    settings: Map<string, string>,
    serverSettings: (conn: PgServerConnection) => Map<string, string>,
  ): boolean {
    const lanes = lanesByPool.get(pool);
    if (!lanes) return false;
    for (const lane of lanes)
      if (!lane.closedToJoin && !lane.conn.dirty && sameSettings(settings, serverSettings(lane.conn)))
        return true;
    return false;
  }

  /** A pipelineable unit waits in the pool's queue (see find()), `waitingSince` counting. */
  static async acquireFromPool(pool: PgPool, waitingSince?: number): Promise<PgServerConnection> {
    pipelinedInPoolQueue.set(pool, (pipelinedInPoolQueue.get(pool) ?? 0) + 1);
    try {
      return await pool.acquire(undefined, false, waitingSince);
    } finally {
      pipelinedInPoolQueue.set(pool, (pipelinedInPoolQueue.get(pool) ?? 1) - 1);
    }
  }

  /** Resolves when a lane of `pool` has a member fewer or goes away, or after `ms`. */
  static waitForRoom(pool: PgPool, ms: number): Promise<void> {
    let waiters = roomWaiters.get(pool);
    if (!waiters) {
      waiters = [];
      roomWaiters.set(pool, waiters);
    }
    const list = waiters;
    // A plain connection going idle (or a slot freeing) is room too: the first waiter takes it.
    pool.onRoom ??= () => wake(pool, false);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        const i = list.indexOf(done);
        if (i >= 0) list.splice(i, 1);
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      list.push(done);
    });
  }

  private accepts(
    depth: number,
    settings: Map<string, string>,
    have: Map<string, string>,
    unit: Unit,
    prepared: Map<string, PreparedStatement>,
  ): boolean {
    const conn = this.conn;
    if (this.closedToJoin || conn.closed || conn.dirty) return false;
    if (this.members.size === 0 || this.members.size >= depth) return false;
    if (!sameSettings(settings, have)) return false;
    if (!namesStatements(unit)) return true;
    // A statement Parsed by a unit still in flight may yet fail (or be skipped after its error).
    if (this.unsettled > 0) return false;
    // A described statement the connection lacks needs a round trip of its own (checkStatementShapes).
    for (const stmt of statementsToCheck(unit, prepared))
      if (!conn.prepared.has(stmt.serverName)) return false;
    return true;
  }

  /**
   * Milliseconds a unit joining now would wait for its reply to start: the head's time (at least a
   * usual unit's; a head running longer than that is a slow statement, likely to run on) and a
   * usual unit's for each member between. A lane whose head is older or whose queue is longer loses.
   */
  private expectedWait(now: number): number {
    const unitMs = this.timing.unitMs;
    const headMs = this.inFlight.length > 0 ? now - this.headSince : 0;
    return Math.max(unitMs, headMs) + (this.members.size - 1) * unitMs;
  }

  /** A member holds the connection from now until it leaves (its unit is not written yet). */
  reserve(member: LaneMember): void {
    this.members.add(member);
  }

  /** A member's unit is about to be written (encoded: its statement changes are known). */
  enter(member: LaneMember): void {
    if (this.inFlight.length > 0) multiplexCounters.pipelined++;
    else this.headSince = performance.now();
    if (member.touchedStatements) this.unsettled++;
    this.inFlight.push(member);
  }

  /**
   * Writes a unit. Behind another unit the server is busy anyway: writes of one event-loop turn
   * leave in one batch (the socket is corked until setImmediate).
   */
  write(bytes: Buffer): void {
    const conn = this.conn;
    if (this.inFlight.length > 1 && !this.corked) {
      this.corked = true;
      conn.socket.cork();
      setImmediate(() => {
        this.corked = false;
        conn.socket.uncork();
      });
    }
    conn.write(bytes);
  }

  /** A member is done with the connection; true when it was the last one (it returns the connection). */
  leave(member: LaneMember): boolean {
    this.members.delete(member);
    if (this.members.size > 0 || this.inFlight.length > 0) {
      if (!this.closedToJoin) wake(this.pool, false);
      return false;
    }
    this.remove();
    return true;
  }

  /** No more units join this lane (units in flight finish). */
  stopJoining(): void {
    this.closedToJoin = true;
  }

  /** Other members hold this connection too: their units wait for `member`'s to be read. */
  othersHeldBy(member: LaneMember): boolean {
    return this.members.size > 1 || (this.members.size === 1 && !this.members.has(member));
  }

  /** True when `member` is the only unit in flight (a cancel can only reach its statement then). */
  alone(member: LaneMember): boolean {
    return this.inFlight.length === 1 && this.inFlight[0] === member;
  }

  private remove(): void {
    this.closedToJoin = true;
    const lanes = lanesByPool.get(this.pool);
    const i = lanes ? lanes.indexOf(this) : -1;
    if (i < 0) return;
    lanes!.splice(i, 1);
    // Its connection goes back to the pool (or is gone): waiters try again.
    wake(this.pool, true);
  }

  /**
   * Cuts the stream after each ReadyForQuery and hands each stretch to the unit it answers. Bytes
   * pass on as they arrive (the member's tracker reassembles, with its own limits, as without a
   * lane): the lane only follows message boundaries and keeps at most a split 5-byte header.
   */
  private onData(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    let start = 0;
    while (pos < len) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, len - pos);
        pos += n;
        this.bodyLeft -= n;
        if (this.bodyLeft > 0) break;
      } else {
        let length: number;
        if (this.headerHave === 0 && pos + 5 <= len) {
          this.inReady = chunk[pos] === READY;
          length = chunk.readUInt32BE(pos + 1);
          pos += 5;
        } else {
          // A header split across chunks: its bytes are kept until it is whole.
          const n = Math.min(5 - this.headerHave, len - pos);
          chunk.copy(this.header, this.headerHave, pos, pos + n);
          this.headerHave += n;
          pos += n;
          if (this.headerHave < 5) break;
          this.headerHave = 0;
          this.inReady = this.header[0] === READY;
          length = this.header.readUInt32BE(1);
        }
        if (length < 4) {
          this.conn.onData = null;
          this.conn.onClose = null;
          this.conn.destroy();
          this.lost(new Error(`malformed message from the server (length ${length})`), true);
          return;
        }
        this.bodyLeft = length - 4;
        if (this.bodyLeft > 0) continue;
      }
      if (this.inReady) {
        this.inReady = false;
        this.deliver(chunk.subarray(start, pos));
        // The rest belongs to units that ran inside the doomed transaction: never theirs to see.
        if (this.poisoned) return;
        start = pos;
      }
    }
    if (pos > start) this.deliver(chunk.subarray(start, pos));
  }

  private deliver(stretch: Buffer): void {
    const head = this.inFlight[0];
    // Unasked (a FATAL before the server closes): the close reaches every member in flight.
    if (!head) return;
    head.receive(stretch);
    if (!head.tracker.idle) return;
    this.inFlight.shift();
    const now = performance.now();
    const timing = this.timing;
    timing.unitMs += (now - this.headSince - timing.unitMs) * TIMING_WEIGHT;
    this.headSince = now;
    if (head.touchedStatements) this.unsettled--;
    if (head.tracker.status !== 0x49 && !this.poisoned) this.poison(head);
  }

  /**
   * The unit of `head` left the server in a transaction: nothing else may run on this connection.
   * Alone on it, its client keeps it (like any transaction). Otherwise the connection is dropped
   * (the server rolls the transaction back, with whatever ran behind it) and every member fails
   * as on a lost connection; the head's client finds its transaction gone. Done here, not by the
   * connection's close: destroy() marks it closed first, so its onClose never comes.
   */
  private poison(head: LaneMember): void {
    this.closedToJoin = true;
    multiplexCounters.poisoned++;
    if (this.inFlight.length === 0 && this.members.size <= 1 && this.members.has(head)) return;
    this.poisoned = true;
    this.inFlight.length = 0;
    const conn = this.conn;
    conn.onData = null;
    conn.onClose = null;
    conn.destroy();
    this.lost(
      new Error(
        'lane poisoned: a pipelined unit left the server inside a transaction; the connection was dropped',
      ),
      false,
    );
  }

  /** Every member learns: a unit in flight fails, one holding a transaction finds it gone. */
  private onClose(err: Error | null): void {
    this.lost(err, true);
  }

  private lost(err: Error | null, shun: boolean): void {
    this.remove();
    this.inFlight.length = 0;
    const members = [...this.members];
    this.members.clear();
    for (const m of members) m.serverLost(err, shun);
  }
}

/** Exactly the settings the server connection carries (syncSettings would send nothing). */
function sameSettings(want: Map<string, string>, have: Map<string, string>): boolean {
  if (want.size !== have.size) return false;
  for (const [k, v] of want) if (have.get(k) !== v) return false;
  return true;
}

/** A Parse, Bind, Describe or Close that names a prepared statement (not the unnamed one). */
function namesStatements(unit: Unit): boolean {
  if (unit.simple) return false;
  for (const f of unit.frames) {
    const t = f.type;
    if (t === FE.Parse && f.bytes[5] !== 0) return true;
    if ((t === FE.Describe || t === FE.Close) && f.bytes[5] === 0x53 && f.bytes[6] !== 0) return true;
    // portal name, then the statement name
    if (t === FE.Bind && f.bytes[f.bytes.indexOf(0, 5) + 1] !== 0) return true;
  }
  return false;
}

const PIPELINED_KINDS = new Set(['read', 'write']);

/**
 * A unit that may share a server connection with other clients' units: transaction pooling, the
 * session idle (no transaction, no deferred BEGIN, not pinned), a Sync-terminated batch or a simple
 * Query, and only plain SELECT/INSERT/UPDATE/DELETE on one server: nothing that can open a
 * transaction, change a setting or leave state behind on the connection.
 */
export function pipelineable(
  unit: Unit,
  statements: readonly PlannedStatement[],
  state: SessionState,
  pool: PoolConfig,
): boolean {
  if (!pool.multiplex.enabled || pool.multiplex.depth < 2 || pool.mode !== 'transaction') return false;
  if (state.txStatus !== 'I' || state.deferredBegin !== null || state.pinnedReason) return false;
  if (state.pendingSettings.size > 0) return false;
  if (unit.flushOnly || (unit.simple && unit.frames[0]!.type !== FE.Query)) return false;
  for (const s of statements) {
    const f = s.facts;
    if (!PIPELINED_KINDS.has(f.kind) || s.plan.type !== 'single') return false;
    if (f.transaction || f.session || f.utility || f.pinsSession || f.copyOut) return false;
  }
  return !mayChangeUnseenState(statements);
}
