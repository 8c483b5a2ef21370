// Runs one statement on several shards in parallel and answers with one MySQL result: a merged
// result set (ORDER BY / LIMIT / GROUP BY aggregates by src/executor/merger.ts) in the text
// protocol for COM_QUERY or the binary protocol for COM_STMT_EXECUTE, or one OK summing the
// shards' affected rows. A prepared statement runs on the shards as text with its parameters
// inlined. The first shard error fails the statement with that server's error.
import { ShardgateError } from '../../errors.js';
import { MergeBudget, type RowBudget } from '../../executor/merge-budget.js';
import { ResultMerger } from '../../executor/merger.js';
import type { ColumnInfo } from '../../executor/rows.js';
import { mergeParts, runParts, type ShardBackend } from '../../executor/shard-parts.js';
import { scatterPartEvent } from '../../observability/statement-observer.js';
import type { MergeSpec, Plan, RouteTarget } from '../../router/plan.js';
import type { PlannedStatement } from '../../router/router.js';
import type { ColumnCollations } from './column-collations.js';
import type { ColumnDefinition } from './columns.js';
import type { CommandCycle } from './command-cycle.js';
import { TYPE } from './constants.js';
import type { LogicalPacket } from './packet-framer.js';
import type { CollectedResponse } from './result-collector.js';
import type { Cell } from './rows.js';
import { type MysqlBinding, MysqlServerError } from './server-binding.js';
import type { ClientStatement } from './session-state.js';
import { localStatus } from './session-state.js';
import { type InlineValue, inlineInsertRowsMysql, inlineParams } from './sql-inline.js';
import type { Execute } from './statements.js';

const INTEGER_TYPES = new Set<number>([
  TYPE.TINY,
  TYPE.SHORT,
  TYPE.LONG,
  TYPE.LONGLONG,
  TYPE.INT24,
  TYPE.YEAR,
]);
const FLOAT_TYPES = new Set<number>([TYPE.FLOAT, TYPE.DOUBLE]);
const DECIMAL_TYPES = new Set<number>([TYPE.DECIMAL, TYPE.NEWDECIMAL]);

/** Binary collations (bytewise): binary, utf8mb4_bin, utf8mb3_bin, latin1_bin, ascii_bin. */
const BINARY_COLLATIONS = new Set([63, 46, 83, 47, 65]);
/** general_ci collations: latin1_swedish_ci, ascii_general_ci, utf8mb3_general_ci, utf8mb4_general_ci. */
const GENERAL_CI_COLLATIONS = new Set([8, 11, 33, 45]);

/**
 * How the merger compares a MySQL column: as integer, float, exact decimal, or text under its
 * real collation (bytewise for binary collations, case-insensitive for general_ci, refused
 * otherwise). `realCollation` is the table column's own collation (column-collations.ts); the
 * definition's `collation` is the connection's, not the column's, so it is never used: text
 * whose real collation is unknown (an expression such as min(a) or upper(a)) is refused.
 */
export function mergeColumn(c: ColumnDefinition, realCollation?: number): ColumnInfo {
  const typeOid = INTEGER_TYPES.has(c.type)
    ? 20
    : FLOAT_TYPES.has(c.type)
      ? 701
      : DECIMAL_TYPES.has(c.type)
        ? 1700
        : 25;
  if (typeOid === 1700) return { name: c.name, typeOid, format: 'text', scale: c.decimals };
  // A DOUBLE with fixed decimals (VARIANCE, STDDEV of exact numbers) prints exactly that many.
  if (typeOid === 701 && c.decimals < 0x1f)
    return { name: c.name, typeOid, format: 'text', scale: c.decimals };
  if (typeOid !== 25) return { name: c.name, typeOid, format: 'text' };
  const textCompare =
    realCollation === undefined
      ? 'unsupported'
      : BINARY_COLLATIONS.has(realCollation)
        ? 'bytes'
        : GENERAL_CI_COLLATIONS.has(realCollation)
          ? 'general_ci'
          : 'unsupported';
  // length counts bytes of up to 4-byte characters; a server cuts text (GROUP_CONCAT) at length / 4
  // bytes at the least, so merged text past that is refused rather than printed longer.
  return { name: c.name, typeOid, format: 'text', textCompare, maxBytes: Math.floor(c.length / 4) };
}

/** Exact decimal text rounded half away from zero to `scale` digits (MySQL's DECIMAL rounding). */
export function roundDecimal(text: string, scale: number): string {
  const neg = text.startsWith('-');
  const [int = '0', frac = ''] = text.replace(/^[-+]/, '').split('.');
  if (frac.length <= scale) return `${neg ? '-' : ''}${int}${scale > 0 ? `.${frac.padEnd(scale, '0')}` : ''}`;
  let digits = BigInt(`${int}${frac.slice(0, scale)}`);
  if (Number(frac[scale]) >= 5) digits += 1n;
  let s = digits.toString().padStart(scale + 1, '0');
  if (scale > 0) s = `${s.slice(0, -scale)}.${s.slice(-scale)}`;
  return `${neg && /[1-9]/.test(s) ? '-' : ''}${s}`;
}

