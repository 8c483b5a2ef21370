// The result cache on the PostgreSQL query path. A unit is cached when it is one read at the
// eventual or weak level, outside a transaction, of tables whose data types all set cacheTtlMs,
// without locking, with only functions known to be deterministic, sent as a simple Query or as
// Parse (unnamed) + Bind + Describe + Execute + Sync. The key is the client's message
// bytes (text and parameters), user, database, every session setting (search_path among them)
// and the session's routing context (VIP, realtime, ...), kept as a string of those bytes (a
// SHA-256 of it only for the shared tier). A hit replays the response bytes the
// first execution sent to the client, without a server.
// Hits are served before parsing and planning (serveBeforePlanning): an entry exists only for a
// key whose unit passed every check above, and everything those checks read is either in the key
// (the statement's bytes, settings, context), fixed by the config (a new config empties the
// cache) or the session's transaction state, which is checked again on every lookup.
// Before the key is built, a 32-bit hash of the unit's first message (the statement
// text) must be the hint of some entry (ResultStore.mayHold): statements never cached cost a
// short byte loop, not building the key from the unit and the session's settings.
// Write-through data types: every write shardgate routes to a table drops that table's entries
// when the write's unit ends (and again when its transaction ends).
import { hash } from 'node:crypto';
import type { ShardgateConfig } from '../config/schema.js';
import { decodeParse, FE_TYPE as FE } from '../protocol/postgres/frontend-messages.js';
import type { PlannedStatement, QueryCycle } from '../protocol/postgres/query-cycle.js';
import type { SessionState } from '../protocol/postgres/session-state.js';
import type { Unit } from '../protocol/postgres/units.js';
import type { RouteTarget } from '../router/plan.js';
import { compareLsn, positionCovers } from '../router/positions.js';
import { type FillTicket, ResultStore } from './result-store.js';
import type { SharedInvalidation, SharedTier, SharedTierStats } from './shared-tier.js';

/**
 * Functions whose result depends only on their arguments (and on session settings, which are in
 * the key). Any other function (now(), random(), a user function of unknown volatility) makes a
 * statement uncacheable.
 */
const DETERMINISTIC_FUNCTIONS = new Set([
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'array_agg',
  'string_agg',
  'json_agg',
  'jsonb_agg',
  'bool_and',
  'bool_or',
  'every',
  'stddev',
  'variance',
  'row_number',
  'rank',
  'dense_rank',
  'lower',
  'upper',
  'length',
  'char_length',
  'substr',
  'substring',
  'trim',
  'btrim',
  'ltrim',
  'rtrim',
  'concat',
  'concat_ws',
  'replace',
  'left',
  'right',
  'split_part',
  'strpos',
  'position',
  'starts_with',
  'md5',
  'abs',
  'round',
  'floor',
  'ceil',
  'ceiling',
  'date_trunc',
  'date_part',
  'extract',
  'to_char',
  'json_build_object',
  'jsonb_build_object',
]);

/** SQL value functions (CURRENT_TIMESTAMP, CURRENT_USER, ...) and 'now'-like literals. */
const TIME_OR_IDENTITY =
  /\b(current_(date|time|timestamp|user|role|catalog|schema)|localtime(stamp)?|session_user|user)\b|'(now|today|tomorrow|yesterday)'/i;

const CACHED_LEVELS = new Set(['eventual', 'weak']);

interface Policy {
  ttlMs: number;
  tables: string[];
}

export class PgResultCache {
  readonly store: ResultStore;
  private config: ShardgateConfig;
  /** Per data-type policy by table, rebuilt when the config object changes (rule changes). */
  private policyFor: WeakMap<object, Map<string, { ttlMs: number; writeThrough: boolean }>> = new WeakMap();
  /**
   * Per write-through table and shard, the primary's position after the last write shardgate
   * routed to it: a replica that has not replayed it would answer with the old rows, so its
   * answer is served but not cached.
   */
  private readonly writtenAt = new Map<string, Map<string, string>>();
  /** Write-through tables with a write running or in an open transaction: sessions holding each. */
  private readonly pendingWrites = new Map<string, number>();
  /** The tables each session holds (one entry per hold). */
  private readonly held = new Map<SessionState, string[]>();

