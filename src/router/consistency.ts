// The consistency level of a read, decided in this fixed order (each step reported as a reason):
//
//   1. base      the strongest level among the data types of the statement's tables; a table in
//                no data type counts as routing.defaultLevel (so does a statement without tables).
//   2. explicit  an explicit consistency (comment hint `consistency=`, else the session's
//                `shardgate.consistency`) REPLACES the level; steps 3 and 4 are then skipped.
//   3. realtime  realtime mode sets `strong`; VIP and battery saving are then ignored.
//   4. vip/battery otherwise VIP maps the level through routing.vipLevels and battery saving
//                through routing.batterySavingLevels (the seed's mappings by default: VIP
//                eventual -> read_your_writes -> strong, battery saving strong -> read_your_writes
//                -> eventual); a level a mapping does not list stays. Both at once cancel out.
//   5. floor     never below the strongest floor among the touched data types. The floor bounds
//                every context source, including an explicit comment hint: floors protect data
//                (set by the operator in config) and comment hints come from the application.
//                (Operators who must reach a replica anyway use the role= / shard= overrides,
//                which pick a server, not a level.)
//
// A comment hint's vip / realtime / battery_saving replace the session's value for one statement.
import { CONSISTENCY_LEVELS, type ConsistencyLevel, type DataTypeConfig } from '../config/schema.js';
import type { CommentHints } from '../sql/facts.js';
import type { SessionContext, TopologyView } from './inputs.js';

export const LEVEL_RANK: Readonly<Record<ConsistencyLevel, number>> = {
  weak: 0,
  eventual: 1,
  bounded: 2,
  read_your_writes: 3,
  strong: 4,
};

export function stronger(x: ConsistencyLevel, y: ConsistencyLevel): ConsistencyLevel {
  return LEVEL_RANK[x] >= LEVEL_RANK[y] ? x : y;
}

export function shiftLevel(level: ConsistencyLevel, steps: number): ConsistencyLevel {
  const i = Math.min(CONSISTENCY_LEVELS.length - 1, Math.max(0, LEVEL_RANK[level] + steps));
  return CONSISTENCY_LEVELS[i]!;
}

export function isLevel(text: string): text is ConsistencyLevel {
  return (CONSISTENCY_LEVELS as readonly string[]).includes(text);
}

/** The context in force for one statement: the session's, with comment hints laid over it. */
export interface EffectiveContext {
  vip: boolean;
  realtime: boolean;
  batterySaving: boolean;
  consistency: ConsistencyLevel | null;
  /** Where `consistency` came from, for the reasons. */
  consistencySource: 'hint' | 'session' | null;
}

export type HintProblem = { name: string; value: string; detail: string };

const TRUE_WORDS = new Set(['on', 'true', 'yes', '1', 't', 'y']);
const FALSE_WORDS = new Set(['off', 'false', 'no', '0', 'f', 'n']);

function hintBool(name: string, raw: string | undefined, fallback: boolean): boolean | HintProblem {
  if (raw === undefined) return fallback;
  const v = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(v)) return true;
  if (FALSE_WORDS.has(v)) return false;
  return { name, value: raw, detail: 'expected on or off' };
}

/** Lays comment hints over the session context; a bad hint value is returned as a problem. */
export function effectiveContext(
  session: SessionContext,
  hints: CommentHints,
): EffectiveContext | HintProblem {
  const vip = hintBool('vip', hints.vip, session.vip);
  if (typeof vip !== 'boolean') return vip;
  const realtime = hintBool('realtime', hints.realtime, session.realtime);
  if (typeof realtime !== 'boolean') return realtime;
  const battery = hintBool('battery_saving', hints.battery_saving, session.batterySaving);
  if (typeof battery !== 'boolean') return battery;
  let consistency = session.consistency;
  let consistencySource: EffectiveContext['consistencySource'] = consistency ? 'session' : null;
  if (hints.consistency !== undefined) {
    const v = hints.consistency.trim().toLowerCase();
    if (v === 'default') {
      // Like `SET shardgate.consistency = default`: the data types decide, for this statement.
      consistency = null;
      consistencySource = null;
    } else if (isLevel(v)) {
      consistency = v;
      consistencySource = 'hint';
    } else {
      return {
        name: 'consistency',
        value: hints.consistency,
        detail: `expected one of ${CONSISTENCY_LEVELS.join(', ')} or default`,
      };
    }
  }
  return { vip, realtime, batterySaving: battery, consistency, consistencySource };
}

