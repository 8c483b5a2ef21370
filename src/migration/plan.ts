// Planning a split (pure): which shard, where to cut its keyspace range, which servers take the
// halves, what moves, how long the throttled copy should take, and how to undo it. The manager
// supplies the table sizes it measured; nothing here does I/O.

import { backendLogin } from '../backend/backend-login.js';
import { serverNames } from '../backend/server-names.js';
import {
  type ServerConfig,
  type ShardConfig,
  type ShardgateConfig,
  type SpareConfig,
  type TableConfig,
  tableSchema,
} from '../config/schema.js';
import { formatKeyRange, type KeyRange, parseKeyRange } from '../domain/keyspace.js';
import { ShardgateError } from '../errors.js';
import type { MovedTable, ServerAddress, ThrottleSettings } from './types.js';

export interface PlannedTable extends MovedTable {
  /** Estimated rows (pg_class.reltuples) and on-disk bytes at plan time. */
  rows: number;
  bytes: number;
}

/**
 * One source of a migration and what it carries. A split and a move have one (the plan's
 * `source*` fields); a merge has two, in key order.
 */
export interface PlannedSource {
  shard: string;
  /** The shard as configured (with its replicas), restored by a rollback. */
  shardConfig: ShardConfig;
  server: ServerAddress;
  range: string;
  /** The moved tables this source holds (cleanup and verification take every one). */
  tables: PlannedTable[];
}

/** A shard the migration creates (or, for a move, the shard the table goes to). */
export interface PlannedTarget {
  shard: string;
  server: ServerAddress;
  range: string;
  /**
   * A spare's replicas (migration.spares[].replicas) as planned and checked before the migration
   * started: the switch and every restart install these, not what the config says by then.
   * Absent for a move, and in state files of older versions (read from the config then).
   */
  replicas?: ServerConfig[];
}

export interface SplitPlan {
  /** The shard's protocol: absent (state files of older versions) is PostgreSQL. */
  protocol?: 'postgres' | 'mysql';
  /** A split of a shard (absent in older state files), a move of one unsharded table, or a merge. */
  operation?: 'split' | 'move' | 'merge';
  /** For a merge: both sources (the first is also `source*`), and the routing they had. */
  merge?: {
    sources: PlannedSource[];
    /** The source that was the explicitly configured default shard (null: none of them). */
    defaultShard: string | null;
    /** Tables whose configured `home` was one of the sources, by table name. */
    homes: Record<string, string>;
  };
  /** For a move: the table, its new home, and its config before (null: not configured). */
  move?: { table: string; to: string; before: TableConfig | null };
  sourceShard: string;
  /** The source shard as configured (with its replicas), restored by a rollback. */
  sourceShardConfig: ShardConfig;
  source: ServerAddress;
  sourceRange: string;
  /** Split point as a keyspace hex prefix: the left half is [start, at), the right [at, end). */
  at: string;
  atChosenBy: 'operator' | 'advisor';
  targets: PlannedTarget[];
  tables: PlannedTable[];
  throttle: ThrottleSettings;
  cutoverDeadlineMs: number;
  inflightGraceMs: number;
  verify: 'full' | { sample: number };
  estimatedCopySeconds: number;
  strategy: string[];
  rollback: string[];
}

export interface SplitRequest {
  shard: string;
  /** Hex prefix ("8c") or a full keyspace id ("0x8c00..."), already resolved from "auto". */
  at: string;
  atChosenBy: 'operator' | 'advisor';
  /** Names of servers in migration.spares. */
  targets: [string, string];
  verify: 'full' | { sample: number };
  /** Measured sizes by table name. */
  sizes: ReadonlyMap<string, { rows: number; bytes: number }>;
  /**
   * Every ordinary table on the source (from its catalog). Those the config does not shard or
   * replicate are its unsharded tables: they move with the first half when the source is the
   * default shard.
   */
  sourceTables?: readonly string[];
  /** For the estimate: whether the maintenance window is open now. */
  inMaintenanceWindow: boolean;
}