  constructor(config: ShardgateConfig) {
    this.config = config;
    this.store = new ResultStore({
      maxBytes: config.cache.maxBytes,
      maxEntryBytes: config.cache.maxEntryBytes,
    });
  }

  /** The shared tier in Redis, when cache.shared is configured (src/cache/shared-tier.ts). */
  private shared: SharedTier | null = null;

  attachShared(tier: SharedTier): void {
    this.shared = tier;
  }

  /** Another instance wrote these tables: drop their entries, and read primaries until replicas catch up. */
  onRemoteWrite(message: SharedInvalidation): void {
    this.store.invalidateTables(message.tables);
    this.noteWritePositions(message.tables, new Map(Object.entries(message.positions)));
  }

  sharedStats(): SharedTierStats | null {
    return this.shared?.stats() ?? null;
  }

  /** The config in force (a rule change or reload hands a new one). */
  setConfig(config: ShardgateConfig): void {
    // A rule change may change a statement's level or a table's policy, which hits no longer check.
    if (config !== this.config) this.store.clear();
    this.config = config;
    this.store.resize(config.cache.maxBytes, config.cache.maxEntryBytes);
  }

  /**
   * The hit path: before the unit is parsed or planned, a lookup by the key of its bytes and the
   * session. True when the unit was answered from the cache; false sends it down the full path
   * (which counts the miss).
   */
  serveBeforePlanning(cycle: QueryCycle, unit: Unit): boolean {
    if (this.store.isEmpty() || !sessionMayUseCache(cycle) || !cacheableFrames(unit)) return false;
    if (!this.store.mayHold(unitHint(unit))) return false;
    const hit = this.store.lookup(cacheKey(cycle.state, unit));
    if (hit === null) return false;
    replay(cycle, unit, hit);
    return true;
  }

  private tablePolicies(): Map<string, { ttlMs: number; writeThrough: boolean }> {
    const dataTypes = this.config.dataTypes;
    let map = this.policyFor.get(dataTypes);
    if (map) return map;
    map = new Map();
    // Several worker processes do not see each other's writes at once: write-through types are
    // cached only in a single process (write-around is a TTL promise and holds anywhere).
    const multiProcess = this.config.workers !== 1;
    for (const dt of Object.values(dataTypes)) {
      if (dt.cacheTtlMs <= 0) continue;
      const writeThrough = dt.cacheStrategy === 'write-through';
      if (writeThrough && multiProcess) continue;
      for (const t of dt.tables) map.set(t.toLowerCase(), { ttlMs: dt.cacheTtlMs, writeThrough });
    }
    this.policyFor.set(dataTypes, map);
    return map;
  }

  /** The tables cached, with their TTL and strategy (for /api/cache). */
  policies(): Array<{ table: string; ttlMs: number; strategy: 'write-through' | 'write-around' }> {
    return [...this.tablePolicies()]
      .map(([table, p]) => ({
        table,
        ttlMs: p.ttlMs,
        strategy: p.writeThrough ? ('write-through' as const) : ('write-around' as const),
      }))
      .sort((a, b) => a.table.localeCompare(b.table));
  }

  /** The cache policy of a unit, or null when it must go to a server. */
  private policy(cycle: QueryCycle, unit: Unit, statements: PlannedStatement[]): Policy | null {
    if (statements.length !== 1) return null;
    const s = statements[0]!;
    const plan = s.plan;
    const facts = s.facts;
    if (plan.type !== 'single' || plan.write || plan.level === null || !CACHED_LEVELS.has(plan.level))
      return null;
    if (facts.kind !== 'read' || facts.locking || facts.modifyingCte || facts.tables.length === 0)
      return null;
    if (!sessionMayUseCache(cycle) || !cacheableFrames(unit)) return null;
    for (const f of facts.functions) if (!DETERMINISTIC_FUNCTIONS.has(f)) return null;
    if (TIME_OR_IDENTITY.test(s.sql)) return null;
    const policies = this.tablePolicies();
    let ttlMs = Number.POSITIVE_INFINITY;
    for (const t of facts.tables) {
      const p = policies.get(t);
      if (!p) return null;
      ttlMs = Math.min(ttlMs, p.ttlMs);
    }
    return { ttlMs, tables: facts.tables };
  }

