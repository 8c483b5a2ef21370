// MySQL's side of the shard-key move (the steps are src/executor/key-move.ts), inside one
// cross-shard transaction: the session's (its BEGIN, or autocommit=0's implicit one), else one of
// the move's own, committed at once with the XA two-phase commit of distributed-commit.ts. The
// driver: step 1 is the client's UPDATE as text (a prepared statement's parameters inlined),
// step 2 MariaDB's DELETE ... RETURNING *, step 3 INSERTs of the returned text as literals. The
// client gets one OK: the sum of the sources' affected rows and matched / changed counts, which
// is what the server gives on unsharded data (the moved rows count once, on the shard they left).
// A failure after the move began rolls back every shard (the move's own transaction), or the
// session's whole transaction (it may have moved part of the rows): the row stays exactly once.
import { ShardgateError } from '../../errors.js';
import {
  acquireMoveServers,
  type KeyMoveDriver,
  moveRows,
  reportMove,
  unmovableTable,
} from '../../executor/key-move.js';
import { MergeBudget } from '../../executor/merge-budget.js';
import type { KeyMovePlan } from '../../router/plan.js';
import type { PlannedStatement } from '../../router/router.js';
import { fingerprintMysql, type Token } from '../../sql/mysql/fingerprint-mysql.js';
import { isWord, readName } from '../../sql/mysql/mysql-tokens.js';
import type { ColumnDefinition } from './columns.js';
import type { CommandCycle } from './command-cycle.js';
import { STATUS, TYPE } from './constants.js';
import {
  abandonAcrossShards,
  commitAcrossShards,
  joinAcrossShards,
  rollBackAcrossShards,
} from './distributed-commit.js';
import type { LogicalPacket } from './packet-framer.js';
import type { OkPacket } from './responses.js';
import type { Cell } from './rows.js';
import { type MysqlBinding, MysqlServerError } from './server-binding.js';
import { localStatus, nextInTransaction } from './session-state.js';

/** Types whose text is a plain number literal. */
const NUMBER_TYPES = new Set<number>([
  TYPE.DECIMAL,
  TYPE.NEWDECIMAL,
  TYPE.TINY,
  TYPE.SHORT,
  TYPE.LONG,
  TYPE.LONGLONG,
  TYPE.INT24,
  TYPE.DOUBLE,
  TYPE.YEAR,
]);
/** Types that hold bytes as they are when their collation is binary (63). */
const BYTE_TYPES = new Set<number>([
  TYPE.VARCHAR,
  TYPE.VAR_STRING,
  TYPE.STRING,
  TYPE.TINY_BLOB,
  TYPE.MEDIUM_BLOB,
  TYPE.LONG_BLOB,
  TYPE.BLOB,
  TYPE.GEOMETRY,
]);
const BINARY_COLLATION = 63;
/** information_schema DATA_TYPEs whose values a bare integer literal compares exactly. */
const INTEGER_DATA_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);
/** Bytes of one INSERT of moved rows (well under MariaDB's default max_allowed_packet, 16 MiB). */
const MAX_INSERT_BYTES = 4 * 1024 * 1024;

/** The rows DELETE ... RETURNING * gave, and the charset their text is in. */
/** What the owner's catalog says of the moved table. */
interface MoveTable {
  /** character_set_results: the moved rows' text comes in it and goes back as literals in it. */
  charset: string;
  /** The shard-key column is an integer type (its value may be written as a bare number). */
  integerKey: boolean;
}

interface MysqlMoved {
  count: number;
  columns: ColumnDefinition[];
  rows: Cell[][];
  charset: string;
}