/** Parses "8c", "8c4f", "0x8c4f000000000000" into a keyspace id. */
export function parseSplitPoint(text: string): bigint {
  const hex = text.trim().toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{1,16}$/.test(hex)) {
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `split point "${text}" is not a keyspace hex prefix like "8c" or "0x8c4f"`,
    });
  }
  return BigInt(`0x${hex.padEnd(16, '0')}`);
}

/**
 * Refuses a MySQL shard listed under `shards`: the MySQL front end routes by `mysqlShards`, so a
 * switch of this list would move nothing (docs/cutover.md, "MySQL and MariaDB").
 */
function requirePostgres(shard: ShardConfig, what: string): void {
  if (shard.protocol !== 'postgres') {
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `shard ${shard.name} is ${shard.protocol} but listed under shards; live ${what} of MySQL shards run on mysqlShards, the MySQL front end's routing (docs/cutover.md, "MySQL and MariaDB")`,
    });
  }
}

/** A shard of `mysqlShards` that no PostgreSQL `shards` entry shadows (the side splitShard picks). */
export function isMysqlShard(config: ShardgateConfig, name: string): boolean {
  return !config.shards.some((s) => s.name === name) && config.mysqlShards.some((s) => s.name === name);
}

/** A MySQL server of the config, reached as backend.mysqlUser in backend.mysqlDatabase. */
export function mysqlServerAddress(
  server: ServerConfig,
  name: string,
  config: ShardgateConfig,
): ServerAddress {
  return serverAddress(server, name, config, 'mysql');
}

/** A server of the config, reached as its protocol's service user (backend-login.ts). */
export function serverAddress(
  server: ServerConfig,
  name: string,
  config: ShardgateConfig,
  protocol: 'postgres' | 'mysql' = 'postgres',
): ServerAddress {
  const login = backendLogin(config, protocol);
  return {
    name,
    host: server.host,
    port: server.port,
    user: login.user,
    database: server.database ?? login.database,
  };
}

/**
 * The spare server `name` of migration.spares, refused when missing or when it or one of its
 * replicas already serves a shard.
 */
export function freeSpare(config: ShardgateConfig, name: string, described: string): SpareConfig {
  const spare = config.migration.spares.find((s) => s.name === name);
  if (!spare) {
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `${described} is not in migration.spares (${config.migration.spares.map((s) => s.name ?? `${s.host}:${s.port}`).join(', ') || 'none configured'})`,
    });
  }
  const all = [...config.shards, ...config.mysqlShards];
  const inUse = new Set(all.flatMap((s) => [serverNames(s).primary, ...serverNames(s).replicas]));
  if (inUse.has(name)) {
    throw new ShardgateError('MIGRATION_INVALID', { detail: `${described} already serves a shard` });
  }
  const addresses = new Set(all.flatMap((s) => [s.primary, ...s.replicas]).map((s) => `${s.host}:${s.port}`));
  for (const r of spare.replicas) {
    if ((r.name && inUse.has(r.name)) || addresses.has(`${r.host}:${r.port}`)) {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail: `replica ${r.name ?? `${r.host}:${r.port}`} of ${described} already serves a shard`,
      });
    }
  }
  return spare;
}

/** The copy's throttle, as configured under migration. */
export function throttleSettings(config: ShardgateConfig): ThrottleSettings {
  const m = config.migration;
  return {
    rowsPerSecond: m.rowsPerSecond,
    bytesPerSecond: m.bytesPerSecond,
    maintenanceWindow: m.maintenanceWindow ?? null,
    maintenanceMultiplier: m.maintenanceMultiplier,
    batchRows: m.batchRows,
  };
}

/** The shard a split names, PostgreSQL or MySQL (the MySQL one as a shard of protocol mysql). */
export function splitShard(config: ShardgateConfig, name: string): ShardConfig {
  const pg = config.shards.find((s) => s.name === name);
  if (pg && pg.protocol !== 'postgres') {
    // The MySQL front end routes by mysqlShards; a switch of this list would move nothing.
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `shard ${name} is mysql but listed under shards; live splits of MySQL shards run on mysqlShards, the MySQL front end's routing (docs/cutover.md, "MySQL and MariaDB")`,
    });
  }
  if (pg) return pg;
  const my = config.mysqlShards.find((s) => s.name === name);
  if (my) return { ...my, protocol: 'mysql' };
  throw new ShardgateError('MIGRATION_INVALID', {
    detail: `no shard "${name}"; shards: ${[...config.shards, ...config.mysqlShards].map((s) => s.name).join(', ')}`,
  });
}