export interface LevelDecision {
  level: ConsistencyLevel;
  /** Data types touched, sorted. */
  dataTypes: string[];
  /** Staleness bound when the level is `bounded`. */
  maxLagMs: number;
  /** Strongest floor of the touched data types (bounds role=replica too), or null. */
  floor: ConsistencyLevel | null;
  reasons: string[];
}

interface TypeIndex {
  byTable: Map<string, { name: string; config: DataTypeConfig }>;
}

// One index per dataTypes object: a reload builds a new object, so the cache follows it.
const typeIndexes = new WeakMap<object, TypeIndex>();

function typeIndex(dataTypes: TopologyView['dataTypes']): TypeIndex {
  let index = typeIndexes.get(dataTypes);
  if (index) return index;
  index = { byTable: new Map() };
  for (const [name, config] of Object.entries(dataTypes)) {
    for (const t of config.tables)
      if (!index.byTable.has(t.toLowerCase())) index.byTable.set(t.toLowerCase(), { name, config });
  }
  typeIndexes.set(dataTypes, index);
  return index;
}

/** Data type name of a table, or null when it is in none. */
export function dataTypeOf(table: string, topology: TopologyView): string | null {
  return typeIndex(topology.dataTypes).byTable.get(table)?.name ?? null;
}

/** Decides the read level for a statement touching `tables` under context `ctx` (see top). */
export function decideLevel(
  tables: readonly string[],
  ctx: EffectiveContext,
  topology: TopologyView,
): LevelDecision {
  const { routing } = topology;
  const index = typeIndex(topology.dataTypes);
  const reasons: string[] = [];
  const dataTypes: string[] = [];
  let level: ConsistencyLevel | null = null;
  let floor: ConsistencyLevel | null = null;
  let maxLagMs: number | null = null;
  for (const table of tables) {
    const entry = index.byTable.get(table);
    if (!entry) {
      reasons.push(`table ${table} -> no data type (default ${routing.defaultLevel})`);
      level = level === null ? routing.defaultLevel : stronger(level, routing.defaultLevel);
      continue;
    }
    const { name, config } = entry;
    reasons.push(`table ${table} -> data type ${name} (${config.level})`);
    if (!dataTypes.includes(name)) dataTypes.push(name);
    level = level === null ? config.level : stronger(level, config.level);
    if (config.floor) floor = floor === null ? config.floor : stronger(floor, config.floor);
    if (config.maxLagMs !== undefined)
      maxLagMs = maxLagMs === null ? config.maxLagMs : Math.min(maxLagMs, config.maxLagMs);
  }
  if (level === null) {
    level = routing.defaultLevel;
    reasons.push(`no tables -> default ${level}`);
  } else if (tables.length > 1) {
    reasons.push(`strongest -> ${level}`);
  }
  if (ctx.consistency !== null) {
    reasons.push(
      `${ctx.consistencySource === 'hint' ? 'hint' : 'session'} consistency: ${level} -> ${ctx.consistency}`,
    );
    level = ctx.consistency;
  } else if (ctx.realtime) {
    if (level !== 'strong') reasons.push(`realtime: ${level} -> strong`);
    level = 'strong';
  } else {
    if (ctx.vip && ctx.batterySaving) reasons.push('vip + battery saving cancel out');
    else if (ctx.vip || ctx.batterySaving) {
      const mapping = ctx.vip ? routing.vipLevels : routing.batterySavingLevels;
      const next = mapping[level] ?? level;
      reasons.push(`${ctx.vip ? 'vip' : 'battery saving'}: ${level} -> ${next}`);
      level = next;
    }
  }
  if (floor !== null && LEVEL_RANK[level] < LEVEL_RANK[floor]) {
    reasons.push(`floor ${floor}: ${level} -> ${floor}`);
    level = floor;
  }
  dataTypes.sort();
  return { level, dataTypes, maxLagMs: maxLagMs ?? routing.defaultMaxLagMs, floor, reasons };
}
