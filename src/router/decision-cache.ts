// The routing decision of a statement text, cached so that a repeated statement is neither
// analyzed nor planned again: only its shard-key value is resolved to a shard per execution.
//
// What a decision depends on, and where the cache sees it:
// - the statement: the raw text when it has no literals (then even the fingerprint pass is
//   skipped), else its fingerprint (the literal values are resolved per execution);
// - the session: every RoutingSession field the planner reads before the server choice
//   (sessionKey), so a SET shardgate.*, BEGIN [READ ONLY] or a transaction's shard makes another key;
// - the topology, rules, migrations' switches and rollbacks: all of them rebuild the topology,
//   which bumps its version; a new version empties the cache (sync);
// - the schema: the planner has none (facts come from the text, routing from the config).
// Only single-target decisions are kept (decisionTemplate): one statement, one target shard, one
// sharded table at most with a single key value, and no value-dependent step (INSERT rows, a
// shard-key assignment, joins, ranges, hints). The server within the shard is chosen again on
// every replay (chooseServer: live health, lag, fences, read-your-writes positions), so a cached
// replica read never pins a replica. When in doubt, it plans afresh.
import type { ConsistencyLevel } from '../config/schema.js';
import type { AnalyzedQuery } from '../sql/analyzer.js';
import type { KeyCondition, StatementFacts, ValueRef } from '../sql/facts.js';
import { approximateBytes, type CacheStats, ParseCache } from '../sql/parse-cache.js';
import { decideLevel, effectiveContext } from './consistency.js';
import type { RoutingSession, ShardView, TopologyView } from './inputs.js';
import type { Plan, RouteTarget, SinglePlan } from './plan.js';
import { chooseServer } from './replica-choice.js';
import { resolveShard } from './sharding/resolve.js';
import { classify } from './table-routing.js';

/** The one sharded table whose key value picks the shard, and where that value comes from. */
interface KeyedBy {
  table: string;
  config: TopologyView['tables'][string];
  ref: ValueRef;
}

/**
 * A plan made for one shard. `choice`: a read at a level below strong outside a transaction:
 * its server is chosen again per execution from live replica state (chooseServer, the planner's
 * own step); the plan's reasons then end with that choice's reason.
 */
interface ShardDecision {
  plan: SinglePlan;
  choice: { level: ConsistencyLevel; maxLagMs: number } | null;
}

export interface DecisionTemplate {
  /** The text's analysis (reused on a hit of a text without literals). */
  analyzed: AnalyzedQuery;
  /** False: the statement is planned every time (its decision depends on more than the key). */
  replayable: boolean;
  /** Null: the statement's shard does not depend on a value (unsharded or reference tables). */
  keyed: KeyedBy | null;
  /** The decision made for each shard the key value has led to so far ('' when not keyed). */
  shards: Map<string, ShardDecision>;
}

/** routing.decisionCacheBytes' default: templates share their facts with the parse cache. */
export const DEFAULT_DECISION_CACHE_BYTES = 8 * 1024 * 1024;

export interface DecisionCacheOptions {
  entries: number;
  bytes: number;
}

export class DecisionCache {
  private readonly cache: ParseCache<DecisionTemplate>;
  private version = -1;

  constructor(options: DecisionCacheOptions) {
    this.cache = new ParseCache<DecisionTemplate>(
      options.bytes > 0 ? Math.max(0, Math.floor(options.entries)) : 0,
      options.bytes,
      approximateBytes,
    );
  }

  get enabled(): boolean {
    return this.cache.capacity > 0;
  }

  get stats(): CacheStats {
    return this.cache.stats;
  }

  /** Drops every decision made against an older topology version (rules, switch, rollback). */
  sync(view: TopologyView): void {
    if (view.version === this.version) return;
    this.cache.clear();
    this.version = view.version;
  }

  get(key: string): DecisionTemplate | undefined {
    return this.cache.get(key);
  }

  /** Stores (or re-measures, after a new shard's plan was added) a template. */
  set(key: string, template: DecisionTemplate): void {
    this.cache.set(key, template);
  }
}

/** Cache key of a raw statement text without literals. */
export function textKey(session: RoutingSession, sql: string): string {
  return `T${sessionKey(session)}\u0000${sql}`;
}

/** Cache key of a fingerprint (a text with literals; their values are resolved per execution). */
export function fingerprintKey(session: RoutingSession, fingerprint: string): string {
  return `F${sessionKey(session)}\u0000${fingerprint}`;
}

/**
 * Every session field the planner reads up to the server choice. lastWritePositions is left out
 * on purpose: decisionTemplate keeps only plans on the primary at level strong (or writes),
 * where no position is consulted.
 */