export function planSplit(config: ShardgateConfig, req: SplitRequest): SplitPlan {
  const shard = splitShard(config, req.shard);
  const mysql = shard.protocol === 'mysql';
  const range = parseKeyRange(shard.keyRange);
  const at = parseSplitPoint(req.at);
  if (at <= range.start || at >= range.end) {
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `split point ${req.at} is not inside shard ${shard.name}'s range "${shard.keyRange}"`,
    });
  }
  if (req.targets[0] === req.targets[1]) {
    throw new ShardgateError('MIGRATION_INVALID', { detail: 'the two targets must be different servers' });
  }
  const address = mysql ? mysqlServerAddress : serverAddress;
  const targetServers = req.targets.map((name) =>
    address(freeSpare(config, name, `target "${name}"`), name, config),
  );
  const halves: KeyRange[] = [
    { start: range.start, end: at },
    { start: at, end: range.end },
  ];
  const names = uniqueShardNames(config, shard.name);
  const tables = movedTables(config, shard.name, req);
  const m = config.migration;
  const throttle = throttleSettings(config);
  const primaryName = serverNames(shard).primary;
  const source = address(shard.primary, primaryName, config);
  // The same halves, targets and copy settings for both protocols; only the steps differ.
  const common = {
    sourceShard: shard.name,
    sourceShardConfig: structuredClone(shard),
    source,
    sourceRange: shard.keyRange,
    at: formatKeyRange({ start: at, end: at + 1n }).split('-')[0]!,
    atChosenBy: req.atChosenBy,
    targets: [0, 1].map((i) => ({
      shard: names[i]!,
      server: targetServers[i]!,
      range: formatKeyRange(halves[i]!),
      replicas: spareReplicas(config, targetServers[i]!.name),
    })),
  };
  if (mysql) {
    return {
      protocol: 'mysql',
      ...common,
      ...copySettings(config, tables, throttle, req),
      ...mysqlSplitSteps({ config, req, shard, tables, throttle, primaryName }),
    };
  }
  return {
    ...common,
    ...copySettings(config, tables, throttle, req),
    strategy: [
      `publication + logical replication slot (pgoutput) on ${primaryName}, its exported snapshot for the copy`,
      `schema of ${countKinds(tables)} applied on ${req.targets.join(' and ')} (unsharded tables on ${req.targets[0]} only)`,
      `keyset-paginated copy in primary-key order, ${throttle.batchRows} rows a batch, at most ${throttle.rowsPerSecond} rows/s and ${formatBytes(throttle.bytesPerSecond)}/s${throttle.maintenanceWindow ? ` (x${throttle.maintenanceMultiplier} in ${throttle.maintenanceWindow})` : ''}, checkpointed after every batch`,
      `change capture applied to the owning target (reference tables to both, unsharded tables to ${req.targets[0]}), idempotently, until the lag is small`,
      `cutover block: writes to ${shard.name} held, in-flight transactions get ${m.inflightGraceMs} ms then 40001, targets catch up, topology switch; deadline ${m.cutoverDeadlineMs} ms, past it abort and stay on ${shard.name}`,
      `verification (${req.verify === 'full' ? 'every chunk' : `${req.verify.sample} sampled chunks`}) of counts and checksums per key-ordered chunk`,
      `cleanup only when asked: moved rows deleted from ${primaryName}`,
    ],
    rollback: [
      `before the switch: abort; ${shard.name} never stopped being the source of truth, nothing to undo`,
      `after the switch, until cleanup: \`shardgate migrate rollback <id>\`: a reverse capture from ${names.join(' and ')} has kept ${primaryName} current; a second bounded block switches back`,
      'after cleanup: no rollback (the source rows are gone); split again or restore from backup',
    ],
  };
}

/**
 * What moves: the hash-sharded tables (each row to the half owning its key), the reference tables
 * (every row to both halves) and the unsharded tables whose home is the source (every row to the
 * first half, which becomes their home: the new default shard, or their configured `home`).
 */