/**
 * The definition whose table column decides how result column `i` compares: its own, or for
 * min()/max() of a plain column (no source column of its own) the column it reads.
 */
function sourceOf(c: ColumnDefinition, i: number, plan: Plan, schema: string | null): ColumnDefinition {
  const merge = plan.type === 'scatter' ? plan.merge : null;
  // A min/max partial at i, or the column typing a count(DISTINCT) partial's values at i.
  const partial = merge?.program?.partials.find(
    (p) => 'source' in p && (('column' in p && p.column === i) || ('valueType' in p && p.valueType === i)),
  );
  // A GROUP_CONCAT ORDER BY key's type column at i.
  const keyed = merge?.program?.partials.find((p) => 'keyTypes' in p && p.keyTypes?.includes(i));
  const keySource = keyed && 'keyTypes' in keyed ? keyed.keySources?.[keyed.keyTypes!.indexOf(i)] : undefined;
  const source =
    merge?.aggregates.find((a) => a.column === i && a.source)?.source ??
    (partial && 'source' in partial ? partial.source : undefined) ??
    keySource ??
    undefined;
  // A cross-shard join's fetched rows (JSON_TABLE, reported as such): the real table's column.
  const detached = plan.type === 'scatter' ? plan.detached : undefined;
  if (detached && schema && c.orgTable === 'json_table' && c.table.toLowerCase() === detached.alias)
    return { ...c, schema, orgTable: detached.table, orgName: c.orgName };
  // A CTE's column (MariaDB names it by the CTE): the table column the CTE selects.
  const viaCte = merge?.cteSources?.[c.orgTable]?.[c.orgName.toLowerCase()];
  if (viaCte && schema) return { ...c, schema, orgTable: viaCte.table, orgName: viaCte.column };
  if (!source || c.orgTable || !schema) return c;
  return { ...c, schema, orgTable: source.table, orgName: source.column };
}

/**
 * The definitions whose table columns decide how result column `i` compares: one (sourceOf), or
 * for a set operation's column with no table of its own, the column every branch reads there.
 */
function sourcesOf(c: ColumnDefinition, i: number, plan: Plan, schema: string | null): ColumnDefinition[] {
  const branch = plan.type === 'scatter' ? plan.merge?.branchSources?.[i] : undefined;
  if (!branch || c.orgTable || !schema) return [sourceOf(c, i, plan, schema)];
  return branch.map((s) => ({ ...c, schema, orgTable: s.table, orgName: s.column }));
}

/** The collation result column `i` compares under: its sources' one, when they all share it. */
function collationOf(
  collations: ColumnCollations,
  c: ColumnDefinition,
  i: number,
  plan: Plan,
  schema: string | null,
): number | undefined {
  // MariaDB gives a set operation's column the collation all its branches' columns share;
  // branches of different collations are refused (undefined).
  const ids = new Set(sourcesOf(c, i, plan, schema).map((d) => collations.collationOf(d)));
  return ids.size === 1 ? [...ids][0] : undefined;
}

const NUMERIC_PARAM_TYPES = new Set<number>([...INTEGER_TYPES, ...FLOAT_TYPES, ...DECIMAL_TYPES]);

interface Binary {
  stmt: ClientStatement;
  exec: Execute;
}

/** A prepared statement's parameters as literals to inline (numbers unquoted). */
export function inlineValues(binary: Binary | null): InlineValue[] {
  return binary
    ? binary.exec.values.map((text, i) => ({
        text,
        numeric: NUMERIC_PARAM_TYPES.has(binary.stmt.types?.[i]?.type ?? TYPE.VAR_STRING),
      }))
    : [];
}

/**
 * The port the executor runs parts through (src/executor/shard-parts.ts): each part's text on its
 * binding, synced to the session first. With `statements`, a lost connection is the coded error
 * of those statements lost (nothing reached the client yet, so a read may run again elsewhere).
 */
export function mysqlBackend(
  cycle: CommandCycle,
  budget: RowBudget,
  statements: readonly PlannedStatement[] | null,
): ShardBackend<MysqlBinding, { sql: string }, CollectedResponse> {
  return {
    acquire: (target) => cycle.bindingFor(target),
    release: (binding) => cycle.releaseIfFree(binding),
    run: async (binding, part) => {
      await binding.sync(cycle.state);
      return binding.conn.query(part.sql, { maxRows: Number.POSITIVE_INFINITY, budget });
    },
    failed: (response) => Boolean(response.error),
    lost: (bindings) => {
      if (!statements) return null;
      for (const b of bindings) {
        const loss = cycle.lossBeforeReply(b, statements);
        if (loss) return loss;
      }
      return null;
    },
  };
}

