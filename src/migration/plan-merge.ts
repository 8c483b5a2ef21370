// Planning a merge (pure), the inverse of a split: two shards owning adjacent keyspace ranges
// become one shard on a spare server, with the split's machinery run from two sources at once
// (one slot, copy and capture per source, one cutover block holding both shards, one reverse
// capture from the merged shard routing each change back to the source owning its key).
import { serverNames } from '../backend/server-names.js';
import type { ShardConfig, ShardgateConfig } from '../config/schema.js';
import { formatKeyRange, parseKeyRange } from '../domain/keyspace.js';
import { ShardgateError } from '../errors.js';
import {
  copySettings,
  countKinds,
  formatBytes,
  freeSpare,
  isMysqlShard,
  movedTables,
  mysqlServerAddress,
  type PlannedSource,
  type PlannedTable,
  type SplitPlan,
  serverAddress,
  spareReplicas,
  throttleSettings,
} from './plan.js';

export interface MergeRequest {
  /** The two shards, in any order; their ranges must touch. */
  shards: [string, string];
  /** A server of migration.spares that becomes the merged shard's primary. */
  into: string;
  verify: 'full' | { sample: number };
  /** Measured sizes and the catalog's ordinary tables, per source shard. */
  sizes: ReadonlyMap<string, ReadonlyMap<string, { rows: number; bytes: number }>>;
  sourceTables: ReadonlyMap<string, readonly string[]>;
  inMaintenanceWindow: boolean;
}

/**
 * The two shards of a merge in key order, or a coded refusal saying why they cannot merge. Two
 * shards of `mysqlShards` (and of no PostgreSQL `shards` entry) merge as MySQL shards (protocol
 * mysql); otherwise both must be PostgreSQL shards.
 */
export function mergeOrder(
  config: ShardgateConfig,
  names: readonly [string, string],
): [ShardConfig, ShardConfig] {
  const mysql = names.every((n) => isMysqlShard(config, n));
  const list = mysql ? config.mysqlShards : config.shards;
  const found = names.map((name) => {
    const shard = list.find((s) => s.name === name);
    if (!shard) {
      const other = isMysqlShard(config, name) ? ' (a MySQL shard: both must be of one protocol)' : '';
      throw new ShardgateError('MIGRATION_INVALID', {
        detail: `no shard "${name}"${other}; shards: ${list.map((s) => s.name).join(', ')}`,
      });
    }
    if (mysql) return { ...shard, protocol: 'mysql' as const };
    if (shard.protocol !== 'postgres') {
      throw new ShardgateError('MIGRATION_INVALID', {
        detail: `shard ${name} is ${shard.protocol} but listed under shards; live merges of MySQL shards run on mysqlShards, the MySQL front end's routing`,
      });
    }
    return shard;
  });
  if (found[0]!.name === found[1]!.name) {
    throw new ShardgateError('MIGRATION_INVALID', { detail: 'a merge needs two different shards' });
  }
  const [a, b] = found.map((s) => ({ shard: s, range: parseKeyRange(s.keyRange) }));
  const [lo, hi] = a!.range.start < b!.range.start ? [a!, b!] : [b!, a!];
  if (lo.range.end !== hi.range.start) {
    throw new ShardgateError('MIGRATION_INVALID', {
      detail: `shards ${lo.shard.name} ("${lo.shard.keyRange}") and ${hi.shard.name} ("${hi.shard.keyRange}") do not own adjacent key ranges; merge neighbours only`,
    });
  }
  return [lo.shard, hi.shard];
}