export function movedTables(
  config: ShardgateConfig,
  shard: string,
  req: Pick<SplitRequest, 'sizes' | 'sourceTables'>,
): PlannedTable[] {
  // The same side splitShard picks: a name in both lists is the PostgreSQL shard.
  if (!config.shards.some((s) => s.name === shard) && config.mysqlShards.some((s) => s.name === shard))
    return movedTablesOn(config, shard, req, mysqlDefaultShard(config));
  return movedTablesOn(config, shard, req, config.routing.defaultShard ?? config.shards[0]?.name);
}

/**
 * Where the MySQL front end puts an unsharded table without `home`: routing.defaultShard when it
 * names a MySQL shard, else the first of mysqlShards (planner-context.ts, defaultShard).
 */
export function mysqlDefaultShard(config: ShardgateConfig): string | undefined {
  const named = config.mysqlShards.find((s) => s.name === config.routing.defaultShard);
  return named?.name ?? config.mysqlShards[0]?.name;
}

function movedTablesOn(
  config: ShardgateConfig,
  shard: string,
  req: Pick<SplitRequest, 'sizes' | 'sourceTables'>,
  defaultShard: string | undefined,
): PlannedTable[] {
  const size = (name: string) => req.sizes.get(name) ?? { rows: 0, bytes: 0 };
  const out: PlannedTable[] = [];
  for (const [name, t] of Object.entries(config.tables)) {
    if (t.reference) out.push({ name, shardKey: '', keyType: t.keyType, kind: 'reference', ...size(name) });
    else if (t.shardKey && t.method === 'hash')
      out.push({ name, shardKey: t.shardKey, keyType: t.keyType, kind: 'sharded', ...size(name) });
  }
  for (const name of req.sourceTables ?? []) {
    const t = config.tables[name];
    if (t && (t.reference || t.shardKey)) continue;
    if ((t?.home ?? defaultShard) !== shard) continue; // lives elsewhere: a leftover copy here
    out.push({ name, shardKey: '', keyType: 'int', kind: 'unsharded', ...size(name) });
  }
  return out;
}

export function countKinds(tables: readonly PlannedTable[]): string {
  const n = (kind: string) => tables.filter((t) => (t.kind ?? 'sharded') === kind).length;
  return `${n('sharded')} sharded, ${n('reference')} reference and ${n('unsharded')} unsharded tables`;
}

export function uniqueShardNames(config: ShardgateConfig, base: string): [string, string] {
  const taken = new Set([...config.shards, ...config.mysqlShards].map((s) => s.name));
  for (let n = 0; n < 100; n++) {
    const suffix = n === 0 ? '' : String(n);
    const a = `${base}a${suffix}`;
    const b = `${base}b${suffix}`;
    if (!taken.has(a) && !taken.has(b)) return [a, b];
  }
  throw new ShardgateError('MIGRATION_INVALID', { detail: `cannot name the halves of ${base}` });
}

/** The copy and cutover settings of every plan: the migration config's, the request's verify mode. */
export function copySettings(
  config: ShardgateConfig,
  tables: PlannedTable[],
  throttle: ThrottleSettings,
  req: { verify: SplitPlan['verify']; inMaintenanceWindow: boolean },
): Pick<
  SplitPlan,
  'tables' | 'throttle' | 'cutoverDeadlineMs' | 'inflightGraceMs' | 'verify' | 'estimatedCopySeconds'
> {
  const m = config.migration;
  return {
    tables,
    throttle,
    cutoverDeadlineMs: m.cutoverDeadlineMs,
    inflightGraceMs: m.inflightGraceMs,
    verify: req.verify,
    estimatedCopySeconds: estimateCopySeconds(tables, throttle, req.inMaintenanceWindow),
  };
}

