// INSERT ... VALUES into a sharded table: each row's shard from its shard-key value. One shard:
// a single plan; several: a SplitInsertPlan outside a transaction, CROSS_SHARD_TRANSACTION in one.
import type { InsertShape } from '../sql/facts.js';
import type { Plan, SplitInsertPlan } from './plan.js';
import { crossShard, errorPlan, type PlanContext, singlePlan, withBase } from './planner-context.js';
import { keyChange } from './planner-key-change.js';
import { resolveShard } from './sharding/resolve.js';
import { classify } from './table-routing.js';

/** The plan for an INSERT into a sharded table; null when the table is not sharded. */
export function planInsert(pc: PlanContext, insert: InsertShape): Plan | null {
  const { topology } = pc.input;
  const table = insert.table;
  const config = topology.tables[table];
  if (!config || classify(config) !== 'sharded') return null;
  const column = config.shardKey!.toLowerCase();
  const unsupported = (detail: string) => errorPlan(pc.base, 'SCATTER_UNSUPPORTED', { detail });
  if (insert.rowsUnread) {
    // Past the token bound the rows were not read, and here they would decide the shards.
    pc.base.reasons.push(`bulk insert into sharded ${table} past limits.maxStatementTokens`);
    return errorPlan(pc.base, 'STATEMENT_TOO_COMPLEX', { max: insert.rowsUnread.maxTokens });
  }
  if (insert.fromSelect) {
    return unsupported(
      `INSERT ... SELECT into sharded table ${table}: the rows' shards are unknown until they exist; insert with VALUES`,
    );
  }
  const index = insert.columns.indexOf(column);
  if (index < 0 || insert.rows.length === 0) {
    return unsupported(
      `INSERT into sharded table ${table} must list its shard key ${column} among the columns`,
    );
  }
  const byShard = new Map<string, number[]>();
  for (let i = 0; i < insert.rows.length; i++) {
    const ref = insert.rows[i]![index];
    if (!ref)
      return unsupported(
        `row ${i + 1} gives ${table}.${column} as an expression; use a literal or a parameter`,
      );
    const value = pc.input.resolve(ref);
    if (value === null)
      return unsupported(`row ${i + 1} has no value (NULL) for the shard key ${table}.${column}`);
    let shard = resolveShard(config, value, topology.shards);
    if (shard === null) {
      // An int key that is not an integer: PostgreSQL rejects the row on any shard, so let the
      // default shard say so in its own words. A range/list gap is a configuration matter.
      if (config.method !== 'hash')
        return unsupported(
          `${table}.${column} = ${value} is owned by no shard (tables.${table}.${config.method})`,
        );
      shard = topology.defaultShard;
    }
    pc.base.keys.push({ shard, table, value });
    const rows = byShard.get(shard);
    if (rows) rows.push(i);
    else byShard.set(shard, [i]);
  }
  const shards = topology.shards.filter((s) => byShard.has(s.name));
  pc.base.reasons.push(
    `insert ${insert.rows.length} row(s) into ${table} -> ${shards.map((s) => s.name).join(', ')}`,
  );
  const moved = keyChange(pc, { shards: shards.map((s) => s.name), keyUnknown: false }, false);
  if (moved) return moved;
  // The table's id column omitted: shardgate writes the ids into the text (a split INSERT, one
  // part per shard, runs outside a transaction).
  const idColumn = config.idColumn?.toLowerCase();
  const fill = idColumn !== undefined && !insert.columns.includes(idColumn);
  if (fill && pc.input.session.inTransaction)
    return errorPlan(pc.base, 'ID_FILL_IN_TRANSACTION', { table, column: idColumn });
  if (fill) pc.base.reasons.push(`${table}.${idColumn} omitted -> filled with ${config.idStrategy} ids`);
  if (shards.length === 1 && !fill) return singlePlan(pc, shards[0]!, true, null);
  const refused = crossShard(
    pc,
    shards.map((s) => s.name),
  );
  if (refused) return refused;
  for (const s of shards) if (s.readOnly) return errorPlan(pc.base, 'SHARD_READ_ONLY', { shard: s.name });
  const plan: SplitInsertPlan = withBase<SplitInsertPlan>(pc.base, {
    type: 'split-insert',
    parts: shards.map((s) => ({
      target: { shard: s.name, server: s.primary.name, role: 'primary' },
      rows: byShard.get(s.name)!,
    })),
  });
  if (fill) plan.fillIds = { column: idColumn, values: [] };
  return plan;
}
