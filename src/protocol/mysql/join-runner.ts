// MySQL's side of the cross-shard join primitive (src/executor/broadcast-join.ts): the fetch runs
// on the servers its own plan names (one, or a scatter merged as any scatter read); for a table
// its column definitions are read from information_schema on one of them, so JSON_TABLE declares
// them exactly. The rewritten statement is planned with a placeholder where the rows go (the
// parser cannot read JSON_TABLE), the rows swapped into the planned text, and it runs as the
// client's query would. COM_QUERY only: the rewrite inlines rows into the text.
import type { MysqlServerConnection } from '../../backend/mysql-server-connection.js';
import { ShardgateError } from '../../errors.js';
import { runBroadcastJoin } from '../../executor/broadcast-join.js';
import { joinFetchRoute } from '../../executor/join-fetch.js';
import type { RowBudget } from '../../executor/merge-budget.js';
import { ResultMerger } from '../../executor/merger.js';
import type { ColumnInfo, Row } from '../../executor/rows.js';
import { mergeParts, runParts } from '../../executor/shard-parts.js';
import type { JoinPlan } from '../../router/plan.js';
import type { PlannedStatement } from '../../router/router.js';
import {
  type FetchedColumn,
  mysqlBroadcastSql,
  swapPlaceholder,
  type TableColumn,
} from '../../sql/mysql/mysql-broadcast-sql.js';
import type { ColumnDefinition } from './columns.js';
import type { CommandCycle } from './command-cycle.js';
import { COM } from './constants.js';
import type { LogicalPacket } from './packet-framer.js';
import { framePayload } from './packet-io.js';
import { mergeColumn, mysqlBackend } from './scatter-runner.js';
import { MysqlServerError } from './server-binding.js';

const BINARY_CHARSET = 63;

function hexText(s: string): string {
  return `CONVERT(X'${Buffer.from(s, 'utf8').toString('hex')}' USING utf8mb4)`;
}

function columnsSql(table: string): string {
  return (
    'SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS ' +
    `WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${hexText(table)} ORDER BY ORDINAL_POSITION`
  );
}

interface Fetched {
  columns: ColumnInfo[];
  rows: Row[];
  definitions: ColumnDefinition[];
  table: TableColumn[] | null;
}

export async function runJoin(
  cycle: CommandCycle,
  packet: LogicalPacket,
  statement: PlannedStatement,
): Promise<void> {
  const plan = statement.plan as JoinPlan;
  const texts = mysqlBroadcastSql(statement.sql, plan.site);
  let fetched: Fetched | null = null;
  let residual: { run: string; plan: string; rows?: string } | null = null;
  await runBroadcastJoin(
    {
      fetch: async (sql, budget) => {
        fetched = await fetchRows(cycle, sql, budget, plan.form === 'table' ? plan.table : null);
        return fetched;
      },
      run: async () => {
        const r = residual!;
        const planFor = () =>
          cycle.services.router.planSimple(r.plan, cycle.routing()).map((s) => withRows(s, r, texts.site));
        const payload = Buffer.concat([Buffer.of(COM.QUERY), Buffer.from(r.run, 'utf8')]);
        const rerun: LogicalPacket = { ...packet, payload, raw: framePayload(payload, packet.seq) };
        const planned = planFor();
        for (const s of planned)
          if (s.plan.type === 'error') throw new ShardgateError(s.plan.code, s.plan.params);
          else if (s.plan.type === 'broadcast-join' || planned.length !== 1)
            throw new ShardgateError('JOIN_NOT_BROADCASTABLE', {
              table: plan.table,
              detail: 'the statement still joins sharded tables across shards once one is fetched',
            });
        await cycle.runPlanned(rerun, planned, planFor);
      },
    },
    {
      fetchSql: texts.fetchSql,
      residualSql: (_columns, rows) => {
        const f = fetched!;
        const kinds: FetchedColumn[] = f.definitions.map((d) => ({
          numeric: mergeColumn(d).typeOid !== 25,
          binary: d.collation === BINARY_CHARSET,
        }));
        residual = texts.residual(rows, kinds, f.table);
        return residual.run;
      },
    },
    {
      form: plan.form,
      table: plan.table,
      maxBytes: plan.maxBytes,
      colocatedBy: plan.colocatedBy,
      sql: statement.sql,
    },
  );
}

/** The planned statement with the placeholder's rows in its texts (a copy: plans are cached). */
function withRows(
  s: PlannedStatement,
  r: { run: string; plan: string; rows?: string },
  site: { alias: string; table: string },
): PlannedStatement {
  if (r.rows === undefined) return s;
  const swap = (text: string) => swapPlaceholder(text, r.rows!, site.table);
  const detached = { alias: site.alias, table: site.table };
  const plan =
    s.plan.type === 'scatter'
      ? { ...s.plan, rewrittenSql: s.plan.rewrittenSql ? swap(s.plan.rewrittenSql) : null, detached }
      : s.plan;
  return { ...s, sql: swap(s.sql), plan };
}

/** The table's columns as declared, in order; null when they cannot be read. */
async function tableColumns(conn: MysqlServerConnection, table: string): Promise<TableColumn[] | null> {
  const r = await conn.query(columnsSql(table));
  const rows = r.error ? null : r.results[0]?.rows;
  if (!rows || rows.length === 0) return null;
  return rows.map((row) => ({
    name: row[0]?.toString('utf8') ?? '',
    type: row[1]?.toString('utf8') ?? '',
    charset: row[2]?.toString('utf8') ?? null,
    collation: row[3]?.toString('utf8') ?? null,
  }));
}

async function fetchRows(
  cycle: CommandCycle,
  sql: string,
  budget: RowBudget,
  tableName: string | null,
): Promise<Fetched> {
  const planned = cycle.services.router.planSimple(sql, cycle.routing());
  const plan = planned[0]?.plan;
  if (planned.length !== 1 || !plan)
    throw new ShardgateError('INTERNAL', { detail: 'a join fetch of several statements' });
  if (plan.type === 'error') throw new ShardgateError(plan.code, plan.params);
  const { targets, text, merge } = joinFetchRoute(plan, sql);
  const collations = cycle.services.server.columnCollations;
  let table: TableColumn[] | null = null;
  const { results, failed } = await runParts(
    {
      ...mysqlBackend(cycle, budget, null),
      whileHeld: async (bindings, answers) => {
        const first = bindings[0]!.conn;
        const defs = answers[0]?.results[0]?.columns ?? [];
        if (merge && !answers.some((r) => r.error)) await collations.load(first, defs);
        if (tableName !== null) table = await tableColumns(first, tableName);
      },
    },
    targets.map((target) => ({ target, sql: text })),
  );
  if (failed?.error) throw new MysqlServerError(failed.error);
  const definitions = results[0]?.results[0]?.columns;
  if (!definitions) throw new ShardgateError('INTERNAL', { detail: 'a join fetch without columns' });
  const columns = definitions.map((c) => mergeColumn(c, collations.collationOf(c)));
  const merger = new ResultMerger(merge, columns, {
    maxRows: cycle.services.topology.view().routing.maxMergeRows,
  });
  const rows = mergeParts(
    merger,
    results.map((r) => r.results[0]?.rows ?? []),
  );
  return { columns, rows, definitions, table };
}