function estimateCopySeconds(
  tables: ReadonlyArray<{ rows: number; bytes: number }>,
  throttle: ThrottleSettings,
  inWindow: boolean,
): number {
  const factor = inWindow ? throttle.maintenanceMultiplier : 1;
  const rows = tables.reduce((n, t) => n + Math.max(0, t.rows), 0);
  const bytes = tables.reduce((n, t) => n + Math.max(0, t.bytes), 0);
  return Math.max(rows / (throttle.rowsPerSecond * factor), bytes / (throttle.bytesPerSecond * factor));
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round(n / 1024 / 1024)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} kB`;
  return `${n} B`;
}

export interface MoveRequest {
  table: string;
  /** The shard that becomes the table's home. */
  to: string;
  verify: 'full' | { sample: number };
  sizes: ReadonlyMap<string, { rows: number; bytes: number }>;
  inMaintenanceWindow: boolean;
}

/**
 * Planning a table move (vertical placement): one unsharded table from its home shard to another
 * shard's primary, with the split's machinery (copy, capture, block on the home shard, switch of
 * its `home`, verification, reverse capture for a rollback).
 */
export function planMove(config: ShardgateConfig, req: MoveRequest): SplitPlan {
  const before = config.tables[req.table] ?? null;
  if (before && (before.reference || before.shardKey)) {
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `table ${req.table} is ${before.reference ? 'a reference table' : 'sharded'}; only an unsharded table moves (a sharded one moves by splitting or merging shards)`,
    });
  }
  // A move to a MySQL shard moves a table of the MySQL front end: its home is a MySQL shard too.
  const mysql = isMysqlShard(config, req.to);
  const list = mysql ? config.mysqlShards : config.shards;
  const from =
    before?.home ?? (mysql ? mysqlDefaultShard(config) : config.routing.defaultShard) ?? list[0]!.name;
  const source = list.find((s) => s.name === from);
  const target = list.find((s) => s.name === req.to);
  if (!source)
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `home shard "${from}" of ${req.table} is not ${mysql ? 'a MySQL shard (a table moves between shards of one protocol)' : 'in the topology'}`,
    });
  if (!target) {
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `no shard "${req.to}"; shards: ${config.shards.map((s) => s.name).join(', ')}`,
    });
  }
  if (!mysql) {
    requirePostgres(source, 'table moves');
    requirePostgres(target, 'table moves');
  }
  const address = mysql ? mysqlServerAddress : serverAddress;
  if (target.name === source.name)
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `table ${req.table} already lives on ${req.to}`,
    });
  const sourcePrimary = serverNames(source).primary;
  const targetPrimary = serverNames(target).primary;
  const size = req.sizes.get(req.table) ?? { rows: 0, bytes: 0 };
  const tables: PlannedTable[] = [
    { name: req.table, shardKey: '', keyType: 'int', kind: 'unsharded', ...size },
  ];
  const m = config.migration;
  const throttle = throttleSettings(config);
  const pgText = {
    strategy: [
      `publication + logical replication slot (pgoutput) on ${sourcePrimary} for ${req.table}, its exported snapshot for the copy`,
      `schema of ${req.table} applied on ${targetPrimary}`,
      `keyset-paginated copy in primary-key order, ${throttle.batchRows} rows a batch, at most ${throttle.rowsPerSecond} rows/s, checkpointed after every batch`,
      `change capture applied to ${targetPrimary}, idempotently, until the lag is small`,
      `cutover block: writes to ${source.name} held, in-flight transactions get ${m.inflightGraceMs} ms then 40001, ${targetPrimary} catches up, ${req.table}'s home becomes ${target.name}; deadline ${m.cutoverDeadlineMs} ms, past it abort and stay on ${source.name}`,
      `verification (${req.verify === 'full' ? 'every chunk' : `${req.verify.sample} sampled chunks`}) and the whole-table row count`,
      `cleanup only when asked: ${req.table}'s rows deleted from ${sourcePrimary}`,
    ],
    rollback: [
      `before the switch: abort; ${source.name} never stopped being ${req.table}'s home`,
      `after the switch, until cleanup: \`shardgate migrate rollback <id>\`: a reverse capture from ${targetPrimary} has kept ${sourcePrimary} current; a bounded block on ${target.name} switches back`,
      'after cleanup: no rollback (the source rows are gone); move the table back instead',
    ],
  };
  const mysqlText = {
    strategy: [
      `START TRANSACTION WITH CONSISTENT SNAPSHOT on ${sourcePrimary}, its binlog point as a GTID position for the capture of ${req.table}`,
      `schema of ${req.table} applied on ${targetPrimary} (SHOW CREATE TABLE)`,
      `keyset-paginated copy in primary-key order, ${throttle.batchRows} rows a batch, at most ${throttle.rowsPerSecond} rows/s, checkpointed after every batch`,
      `binlog capture from the snapshot's GTID position applied to ${targetPrimary}, idempotently, until it has caught up`,
      `cutover block: writes to ${source.name} held on both front ends, in-flight transactions get ${m.inflightGraceMs} ms, the capture reaches ${sourcePrimary}'s final GTID position, ${req.table}'s home becomes ${target.name}; deadline ${m.cutoverDeadlineMs} ms, past it abort and stay on ${source.name}`,
      `after the switch: a binlog capture of ${targetPrimary} keeps ${sourcePrimary} current; ${req.table} is verified whole (count and checksum, at one point); cleanup deletes its rows from ${sourcePrimary} only when asked, after verification`,
    ],
    rollback: [
      `before the switch: abort; ${source.name} never stopped being ${req.table}'s home`,
      `after the switch, until cleanup: \`shardgate migrate rollback <id>\`: ${sourcePrimary} is verified against ${targetPrimary}, then a bounded block on ${target.name} waits for the reverse capture and switches back`,
      'after cleanup: no rollback (the source rows are gone); move the table back instead',
    ],
  };
  return {
    ...(mysql ? { protocol: 'mysql' as const } : {}),
    operation: 'move',
    move: { table: req.table, to: target.name, before: before ? structuredClone(before) : null },
    sourceShard: source.name,
    sourceShardConfig: structuredClone(mysql ? { ...source, protocol: 'mysql' as const } : source),
    source: address(source.primary, sourcePrimary, config),
    sourceRange: source.keyRange,
    at: '',
    atChosenBy: 'operator',
    targets: [
      {
        shard: target.name,
        server: address(target.primary, targetPrimary, config),
        range: target.keyRange,
      },
    ],
    ...copySettings(config, tables, throttle, req),
    ...(mysql ? mysqlText : pgText),
  };
}