export async function runKeyMove(
  cycle: CommandCycle,
  packet: LogicalPacket,
  statement: PlannedStatement,
  sql: string,
): Promise<void> {
  const plan = statement.plan as KeyMovePlan;
  const state = cycle.state;
  // Outside a transaction (autocommit on) the move commits its own; else it joins the session's.
  const implicit = !nextInTransaction(state);
  const bindings = await acquireMoveServers(
    plan,
    (t) => cycle.bindingFor(t),
    (b) => cycle.releaseIfFree(b),
  );
  const all = [...bindings.values()];
  const owner = bindings.get(plan.owner.server)!;
  const sources = plan.sources.map((t) => bindings.get(t.server)!);
  const started = performance.now();
  let began = false;
  let committing = false;
  let outcome: 'ok' | 'error' = 'error';
  try {
    const schema = targetSchema(sql);
    if (schema !== null)
      throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
        detail: `moving ${plan.table} rows to another shard through a schema-qualified name (${schema}.${plan.table}); USE ${schema} and name the table without its schema`,
      });
    // Step 2 needs DELETE ... RETURNING on every source: refused before anything runs.
    for (const b of sources) {
      const refusal = deleteReturningRefusal(b.conn.serverVersion, plan.table, b.shard);
      if (refusal) throw refusal;
    }
    for (const b of all) await b.sync(state, cycle.cross?.vars ?? null);
    const table = await checkTable(owner, plan);
    began = true;
    await joinTransaction(cycle, all);
    // A move has no compensating statement: its transaction commits with two-phase commit.
    cycle.compensations.planned([statement]);
    const { updates, written } = await moveRows(
      plan,
      sources,
      owner,
      mysqlDriver(plan, sql, table, () => {
        const { maxMergeRows, maxMergeBytes } = cycle.services.topology.view().routing;
        return new MergeBudget(maxMergeRows, maxMergeBytes);
      }),
      (b) => b.shard,
    );
    for (const b of written) cycle.wroteOn.add(b.serverName);
    if (implicit) {
      committing = true;
      await commitAcrossShards(cycle);
    }
    cycle.session.write(cycle.reply(packet).ok(localStatus(state), answer(updates)).bytes());
    outcome = 'ok';
  } catch (err) {
    if (began && !committing) {
      if (implicit) await rollBackAcrossShards(cycle);
      else
        abandonAcrossShards(
          cycle,
          new ShardgateError('TWO_PHASE_ABORTED', {
            detail: `an UPDATE moving ${plan.table} rows to another shard failed (${(err as Error).message}); send ROLLBACK`,
          }),
        );
    }
    throw err;
  } finally {
    // Connections a commit or rollback already settled are not the session's any more.
    for (const b of all) if (cycle.bindings.get(b.serverName) === b) cycle.releaseIfFree(b);
    reportMove(cycle.services.observer, 'mysql', all, statement, outcome, started);
  }
}

/** MariaDB has DELETE ... RETURNING from 10.5 on; MySQL has none. */
const RETURNING_SINCE = [10, 5] as const;

/**
 * The refusal (0A000 / 1235) of a move off a server without DELETE ... RETURNING, from the
 * version its handshake announced (MariaDB 10.x says `5.5.5-10.4.32-MariaDB`), else null.
 */
export function deleteReturningRefusal(
  serverVersion: string,
  table: string,
  shard: string,
): ShardgateError | null {
  const version = serverVersion.replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)/.exec(version);
  const mariadb = /mariadb/i.test(version);
  if (mariadb && m) {
    const [major, minor] = [Number(m[1]), Number(m[2])];
    if (major > RETURNING_SINCE[0] || (major === RETURNING_SINCE[0] && minor >= RETURNING_SINCE[1]))
      return null;
  }
  return new ShardgateError('FEATURE_NOT_SUPPORTED', {
    detail: `moving ${table} rows to another shard (an UPDATE of its shard key) off ${shard}, whose server is ${mariadb ? 'MariaDB' : 'not MariaDB'} ${version || '(version unknown)'}: the move needs DELETE ... RETURNING, which MariaDB has from 10.5 on (upgrade the server, or DELETE the rows and INSERT them with the new key in one transaction yourself)`,
  });
}

/**
 * Every connection of the move runs in the transaction: outside one, the session's deferred
 * BEGIN (or the move's own) on the server already holding the session, else the first; the
 * others join it as XA participants.
 */
async function joinTransaction(cycle: CommandCycle, bindings: MysqlBinding[]): Promise<void> {
  const state = cycle.state;
  if (!state.inTransaction) {
    const home = bindings.find((b) => b.serverName === state.transactionServer) ?? bindings[0]!;
    const parts = [state.nextTransaction, state.deferredBegin ?? 'BEGIN'].filter((p) => p !== null);
    const r = await home.conn.query(parts.join('; '));
    if (r.error) throw new MysqlServerError(r.error);
    state.nextTransaction = null;
    state.deferredBegin = null;
    state.inTransaction = true;
    state.status |= STATUS.IN_TRANS;
    state.transactionShard = home.shard;
    state.transactionServer = home.serverName;
  }
  for (const b of bindings) await joinAcrossShards(cycle, b);
}