export async function runScatter(
  cycle: CommandCycle,
  packet: LogicalPacket,
  statement: PlannedStatement,
  binary: Binary | null,
): Promise<void> {
  const plan = statement.plan;
  const values = inlineValues(binary);
  let requests: Array<{ target: RouteTarget; sql: string }>;
  if (plan.type === 'scatter') {
    const sql = inlineParams(plan.rewrittenSql ?? statement.sql, values);
    requests = plan.targets.map((target) => ({ target, sql }));
  } else if (plan.type === 'split-insert') {
    requests = plan.parts.map((part) => ({
      target: part.target,
      sql: inlineInsertRowsMysql(statement.sql, part.rows, values, plan.fillIds),
    }));
  } else {
    throw new ShardgateError('INTERNAL', { detail: `not a multi-shard plan: ${plan.type}` });
  }
  const { maxMergeRows: maxRows, maxMergeBytes } = cycle.services.topology.view().routing;
  const budget = new MergeBudget(maxRows, maxMergeBytes);
  let schema: string | null = null;
  const { bindings, results, failed, latencySeconds } = await runParts(
    {
      ...mysqlBackend(cycle, budget, [statement]),
      // Text merged in the proxy compares under the columns' real collations: look up the tables
      // not known yet on the first shard's connection while it is still held.
      whileHeld: async (held, answers) => {
        // The schema the shards' tables are in (read now: the connection goes back to the pool).
        schema = held[0]!.conn.schema;
        const text = answers[0]?.results[0]?.columns
          ?.flatMap((c, i) => sourcesOf(c, i, plan, schema))
          .filter((c) => mergeColumn(c).typeOid === 25);
        if (plan.type === 'scatter' && plan.merge && text?.length && !answers.some((r) => r.error))
          await cycle.services.server.columnCollations.load(held[0]!.conn, text);
      },
    },
    requests,
  );
  results.forEach((r, i) => {
    const b = bindings[i]!;
    const gtid = r.results
      .flatMap((x) => x.ok?.session?.variables ?? [])
      .find(([n]) => n === 'last_gtid')?.[1];
    if (gtid && b.role === 'primary') cycle.state.lastWritePositions.set(b.shard, gtid);
    cycle.services.observer.onStatement(
      scatterPartEvent(
        'mysql',
        statement,
        { shard: b.shard, server: b.serverName, role: b.role },
        r.error ? 'error' : 'ok',
        latencySeconds,
        i,
      ),
    );
  });
  if (failed?.error) throw new MysqlServerError(failed.error);
  budget.check();
  if (statement.facts.kind === 'ddl') cycle.services.server.forgetStatements();
  const status = localStatus(cycle.state);
  const w = cycle.reply(packet);
  const first = results[0]!.results[0];
  if (!first?.columns) {
    let affectedRows = 0n;
    let insertId = 0n;
    let warnings = 0;
    for (const r of results) {
      const ok = r.results[0]?.ok;
      if (!ok) continue;
      affectedRows += ok.affectedRows;
      if (ok.insertId !== 0n && (insertId === 0n || ok.insertId < insertId)) insertId = ok.insertId;
      warnings += ok.warnings;
    }
    cycle.session.write(w.ok(status, { affectedRows, insertId, warnings }).bytes());
    return;
  }
  const columns = first.columns;
  const merge = plan.type === 'scatter' ? plan.merge : null;
  const merger = new ResultMerger(
    merge,
    columns.map((c, i) =>
      mergeColumn(c, collationOf(cycle.services.server.columnCollations, c, i, plan, schema)),
    ),
    { maxRows },
  );
  let rows = mergeParts(
    merger,
    results.map((r) => r.results[0]?.rows ?? []),
  );
  // A set operation's leaf number (the last column) is the merge's own.
  const visible = merge?.setOps ? columns.length - 1 : (merge?.visibleColumns ?? columns.length);
  let outColumns = columns.slice(0, visible);
  if (merge) ({ columns: outColumns, rows } = formatAverages(merge, outColumns, rows));
  const warnings = results.reduce((n, r) => n + (r.results[0]?.warnings ?? 0), 0);
  cycle.session.write(w.resultSet(outColumns, rows, status, { binary: binary !== null, warnings }).bytes());
}

/**
 * avg() merged as sum / count: MySQL gives AVG of exact numbers as DECIMAL with four more
 * digits than its argument (div_precision_increment), and AVG of floats as DOUBLE.
 */
function formatAverages(
  merge: MergeSpec,
  columns: ColumnDefinition[],
  rows: Cell[][],
): { columns: ColumnDefinition[]; rows: Cell[][] } {
  const averages = merge.aggregates.filter((a) => a.fn === 'avg' && a.column < columns.length);
  if (averages.length === 0) return { columns, rows };
  const out = columns.slice();
  for (const a of averages) {
    const c = columns[a.column]!;
    const float = FLOAT_TYPES.has(c.type);
    const scale = Math.min(30, (c.decimals >= 0x1f ? 0 : c.decimals) + 4);
    out[a.column] = float
      ? { ...c, type: TYPE.DOUBLE, decimals: 0x1f }
      : { ...c, type: TYPE.NEWDECIMAL, decimals: scale, length: Math.max(c.length, 14) + scale };
    for (const row of rows) {
      const cell = row[a.column];
      if (cell === null || cell === undefined) continue;
      const text = cell.toString('latin1');
      row[a.column] = Buffer.from(float ? String(Number(text)) : roundDecimal(text, scale));
    }
  }
  return { columns: out, rows };
}