/** The config after the switch of a move: the table's home is the target shard. */
export function configAfterMove(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  const move = plan.move!;
  const current = config.tables[move.table] ?? tableSchema.parse({});
  return { ...config, tables: { ...config.tables, [move.table]: { ...current, home: move.to } } };
}

/** The config after a move's rollback: the table's config as it was. */
export function configBeforeMove(config: ShardgateConfig, plan: SplitPlan): ShardgateConfig {
  const move = plan.move!;
  const tables = { ...config.tables };
  if (move.before) tables[move.table] = move.before;
  else delete tables[move.table];
  return { ...config, tables };
}

/** The sources of a plan: a merge's two, or the one of a split or move. */
export function planSources(plan: SplitPlan): PlannedSource[] {
  if (plan.merge) return plan.merge.sources;
  return [
    {
      shard: plan.sourceShard,
      shardConfig: plan.sourceShardConfig,
      server: plan.source,
      range: plan.sourceRange,
      tables: plan.tables,
    },
  ];
}

/**
 * The tables source i's copy and change capture carry. A reference table holds the same rows on
 * every source and every write reaches each alike, so only the first source carries it (two
 * streams of the same writes would interleave their replays on the target).
 */
export function carriedTables(plan: SplitPlan, i: number): PlannedTable[] {
  const tables = planSources(plan)[i]?.tables ?? [];
  return i === 0 ? tables : tables.filter((t) => (t.kind ?? 'sharded') !== 'reference');
}

/**
 * A plan target as a shard of the config after the switch: its spare server as primary, the
 * spare's streaming replicas as replicas (fenced at the switch position until they replay it).
 */
export function targetShardConfig(
  config: ShardgateConfig,
  target: SplitPlan['targets'][number],
): ShardConfig {
  const spare = config.migration.spares.find((s) => s.name === target.server.name);
  return {
    name: target.shard,
    keyRange: target.range,
    readOnly: false,
    protocol: 'postgres',
    primary: spare
      ? { ...withoutReplicas(spare), name: target.server.name }
      : { name: target.server.name, host: target.server.host, port: target.server.port },
    replicas: targetReplicas(config, target),
  };
}