  /**
   * Runs a single-target unit through the cache: replays a hit, or runs `execute` and keeps what
   * it sent the client. Units the cache does not take run `execute` directly.
   */
  async run(
    cycle: QueryCycle,
    unit: Unit,
    statements: PlannedStatement[],
    target: RouteTarget,
    execute: (target: RouteTarget) => Promise<void>,
  ): Promise<void> {
    const policy = this.policy(cycle, unit, statements);
    if (policy === null) return execute(target);
    const key = cacheKey(cycle.state, unit);
    for (let attempt = 0; attempt < 2; attempt++) {
      const hit = this.store.get(key);
      if (hit !== null) {
        replay(cycle, unit, hit);
        return;
      }
      const pending = this.store.pending(key);
      if (pending === null) break;
      // Single flight: another session is filling this key; take its result.
      await pending;
    }
    const ticket = this.store.startFill(key, unitHint(unit), policy.tables);
    // Write-through means fresh after a write: while the replica has not replayed the last write
    // to a table, the miss reads from the primary (and fills the cache from there).
    const fresh = () =>
      this.targetHasWrites(cycle, target, policy.tables) &&
      !policy.tables.some((t) => this.pendingWrites.has(t))
        ? target
        : primaryOf(cycle, target);
    if (ticket === null) return execute(fresh());
    const redisKey = this.shared ? sharedKey(key) : '';
    const shared = this.shared ? await this.shared.lookup(redisKey, policy.tables) : null;
    if (shared !== null) {
      shared.positions.forEach((p, i) => {
        this.noteWritePositions([policy.tables[i]!], new Map(Object.entries(p)));
      });
      // Not if a write here bumped a table since the fill started (the entry may predate it), and
      // only whole responses (Redis is outside this process: a damaged value is a miss).
      if (shared.value !== null && this.store.isCurrent(ticket) && isCleanResponse(shared.value)) {
        this.store.store(ticket, shared.value, Math.min(shared.ttlMs, policy.ttlMs));
        replay(cycle, unit, shared.value);
        return;
      }
    }
    // After the shared lookup: it may have taught us of another instance's write.
    const server = fresh();
    await this.fill(
      cycle,
      ticket,
      policy.ttlMs,
      () => execute(server),
      (response) => shared && this.shared?.store(redisKey, shared.generations, response, policy.ttlMs),
    );
  }

  /** Whether the unit's server has replayed the last write routed to each of the tables. */
  private targetHasWrites(cycle: QueryCycle, target: RouteTarget, tables: readonly string[]): boolean {
    if (target.role === 'primary') return true;
    const position = cycle.services.topology.server(target.server)?.view.position ?? null;
    for (const t of tables) {
      const wanted = this.writtenAt.get(t)?.get(target.shard);
      if (wanted !== undefined && !positionCovers(position, wanted)) return false;
    }
    return true;
  }

  private noteWritePositions(tables: readonly string[], positions: ReadonlyMap<string, string>): void {
    for (const t of tables) {
      let byShard = this.writtenAt.get(t);
      if (byShard === undefined) {
        byShard = new Map();
        this.writtenAt.set(t, byShard);
      }
      for (const [shard, position] of positions) {
        const known = byShard.get(shard);
        if (known === undefined || (compareLsn(position, known) ?? 0) > 0) byShard.set(shard, position);
      }
    }
  }