export function planMerge(config: ShardgateConfig, req: MergeRequest): SplitPlan {
  const [lo, hi] = mergeOrder(config, req.shards);
  const mysql = lo.protocol === 'mysql';
  const address = mysql ? mysqlServerAddress : serverAddress;
  const spare = freeSpare(config, req.into, `"${req.into}"`);
  const sources: PlannedSource[] = [lo, hi].map((shard) => {
    const onSource = req.sourceTables.get(shard.name) ?? [];
    const tables = movedTables(config, shard.name, {
      sizes: req.sizes.get(shard.name) ?? new Map(),
      sourceTables: onSource,
    });
    return {
      shard: shard.name,
      shardConfig: structuredClone(shard),
      server: address(shard.primary, serverNames(shard).primary, config),
      range: shard.keyRange,
      // A configured table a MySQL source does not have has nothing to move (PostgreSQL-only names).
      tables: mysql ? tables.filter((t) => onSource.includes(t.name)) : tables,
    };
  });
  // Every table once (a sharded table's size is the sum of both sources').
  const tables = new Map<string, PlannedTable>();
  for (const t of sources.flatMap((s) => s.tables)) {
    const seen = tables.get(t.name);
    if (!seen) tables.set(t.name, { ...t });
    else if ((t.kind ?? 'sharded') === 'sharded') {
      seen.rows += t.rows;
      seen.bytes += t.bytes;
    }
  }
  const moved = [...tables.values()];
  const range = formatKeyRange({
    start: parseKeyRange(lo.keyRange).start,
    end: parseKeyRange(hi.keyRange).end,
  });
  const merged = mergedShardName(config, lo.name, hi.name);
  const m = config.migration;
  const throttle = throttleSettings(config);
  const explicitDefault = config.routing.defaultShard;
  const names = [lo.name, hi.name];
  const homes = Object.fromEntries(
    Object.entries(config.tables)
      .filter(([, t]) => t.home && names.includes(t.home))
      .map(([name, t]) => [name, t.home!]),
  );
  const both = `${lo.name} and ${hi.name}`;
  const into = address(spare, req.into, config);
  const pgMergeText = () => ({
    strategy: [
      `publication + logical replication slot (pgoutput) on ${sources.map((s) => s.server.name).join(' and ')}, each one's exported snapshot for its copy`,
      `schema of ${countKinds(moved)} applied on ${req.into}`,
      `keyset-paginated copy from both sources in primary-key order, ${throttle.batchRows} rows a batch, at most ${throttle.rowsPerSecond} rows/s and ${formatBytes(throttle.bytesPerSecond)}/s, checkpointed after every batch (reference tables from ${lo.name} only: both hold the same rows)`,
      `change capture from both sources applied to ${req.into}, idempotently, until the lag is small`,
      `cutover block: writes to ${both} held, in-flight transactions get ${m.inflightGraceMs} ms then 40001, ${req.into} catches up with both, topology switch to ${merged} ${range}; deadline ${m.cutoverDeadlineMs} ms, past it abort and stay on ${both}`,
      `verification (${req.verify === 'full' ? 'every chunk' : `${req.verify.sample} sampled chunks`}) of each source against its range of ${merged}, and whole-table row counts`,
      `cleanup only when asked: moved rows deleted from ${sources.map((s) => s.server.name).join(' and ')}`,
    ],
    rollback: [
      `before the switch: abort; ${both} never stopped being the source of truth, nothing to undo`,
      `after the switch, until cleanup: \`shardgate migrate rollback <id>\`: a reverse capture from ${req.into} has kept ${both} current (each change to the source owning its key); a bounded block on ${merged} switches back`,
      'after cleanup: no rollback (the source rows are gone); split again instead',
    ],
  });
  const mysqlMergeText = () => ({
    strategy: [
      `START TRANSACTION WITH CONSISTENT SNAPSHOT on ${sources.map((s) => s.server.name).join(' and ')}, in turn, each one's binlog point as a GTID position for its capture`,
      `schema of ${countKinds(moved)} applied on ${req.into} (SHOW CREATE TABLE)`,
      `keyset-paginated copy from both sources in primary-key order, ${throttle.batchRows} rows a batch, at most ${throttle.rowsPerSecond} rows/s and ${formatBytes(throttle.bytesPerSecond)}/s, checkpointed after every batch (reference tables from ${lo.name} only; rows outside a source's range are leftovers, not copied)`,
      `binlog capture from both sources, each from its snapshot's GTID position, applied to ${req.into}, idempotently, until both have caught up`,
      `cutover block: writes to ${both} held on both front ends, in-flight transactions get ${m.inflightGraceMs} ms, both captures reach their source's final GTID position, topology switch to ${merged} ${range}; deadline ${m.cutoverDeadlineMs} ms, past it abort and stay on ${both}`,
      `after the switch: a binlog capture of ${req.into} keeps ${both} current (each change to the source owning its key); each source is verified against its range of ${merged} (whole tables, counts and checksums, each table at one point); cleanup deletes the moved rows only when asked, after verification`,
    ],
    rollback: [
      `before the switch: abort; ${both} never stopped being the source of truth, nothing to undo`,
      `after the switch, until cleanup: \`shardgate migrate rollback <id>\`: ${both} are verified against ${merged}, then a bounded block on ${merged} waits for the reverse capture and switches back`,
      'after cleanup: no rollback (the source rows are gone); split again instead',
    ],
  });
  return {
    ...(mysql ? { protocol: 'mysql' as const } : {}),
    operation: 'merge',
    merge: {
      sources,
      defaultShard: explicitDefault && names.includes(explicitDefault) ? explicitDefault : null,
      homes,
    },
    sourceShard: lo.name,
    sourceShardConfig: sources[0]!.shardConfig,
    source: sources[0]!.server,
    sourceRange: lo.keyRange,
    // Where the two ranges meet (a split at this point would undo the merge).
    at: formatKeyRange({
      start: parseKeyRange(hi.keyRange).start,
      end: parseKeyRange(hi.keyRange).start + 1n,
    }).split('-')[0]!,
    atChosenBy: 'operator',
    targets: [{ shard: merged, server: into, range, replicas: spareReplicas(config, into.name) }],
    ...copySettings(config, moved, throttle, req),
    ...(mysql ? mysqlMergeText : pgMergeText)(),
  };
}

function mergedShardName(config: ShardgateConfig, lo: string, hi: string): string {
  const taken = new Set(
    [...config.shards, ...config.mysqlShards].map((s) => s.name).filter((n) => n !== lo && n !== hi),
  );
  for (let n = 0; n < 100; n++) {
    const name = `${lo}_${hi}${n === 0 ? '' : n}`;
    if (!taken.has(name)) return name;
  }
  throw new ShardgateError('MIGRATION_INVALID', { detail: `cannot name the merge of ${lo} and ${hi}` });
}