/**
 * The replicas a spare brings to the shard it becomes (migration.spares[].replicas, checked
 * before the migration by spare-replicas.ts), for both protocols' switch configs.
 */
export function spareReplicas(config: ShardgateConfig, server: string): ServerConfig[] {
  const spare = config.migration.spares.find((s) => s.name === server);
  return spare ? spare.replicas.map((r) => structuredClone(r)) : [];
}

/** A target server and the replicas recorded for it in its plan (absent in older state files). */
export interface ReplicaSource {
  server: ServerAddress;
  replicas?: readonly ServerConfig[];
}

/**
 * The replicas a target brings to its new shard: the list recorded in the plan when it was made
 * and checked, so a config edit after that cannot put an unchecked server into the topology at
 * the switch or at a restart. A plan of an older version without the list reads the config.
 */
export function targetReplicas(config: ShardgateConfig, target: ReplicaSource): ServerConfig[] {
  return target.replicas
    ? target.replicas.map((r) => structuredClone(r))
    : spareReplicas(config, target.server.name);
}

/** The protocol of a plan (absent in older state files: PostgreSQL). */
export function protocolOf(plan: Pick<SplitPlan, 'protocol'>): 'postgres' | 'mysql' {
  return plan.protocol ?? 'postgres';
}

function withoutReplicas(spare: SpareConfig): ServerConfig {
  const { replicas: _replicas, ...server } = spare;
  return server;
}

/** Tables whose home is shard `from` live on `to` instead. */
export function rehome(
  tables: ShardgateConfig['tables'],
  from: string,
  to: string,
): ShardgateConfig['tables'] {
  if (!Object.values(tables).some((t) => t.home === from)) return tables;
  return Object.fromEntries(
    Object.entries(tables).map(([name, t]) => [name, t.home === from ? { ...t, home: to } : t]),
  );
}

/**
 * The steps of a MySQL shard's split: the same plan shape as PostgreSQL's (phases, state file, progress
 * and the cutover block are the manager's), with the MySQL data plane's strategy: a consistent
 * snapshot instead of a slot, the binlog from the snapshot's GTID position instead of pgoutput,
 * and a reverse binlog capture of each target after the switch (verification, rollback).
 */
function mysqlSplitSteps(p: {
  config: ShardgateConfig;
  req: SplitRequest;
  shard: ShardConfig;
  tables: PlannedTable[];
  throttle: ThrottleSettings;
  primaryName: string;
}): Pick<SplitPlan, 'strategy' | 'rollback'> {
  const { config, req, shard, throttle, primaryName } = p;
  const m = config.migration;
  return {
    strategy: [
      `START TRANSACTION WITH CONSISTENT SNAPSHOT on ${primaryName}, its binlog point as a GTID position for the capture`,
      `schema of ${countKinds(p.tables)} applied on ${req.targets.join(' and ')} (SHOW CREATE TABLE)`,
      `keyset-paginated copy in primary-key order, ${throttle.batchRows} rows a batch, at most ${throttle.rowsPerSecond} rows/s and ${formatBytes(throttle.bytesPerSecond)}/s, checkpointed after every batch`,
      `binlog capture from the snapshot's GTID position applied to the owning target (reference tables to both), idempotently, until it has caught up`,
      `cutover block: writes to ${shard.name} held on both front ends, in-flight transactions get ${m.inflightGraceMs} ms, the capture reaches the source's final GTID position, topology switch; deadline ${m.cutoverDeadlineMs} ms, past it abort and stay on ${shard.name}`,
      `after the switch: a binlog capture of each target keeps ${primaryName} current; whole tables are verified (counts and checksums, each table at one point); cleanup deletes the moved rows from ${primaryName} only when asked, after verification`,
    ],
    rollback: [
      `before the switch: abort; ${shard.name} never stopped being the source of truth, nothing to undo`,
      `after the switch, until cleanup: migrate rollback verifies ${primaryName} against the targets, then a block on the targets waits for the reverse capture and switches back; nothing written since the switch is lost`,
      'after cleanup: no rollback (the source rows are gone); merge the halves instead',
    ],
  };
}