export function sessionKey(s: RoutingSession): string {
  const c = s.context;
  const flags =
    (c.vip ? 1 : 0) |
    (c.realtime ? 2 : 0) |
    (c.batterySaving ? 4 : 0) |
    (c.overridesAllowed ? 8 : 0) |
    (c.crossShardRefused ? 16 : 0) |
    (c.crossShardTwoPhase ? 32 : 0) |
    (s.inTransaction ? 64 : 0) |
    (s.transactionReadOnly ? 128 : 0) |
    (s.crossShardTransactions ? 256 : 0) |
    (s.backslashQuotes ? 512 : 0);
  let key = `${flags}|${c.consistency ?? ''}|${c.shard ?? ''}|${c.role ?? ''}`;
  if (s.inTransaction) {
    key += `|${s.transactionShard ?? ''}|${s.transactionServer ?? ''}|${s.crossShardRefusedBy ?? ''}`;
    if (s.transactionServers)
      for (const [shard, server] of s.transactionServers) key += `|${shard}=${server}`;
  }
  return key;
}

export function hasHints(hints: object): boolean {
  for (const _ in hints) return true;
  return false;
}

/**
 * Whatever about the statement keeps its decision from being replayed, by its text and session
 * alone (null: nothing does). Such a statement is still cached, as not replayable: a text without
 * literals then at least skips its analysis.
 */
function staticRefusal(analyzed: AnalyzedQuery, session: RoutingSession, view: TopologyView): string | null {
  const statements = analyzed.facts.statements;
  if (statements.length !== 1) return 'several statements';
  if (hasHints(analyzed.facts.hints)) return 'comment hints';
  const facts = statements[0]!;
  if (facts.kind !== 'read' && facts.kind !== 'write') return `a ${facts.kind} statement`;
  if (facts.insert) return 'INSERT rows';
  if (facts.colocation) return 'a join or subquery of sharded tables';
  if (session.context.shard !== null || session.context.role !== null) return 'shard= or role= forced';
  const sharded = shardedTable(facts, view);
  if (sharded === undefined) return 'several sharded tables';
  if (sharded === null) return null;
  // An UPDATE assigning the shard key: whether the row moves depends on the new value.
  if (facts.assignments?.some((a) => a.table === sharded)) return 'a shard-key assignment';
  if (facts.ranges?.some((r) => r.table === sharded)) return 'a key range';
  const cond = keyCondition(facts, sharded, view);
  if (cond === null || cond.arrayParam !== undefined || cond.values.length !== 1) return 'not one key value';
  return null;
}

/** The one sharded table of the statement (null: none; undefined: several). */
function shardedTable(facts: StatementFacts, view: TopologyView): string | null | undefined {
  let sharded: string | null = null;
  for (const t of facts.tables) {
    if (classify(view.tables[t]) !== 'sharded') continue;
    if (sharded !== null && sharded !== t) return undefined;
    sharded = t;
  }
  return sharded;
}

/** The one key condition on the table's shard key (null: none or several). */
function keyCondition(facts: StatementFacts, table: string, view: TopologyView): KeyCondition | null {
  const column = view.tables[table]!.shardKey!.toLowerCase();
  let cond: KeyCondition | null = null;
  for (const k of facts.keyConditions) {
    if (k.table !== table || k.column !== column) continue;
    if (cond !== null) return null;
    cond = k;
  }
  return cond;
}

/**
 * The template of a freshly planned statement: replayable, or not (statically: see
 * staticRefusal), or null when this plan cannot say (an error, a scatter, a server the live state
 * chose in another way): then nothing is cached and the next execution plans again.
 */
export function decisionTemplate(
  analyzed: AnalyzedQuery,
  plan: Plan,
  session: RoutingSession,
  view: TopologyView,
): DecisionTemplate | null {
  if (staticRefusal(analyzed, session, view) !== null)
    return { analyzed, replayable: false, keyed: null, shards: new Map() };
  const facts = analyzed.facts.statements[0]!;
  const sharded = shardedTable(facts, view)!;
  const keyed =
    sharded === null
      ? null
      : {
          table: sharded,
          config: view.tables[sharded]!,
          ref: keyCondition(facts, sharded, view)!.values[0]!,
        };
  const template: DecisionTemplate = { analyzed, replayable: true, keyed, shards: new Map() };
  return addShardPlan(template, plan, session, view) ? template : null;
}

/**
 * Adds the plan made for a shard the template had none for (same statement, session, version);
 * false when the plan is not one a shard alone decides.
 */