  private async fill(
    cycle: QueryCycle,
    ticket: FillTicket,
    ttlMs: number,
    execute: () => Promise<void>,
    onStored: (response: Buffer) => void,
  ): Promise<void> {
    const session = cycle.session;
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    const max = this.store.maxEntryBytes;
    const write = session.write;
    // Everything the session writes while the unit runs is the unit's response.
    session.write = (bytes: Buffer) => {
      if (!overflow) {
        size += bytes.length;
        if (size > max) {
          overflow = true;
          chunks.length = 0;
        } else chunks.push(Buffer.from(bytes));
      }
      write.call(session, bytes);
    };
    let stored = false;
    try {
      await execute();
      if (!overflow) {
        const response = Buffer.concat(chunks, size);
        if (isCleanResponse(response)) stored = this.store.store(ticket, response, ttlMs);
        if (stored) onStored(response);
      }
    } finally {
      session.write = write;
      if (!stored) this.store.abandon(ticket);
    }
  }

  /**
   * Before a unit runs: a write to a write-through table drops its entries now (before the client
   * can see the write acknowledged) and holds the table until the write's position is known, so
   * reads meanwhile go to the primary and fill nothing.
   */
  beforeUnit(state: SessionState, statements: readonly PlannedStatement[]): void {
    const written = this.writeThroughTables(statements);
    if (written === null) return;
    this.store.invalidateTables(written);
    this.shared?.publishWrite({ tables: [...new Set(written)], positions: {} });
    let held = this.held.get(state);
    if (held === undefined) {
      held = [];
      this.held.set(state, held);
    }
    for (const t of written) {
      held.push(t);
      this.pendingWrites.set(t, (this.pendingWrites.get(t) ?? 0) + 1);
    }
  }

  /** After every unit: once the session is outside a transaction, its writes are done. */
  afterUnit(state: SessionState): void {
    if (state.txStatus !== 'I' || state.deferredBegin) return;
    const held = this.held.get(state);
    if (held === undefined) return;
    this.release(state, held);
    // Readers that cached the old rows while the write ran are dropped too (and their fills refused).
    this.store.invalidateTables(held);
    this.noteWritePositions(held, state.lastWritePositions);
    this.shared?.publishWrite({
      tables: [...new Set(held)],
      positions: Object.fromEntries(state.lastWritePositions),
    });
  }

  /** The client went away (its open transaction rolls back): release what it held. */
  onSessionGone(state: SessionState): void {
    const held = this.held.get(state);
    if (held !== undefined) this.release(state, held);
  }

  private release(state: SessionState, held: readonly string[]): void {
    this.held.delete(state);
    for (const t of held) {
      const n = (this.pendingWrites.get(t) ?? 1) - 1;
      if (n <= 0) this.pendingWrites.delete(t);
      else this.pendingWrites.set(t, n);
    }
  }

  private writeThroughTables(statements: readonly PlannedStatement[]): string[] | null {
    const policies = this.tablePolicies();
    if (policies.size === 0) return null;
    let written: string[] | null = null;
    for (const s of statements) {
      const writes =
        ((s.plan.type === 'single' || s.plan.type === 'scatter') && s.plan.write) ||
        s.plan.type === 'split-insert' ||
        s.facts.kind === 'write' ||
        s.facts.kind === 'ddl';
      if (!writes) continue;
      for (const t of s.facts.tables) {
        if (policies.get(t)?.writeThrough) (written ??= []).push(t);
      }
    }
    return written;
  }
}

function primaryOf(cycle: QueryCycle, target: RouteTarget): RouteTarget {
  const shard = cycle.services.topology.shardList().find((s) => s.name === target.shard);
  return shard ? { shard: target.shard, server: shard.primary.name, role: 'primary' } : target;
}

/** Outside any transaction, no pinned or held server connection, no settings pending. */
function sessionMayUseCache(cycle: QueryCycle): boolean {
  const state = cycle.state;
  return (
    state.txStatus === 'I' &&
    state.deferredBegin === null &&
    state.pinnedReason === null &&
    state.pendingSettings.size === 0 &&
    cycle.bindings.size === 0
  );
}

/**
 * A simple Query, or Parse Bind [Describe] Execute Sync with the unnamed statement and portal
 * (the name is the first string of Parse, the portal and statement the first two of Bind: an
 * empty string is a lone NUL right after the 5-byte header).
 */
