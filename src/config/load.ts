// Loads and validates the YAML config. Errors name the key path and what is wrong, so an operator
// can fix the file without reading code; the CLI exits non-zero before listening.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { parseKeyRange } from '../domain/keyspace.js';
import { templateNames } from '../transactions/compensation-template.js';
import { configSchema, type DataTypeConfig, type ShardgateConfig } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
}

/**
 * crossShard: compensate needs a compensating statement for every table of the data type (at
 * least one statement kind; a write of a kind without one commits with two-phase commit), and
 * compensations mean nothing under another choice.
 */
function compensationProblems(typeName: string, dataType: DataTypeConfig): string[] {
  const problems: string[] = [];
  const at = `dataTypes.${typeName}`;
  const declared = dataType.compensations ?? {};
  if (dataType.crossShard !== 'compensate') {
    if (Object.keys(declared).length > 0)
      problems.push(
        `${at}.compensations: only a data type with crossShard: compensate uses compensations (it has ${dataType.crossShard})`,
      );
    return problems;
  }
  for (const table of dataType.tables) {
    const kinds = declared[table];
    if (!kinds || Object.values(kinds).every((t) => !t))
      problems.push(
        `${at}: crossShard: compensate needs compensations.${table} with an insert, update or delete statement that undoes it (e.g. insert: "DELETE FROM ${table} WHERE id = :id"), or choose two_phase`,
      );
  }
  for (const [table, kinds] of Object.entries(declared)) {
    if (!dataType.tables.includes(table))
      problems.push(`${at}.compensations.${table}: "${table}" is not one of the data type's tables`);
    for (const [kind, template] of Object.entries(kinds)) {
      if (template && templateNames(template).length === 0 && kind === 'insert')
        problems.push(
          `${at}.compensations.${table}.insert: the statement names no :column of the inserted row, so it cannot undo just that row`,
        );
    }
  }
  return problems;
}

/** Checks that need several keys at once (zod validates each key alone). */
export function crossCheck(config: ShardgateConfig): string[] {
  const problems: string[] = [];
  for (const [side, shards] of [
    ['shards', config.shards],
    ['mysqlShards', config.mysqlShards],
  ] as const) {
    const names = new Set<string>();
    const ranges: Array<{ name: string; start: bigint; end: bigint }> = [];
    shards.forEach((shard, i) => {
      if (names.has(shard.name)) problems.push(`${side}.${i}.name: duplicate shard name "${shard.name}"`);
      names.add(shard.name);
      const range = parseKeyRange(shard.keyRange);
      if (range.start >= range.end) problems.push(`${side}.${i}.keyRange: "${shard.keyRange}" is empty`);
      ranges.push({ name: shard.name, ...range });
    });
    ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let expected = 0n;
    for (const r of ranges) {
      if (r.start > expected)
        problems.push(`${side}: keyspace gap before shard "${r.name}" (no shard owns it)`);
      if (r.start < expected)
        problems.push(`${side}: shard "${r.name}" overlaps the previous shard's key range`);
      expected = r.end;
    }
    if (shards.length > 0 && expected < 1n << 64n)
      problems.push(`${side}: the last key range does not reach the end of the keyspace`);
  }
  const shardNames = new Set(config.shards.map((s) => s.name));
  if (config.routing.defaultShard && !shardNames.has(config.routing.defaultShard)) {
    problems.push(`routing.defaultShard: "${config.routing.defaultShard}" is not a shard name`);
  }
  const allShards = new Set([...shardNames, ...config.mysqlShards.map((s) => s.name)]);
  const databaseNames = new Set<string>();
  config.databases.forEach((d, i) => {
    const name = typeof d === 'string' ? d : d.name;
    if (databaseNames.has(name)) problems.push(`databases.${i}: database "${name}" is listed twice`);
    databaseNames.add(name);
    if (typeof d === 'string') return;
    for (const shard of Object.keys(d.shards)) {
      if (!allShards.has(shard)) problems.push(`databases.${i}.shards: "${shard}" is not a shard name`);
    }
  });
  const seenTables = new Map<string, string>();
  for (const [typeName, dataType] of Object.entries(config.dataTypes)) {
    for (const table of dataType.tables) {
      const other = seenTables.get(table);
      if (other)
        problems.push(`dataTypes.${typeName}.tables: table "${table}" is already in data type "${other}"`);
      seenTables.set(table, typeName);
    }
    problems.push(...compensationProblems(typeName, dataType));
    if (dataType.floor) {
      // A floor above the level itself would silently raise the level; say so instead.
      const order = ['weak', 'eventual', 'bounded', 'read_your_writes', 'strong'];
      if (order.indexOf(dataType.floor) > order.indexOf(dataType.level)) {
        problems.push(
          `dataTypes.${typeName}.floor: floor "${dataType.floor}" is stronger than its level "${dataType.level}"`,
        );
      }
    }
  }
  for (const [tableName, table] of Object.entries(config.tables)) {
    if (table.reference && table.shardKey) {
      problems.push(`tables.${tableName}: a reference table has no shardKey`);
    }
    for (const [i, r] of table.ranges.entries()) {
      if (!shardNames.has(r.shard))
        problems.push(`tables.${tableName}.ranges.${i}.shard: unknown shard "${r.shard}"`);
    }
    for (const shard of Object.keys(table.lists)) {
      if (!shardNames.has(shard))
        problems.push(`tables.${tableName}.lists.${shard}: unknown shard "${shard}"`);
    }
    if (table.home && (table.shardKey || table.reference))
      problems.push(
        `tables.${tableName}.home: only an unsharded table (no shardKey, not reference) has a home`,
      );
    else if (
      table.home &&
      !shardNames.has(table.home) &&
      !config.mysqlShards.some((s) => s.name === table.home)
    )
      problems.push(`tables.${tableName}.home: unknown shard "${table.home}"`);
    if (table.method !== 'hash' && !table.shardKey)
      problems.push(`tables.${tableName}.shardKey: method "${table.method}" needs a shardKey`);
  }
  const userNames = new Set<string>();
  config.users.forEach((u, i) => {
    if (userNames.has(u.name)) problems.push(`users.${i}.name: duplicate user "${u.name}"`);
    userNames.add(u.name);
  });
  return problems;
}

export function parseConfig(raw: unknown, source = '(inline)'): ShardgateConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(source, formatIssues(result.error.issues));
  const problems = crossCheck(result.data);
  if (problems.length) throw new ConfigError(source, problems);
  return result.data;
}

export function loadConfigFile(path: string): ShardgateConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(path, [`YAML syntax: ${(err as Error).message}`]);
  }
  return parseConfig(raw, path);
}