export function addShardPlan(
  template: DecisionTemplate,
  plan: Plan,
  session: RoutingSession,
  view: TopologyView,
): boolean {
  if (!template.replayable || plan.type !== 'single') return false;
  const keyed = template.keyed;
  let shard = '';
  if (keyed === null) {
    if (plan.keys.length !== 0) return false;
  } else {
    const key = plan.keys[0];
    if (plan.keys.length !== 1 || key === undefined || key.table !== keyed.table) return false;
    shard = key.shard;
  }
  const tables = template.analyzed.facts.statements[0]?.tables ?? [];
  const decision = shardDecision(plan, tables, session, view);
  if (decision === null) return false;
  template.shards.set(shard, decision);
  return true;
}

/**
 * The plan as a function of its shard: on the primary at level strong (or a write, or a
 * transaction's server), or a read whose server chooseServer picks per execution. The latter is
 * checked by choosing again now (same synchronous step, same live state): the same server and the
 * same last reason, else it is not replayed.
 */
function shardDecision(
  plan: SinglePlan,
  tables: readonly string[],
  session: RoutingSession,
  view: TopologyView,
): ShardDecision | null {
  const level = plan.level;
  if (level === null || level === 'strong') {
    if (plan.target.role !== 'primary' || plan.target.wait) return null;
    return { plan: copyPlan(plan, [], plan.target, plan.reasons), choice: null };
  }
  if (session.inTransaction || plan.write) return null;
  const shardView = view.shards.find((s) => s.name === plan.target.shard);
  if (!shardView) return null;
  const maxLagMs = maxLagOf(tables, session, view);
  if (maxLagMs === null) return null;
  const choice = { level, maxLagMs };
  const again = choose(choice, shardView, session, view);
  const last = plan.reasons[plan.reasons.length - 1];
  if (again.reason !== last || !sameTarget(again.target, plan.target)) return null;
  return { plan: copyPlan(plan, [], plan.target, plan.reasons), choice };
}

/** The staleness bound the planner used for `bounded` (no hints: the session's context only). */
function maxLagOf(tables: readonly string[], session: RoutingSession, view: TopologyView): number | null {
  const ctx = effectiveContext(session.context, {});
  return 'detail' in ctx ? null : decideLevel(tables, ctx, view).maxLagMs;
}

function choose(
  c: { level: ConsistencyLevel; maxLagMs: number },
  shard: ShardView,
  session: RoutingSession,
  view: TopologyView,
) {
  return chooseServer({
    level: c.level,
    shard,
    routing: view.routing,
    lastWritePosition: session.lastWritePositions.get(shard.name) ?? null,
    maxLagMs: c.maxLagMs,
  });
}

function sameTarget(a: RouteTarget, b: RouteTarget): boolean {
  return (
    a.shard === b.shard &&
    a.server === b.server &&
    a.role === b.role &&
    a.wait?.position === b.wait?.position &&
    a.wait?.maxWaitMs === b.wait?.maxWaitMs &&
    a.wait?.fallbackServer === b.wait?.fallbackServer
  );
}

/**
 * The plan for this execution from a replayable template: the key value resolved to its shard
 * and that shard's decision with this value's key (and, for a replica read, this moment's server
 * choice); null when the value is unknown (NULL, a binary parameter of unknown type), owned by no
 * shard, or its shard has no decision yet (the caller plans afresh).
 */
export function replayDecision(
  template: DecisionTemplate,
  resolve: (ref: ValueRef) => string | null,
  session: RoutingSession,
  view: TopologyView,
): SinglePlan | null {
  if (!template.replayable) return null;
  const keyed = template.keyed;
  let shard = '';
  let keys: SinglePlan['keys'] = [];
  if (keyed !== null) {
    const value = resolve(keyed.ref);
    if (value === null) return null;
    const owner = resolveShard(keyed.config, value, view.shards);
    if (owner === null) return null;
    shard = owner;
    keys = [{ shard, table: keyed.table, value }];
  }
  const decision = template.shards.get(shard);
  if (decision === undefined) return null;
  const { plan, choice } = decision;
  if (choice === null) return copyPlan(plan, keys, plan.target, plan.reasons);
  const shardView = view.shards.find((s) => s.name === plan.target.shard);
  if (!shardView) return null;
  const chosen = choose(choice, shardView, session, view);
  const reasons = plan.reasons.slice(0, -1);
  reasons.push(chosen.reason);
  return copyPlan(plan, keys, chosen.target, reasons);
}

/** A plan of its own for each execution: callers may add reasons; targets are not shared. */
function copyPlan(
  plan: SinglePlan,
  keys: SinglePlan['keys'],
  target: RouteTarget,
  reasons: readonly string[],
): SinglePlan {
  return {
    level: plan.level,
    dataTypes: plan.dataTypes,
    topologyVersion: plan.topologyVersion,
    reasons: reasons.slice(),
    keys,
    type: 'single',
    target: target.wait
      ? { shard: target.shard, server: target.server, role: target.role, wait: { ...target.wait } }
      : { shard: target.shard, server: target.server, role: target.role },
    write: plan.write,
  };
}