/**
 * The refusals found on the owner (0A000 / 1235), else what the move needs of the table. Fails
 * closed: a table the catalog does not show in DATABASE() (the name the DELETE and INSERT use)
 * is refused rather than moved unchecked.
 */
async function checkTable(owner: MysqlBinding, plan: KeyMovePlan): Promise<MoveTable> {
  const table = plan.table;
  const t = literal(table, false);
  const here = `TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${t}`;
  const r = await owner.conn.query(`SELECT
  (SELECT COUNT(*) FROM information_schema.TABLES WHERE ${here}),
  (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ${t}),
  (SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND (TABLE_NAME = ${t} OR REFERENCED_TABLE_NAME = ${t})),
  (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE ${here} AND IS_GENERATED <> 'NEVER'),
  (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE ${here} AND EXTRA LIKE '%INVISIBLE%'),
  (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE ${here} AND DATA_TYPE IN ('float', 'bit')),
  (SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS WHERE ${here} AND CONSTRAINT_TYPE = 'PRIMARY KEY'),
  (SELECT MAX(DATA_TYPE) FROM information_schema.COLUMNS WHERE ${here} AND COLUMN_NAME = ${literal(plan.column, false)}),
  @@session.character_set_results`);
  if (r.error) throw new MysqlServerError(r.error);
  const row = (r.results[0]?.rows[0] ?? []).map((c) => c?.toString('utf8') ?? null);
  if (row[0] !== '1' || row[7] === null)
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: `moving ${table} rows to another shard: the table (with its column ${plan.column}) is not found in the current database on ${owner.shard}, so it cannot be checked (USE the database that holds it, and name the table as the server spells it)`,
    });
  // INVISIBLE columns: RETURNING * leaves them out, so the moved rows would lose their values.
  const found = ['triggers', 'foreign keys', 'generated columns', 'INVISIBLE columns'].filter(
    (_, i) => row[i + 1] !== '0',
  );
  const refusal = unmovableTable(table, found);
  if (refusal) throw refusal;
  // FLOAT prints 6 digits and BIT raw bits: their text does not give the value back.
  if (row[5] !== '0')
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: `moving ${table} rows to another shard on a table with FLOAT or BIT columns (their text loses the value; use DOUBLE or an integer type, or DELETE and INSERT the rows yourself)`,
    });
  if (row[6] === '0')
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: `moving ${table} rows to another shard on a table without a primary key (add one, or DELETE and INSERT the rows with the new key in one transaction yourself)`,
    });
  const charset = row[8] ?? null;
  if (charset === null || !/^\w+$/.test(charset))
    throw new ShardgateError('FEATURE_NOT_SUPPORTED', {
      detail: `moving ${table} rows to another shard with character_set_results = NULL (SET character_set_results = utf8mb4 first)`,
    });
  return { charset, integerKey: INTEGER_DATA_TYPES.has(row[7]!.toLowerCase()) };
}

/**
 * The schema the client's UPDATE names its table in (`UPDATE db.t ...`), or null. The move's
 * checks, DELETE and INSERT work in DATABASE(), which need not be that schema.
 */
function targetSchema(sql: string): string | null {
  const lists: Token[][] = [];
  fingerprintMysql(sql, lists);
  const toks = lists[0] ?? [];
  if (!isWord(toks[0], 'update')) return null;
  let i = 1;
  while (isWord(toks[i], 'low_priority') || isWord(toks[i], 'ignore')) i++;
  return readName(toks, i)?.qualifier ?? null;
}