function cacheableFrames(unit: Unit): boolean {
  if (unit.flushOnly) return false;
  if (unit.simple) return unit.frames.length === 1 && unit.frames[0]!.type === FE.Query;
  const f = unit.frames;
  if (f.length < 4 || f.length > 5) return false;
  if (f[0]!.type !== FE.Parse || f[1]!.type !== FE.Bind) return false;
  if (f[f.length - 2]!.type !== FE.Execute || f[f.length - 1]!.type !== FE.Sync) return false;
  if (f.length === 5 && f[2]!.type !== FE.Describe) return false;
  const parse = f[0]!.bytes;
  const bind = f[1]!.bytes;
  return parse.length > 5 && parse[5] === 0 && bind.length > 6 && bind[5] === 0 && bind[6] === 0;
}

/** Reused for building keys: one allocation, grown when a unit is larger. */
let keyScratch = Buffer.allocUnsafe(4096);

/**
 * The local key: the session's identity, settings and routing context, then the unit's message
 * bytes, as one latin1 string (a byte per character). No hash on the hit path: the Map hashes the
 * string once, and equal strings mean equal bytes (no collisions to reason about). Every field is
 * NUL-terminated (none can hold a NUL) and every frame carries its own length, so two different
 * sessions or units never give the same string. The shared tier hashes it (sharedKey) when asked.
 */
function cacheKey(state: SessionState, unit: Unit): string {
  const c = state.context;
  let session = `${state.user}\0${state.database}\0${c.vip ? 1 : 0}${c.realtime ? 1 : 0}${c.batterySaving ? 1 : 0}\0${c.consistency ?? ''}\0${c.shard ?? ''}\0${c.role ?? ''}\0`;
  const settings = state.settings;
  if (settings.size > 0) {
    const names = [...settings.keys()].sort();
    for (const k of names) session += `${k}=${settings.get(k)}\0`;
  }
  let size = Buffer.byteLength(session);
  for (const frame of unit.frames) size += frame.bytes.length;
  if (size > keyScratch.length) keyScratch = Buffer.allocUnsafe(Math.max(size, keyScratch.length * 2));
  let at = keyScratch.write(session, 0, 'utf8');
  for (const frame of unit.frames) at += frame.bytes.copy(keyScratch, at);
  return keyScratch.toString('latin1', 0, at);
}

/** The key in Redis: a SHA-256 of the local key's bytes (short, and the same on every instance). */
function sharedKey(key: string): string {
  return hash('sha256', Buffer.from(key, 'latin1'), 'base64');
}

/**
 * FNV-1a over the body of the unit's first message (the Query, or the Parse with its text): part
 * of what cacheKey hashes, so equal keys have equal hints.
 */
function unitHint(unit: Unit): number {
  const bytes = unit.frames[0]!.bytes;
  let h = 0x811c9dc5;
  for (let i = 5; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** A response worth keeping: no error, nothing session-changing, ends idle (ReadyForQuery 'I'). */
export function isCleanResponse(buf: Buffer): boolean {
  let pos = 0;
  let lastType = 0;
  let lastStatus = 0;
  while (pos + 5 <= buf.length) {
    const type = buf[pos]!;
    const len = buf.readInt32BE(pos + 1);
    if (len < 4 || pos + 1 + len > buf.length) return false;
    // ErrorResponse, ParameterStatus, NotificationResponse, COPY: never replay these.
    if (type === 0x45 || type === 0x53 || type === 0x41 || type === 0x47 || type === 0x48 || type === 0x57)
      return false;
    lastType = type;
    lastStatus = len >= 5 ? buf[pos + 5]! : 0;
    pos += 1 + len;
  }
  return pos === buf.length && lastType === 0x5a && lastStatus === 0x49;
}

function replay(cycle: QueryCycle, unit: Unit, response: Buffer): void {
  if (!unit.simple) {
    // What the server binding would have recorded: the unnamed statement is now this one.
    const p = decodeParse(unit.frames[0]!.bytes);
    cycle.unnamed = { sql: p.query, paramTypes: p.paramTypes };
  }
  cycle.session.write(response);
}