/** The steps on MariaDB: the client's text, DELETE ... RETURNING *, INSERTs of literals. */
function mysqlDriver(
  plan: KeyMovePlan,
  sql: string,
  table: MoveTable,
  budget: () => MergeBudget,
): KeyMoveDriver<MysqlBinding, OkPacket, MysqlMoved> {
  return {
    async update(b) {
      const r = await b.conn.query(sql);
      if (r.error) throw new MysqlServerError(r.error);
      const ok = r.results.at(-1)?.ok;
      if (!ok) throw new ShardgateError('INTERNAL', { detail: `the UPDATE on ${b.shard} answered no OK` });
      return ok;
    },
    changed: (ok) => Number(ok.affectedRows),
    async takeMoved(b) {
      // The moved rows are held until inserted: as bounded as a multi-shard merge (the refusal
      // rolls the move back).
      const bound = budget();
      const r = await b.conn.query(
        `DELETE FROM ${ident(plan.table)} WHERE ${ident(plan.column)} = ${literal(plan.value, table.integerKey)} RETURNING *`,
        { maxRows: Number.POSITIVE_INFINITY, budget: bound },
      );
      if (r.error) throw new MysqlServerError(r.error);
      bound.check();
      const set = r.results[0];
      return {
        count: set?.rows.length ?? 0,
        columns: set?.columns ?? [],
        rows: set?.rows ?? [],
        charset: table.charset,
      };
    },
    async putMoved(owner, moved) {
      for (const insert of insertsOf(plan.table, moved)) {
        const r = await owner.conn.query(insert);
        if (r.error) throw new MysqlServerError(r.error);
      }
    },
  };
}

/** INSERTs of the moved rows, as many as MAX_INSERT_BYTES needs. */
function insertsOf(table: string, moved: MysqlMoved): string[] {
  const head = `INSERT INTO ${ident(table)} (${moved.columns.map((c) => ident(c.orgName || c.name)).join(', ')}) VALUES `;
  const out: string[] = [];
  let tuples: string[] = [];
  let bytes = 0;
  for (const row of moved.rows) {
    const tuple = `(${row.map((cell, i) => valueLiteral(cell, moved.columns[i]!, moved.charset)).join(', ')})`;
    if (tuples.length > 0 && bytes + tuple.length > MAX_INSERT_BYTES) {
      out.push(head + tuples.join(', '));
      tuples = [];
      bytes = 0;
    }
    tuples.push(tuple);
    bytes += tuple.length;
  }
  if (tuples.length > 0) out.push(head + tuples.join(', '));
  return out;
}

/** A cell's text as a literal that gives the column the same value back. */
function valueLiteral(cell: Cell, column: ColumnDefinition, charset: string): string {
  if (cell === null) return 'NULL';
  const text = cell.toString('latin1');
  if (NUMBER_TYPES.has(column.type) && /^[-+]?\d*\.?\d+(e[-+]?\d+)?$/i.test(text)) return text;
  const hex = `X'${cell.toString('hex')}'`;
  // Binary strings are their bytes; other values are text in the connection's result charset.
  if (column.collation === BINARY_COLLATION && BYTE_TYPES.has(column.type)) return hex;
  return `CONVERT(${hex} USING ${charset})`;
}

/**
 * A value as a literal: bare only for an integer column (`integer`) and an integer value; else
 * always utf8mb4 text, so a text key '007' compares as text and never as the number 7.
 */
export function literal(value: string, integer: boolean): string {
  if (integer && /^-?\d+$/.test(value)) return value;
  return `CONVERT(X'${Buffer.from(value, 'utf8').toString('hex')}' USING utf8mb4)`;
}

function ident(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** One OK for the client: affected rows and `Rows matched: M  Changed: C  Warnings: W` summed. */
function answer(updates: OkPacket[]): { affectedRows: bigint; warnings: number; info: string } {
  let affectedRows = 0n;
  let warnings = 0;
  const counts = [0, 0];
  let parsed = true;
  for (const ok of updates) {
    affectedRows += ok.affectedRows;
    warnings += ok.warnings;
    const m = /Rows matched:\s*(\d+)\s+Changed:\s*(\d+)/.exec(ok.info);
    if (!m) parsed = false;
    else {
      counts[0]! += Number(m[1]);
      counts[1]! += Number(m[2]);
    }
  }
  const info = parsed ? `Rows matched: ${counts[0]}  Changed: ${counts[1]}  Warnings: ${warnings}` : '';
  return { affectedRows, warnings, info };
}
