// Verification of a MySQL/MariaDB split, whole tables: every moved table is read from the source
// and from each target in primary-key pages, and for each target the source rows it owns are
// compared with the rows it holds by row count and by an order-independent checksum (the sum of
// a hash of each row's values). Runs while writes to the source are held or stopped, so both
// sides are at the same point; or, after the switch, with `settle` (the reverse capture's
// catch-up), from snapshots taken at one point per table (readAtOnePoint). Reports in the
// PostgreSQL verification's shape (VerifyReport).
import { createHash } from 'node:crypto';
import type { KeyRange } from '../domain/keyspace.js';
import { outsideScope, ownersOf } from './mysql-copier.js';
import {
  type MysqlConnection,
  type MysqlRow,
  mysqlPrimaryKey,
  openMysql,
  pageByKey,
  quoteMysqlIdent,
  withSourceAndTargets,
} from './mysql-table.js';
import type { ChunkMismatch, MovedTable, ServerAddress, SplitTarget, VerifyReport } from './types.js';

// Rows read and hashed per page: the hashing runs on the proxy thread between pages, after the switch
// beside live traffic, so a page is kept short (1,000 rows is a few ms).
const PAGE = 1_000;
const MOD = 1n << 64n;

interface Tally {
  rows: number;
  sum: bigint;
}

export async function verifyMysqlSplit(
  source: ServerAddress,
  targets: readonly SplitTarget[],
  tables: readonly MovedTable[],
  /** A merge source's keyspace: it accounts for the sharded rows there, on both sides, only. */
  scope?: readonly KeyRange[],
  /** After the switch: the old servers trail the targets; brings them up to the targets' position. */
  settle?: () => Promise<void>,
): Promise<VerifyReport> {
  const report: VerifyReport = {
    mode: 'full',
    chunksChecked: 0,
    rowsChecked: 0,
    mismatches: [],
    perTable: [],
  };
  return withSourceAndTargets(source, targets, async (src, dst) => {
    const locks: MysqlConnection[] = [];
    try {
      if (settle) for (const t of targets) locks.push(await openMysql(t.server));
      const ranges = targets.map((t) => t.range);
      for (const t of tables) {
        const key = await mysqlPrimaryKey(src, t.name);
        if (settle) await readAtOnePoint(t.name, src, dst, locks, settle);
        const expected = targets.map(() => ({ rows: 0, sum: 0n }));
        const unowned = { rows: 0, sum: 0n };
        const sourceRows = await tally(src, t.name, key, (row, hash) => {
          if (outsideScope(t, row, scope)) return false;
          const owners = ownersOf(t, row, ranges, targets.length);
          if (owners.length === 0) add(unowned, hash);
          for (const i of owners) add(expected[i] as Tally, hash);
          return true;
        });
        // A row no half owns (NULL or non-integer shard key) would vanish at the switch.
        if (unowned.rows > 0)
          report.mismatches.push(mismatch(t.name, undefined, unowned, { rows: 0, sum: 0n }));
        let targetRows = 0;
        for (const [i, c] of dst.entries()) {
          const held = { rows: 0, sum: 0n };
          await tally(c, t.name, key, (row, hash) => {
            if (outsideScope(t, row, scope)) return false;
            add(held, hash);
            return true;
          });
          targetRows += held.rows;
          const want = expected[i] as Tally;
          report.chunksChecked++;
          if (held.rows !== want.rows || held.sum !== want.sum)
            report.mismatches.push(mismatch(t.name, targets[i], want, held));
        }
        if (settle) await Promise.all([src, ...dst].map((c) => c.query('COMMIT')));
        report.rowsChecked += sourceRows;
        report.perTable.push({ table: t.name, sourceRows, targetRows });
      }
      return report;
    } finally {
      await Promise.allSettled(locks.map((c) => c.end()));
    }
  });
}

/**
 * How long the table lock on a target waits for writers' transactions, and how long the capture
 * may take to catch up while the table's writes are held, before the verification fails (retry it
 * when writes are quieter): a pending LOCK TABLES queues every new write of the table behind it,
 * so both waits are what a verification may add to a write's latency.
 */
const LOCK_WAIT_SECONDS = 2;
const SETTLE_HOLD_MS = 5_000;

/**
 * Leaves `src` and every `dst` connection inside a snapshot of `table` at one point, so that
 * writes still flowing through the proxy cannot show up as a difference: the table's writes are
 * held on every target (LOCK TABLES ... READ on `locks`; writers wait), the targets' snapshots are
 * taken, the reverse capture settles up to the targets' binlog position (which now holds every
 * write of the table), the source's snapshot is taken, and the writes are let go. The hold lasts
 * only the capture's catch-up; the rows are read from the snapshots after it.
 */
async function readAtOnePoint(
  table: string,
  src: MysqlConnection,
  dst: readonly MysqlConnection[],
  locks: readonly MysqlConnection[],
  settle: () => Promise<void>,
): Promise<void> {
  const snapshot = (c: MysqlConnection) =>
    c
      .query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
      .then(() => c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT'));
  try {
    for (const c of locks) {
      await c.query(`SET SESSION lock_wait_timeout = ${LOCK_WAIT_SECONDS}`);
      await c.query(`LOCK TABLES ${quoteMysqlIdent(table)} READ`);
    }
    for (const c of dst) await snapshot(c);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `the reverse capture did not catch up on ${table} within ${SETTLE_HOLD_MS} ms while its writes were held; retry the verification when writes are quieter`,
            ),
          ),
        SETTLE_HOLD_MS,
      );
    });
    try {
      await Promise.race([settle(), late]);
    } finally {
      clearTimeout(timer);
    }
    await snapshot(src);
  } finally {
    await Promise.allSettled(locks.map((c) => c.query('UNLOCK TABLES')));
  }
}

function mismatch(table: string, target: SplitTarget | undefined, want: Tally, held: Tally): ChunkMismatch {
  return {
    table,
    fromKey: null,
    toKey: null,
    sourceRows: want.rows,
    targetRows: held.rows,
    wholeTable: true,
    ...(target ? { target: target.shard } : {}),
  };
}

function add(t: Tally, hash: bigint): void {
  t.rows++;
  t.sum = (t.sum + hash) % MOD;
}

/**
 * Reads the whole table in key order, calling `each` with every row and its hash; returns the
 * count of rows `each` counted (returned true for).
 */
async function tally(
  c: MysqlConnection,
  table: string,
  key: readonly string[],
  each: (row: MysqlRow, hash: bigint) => boolean,
): Promise<number> {
  let after: unknown[] | null = null;
  let rows = 0;
  for (;;) {
    const page = await pageByKey(c, table, key, after, PAGE);
    if (page.length === 0) return rows;
    for (const row of page) if (each(row, rowHash(row))) rows++;
    const last = page[page.length - 1] as MysqlRow;
    after = key.map((k) => last[k]);
  }
}

/** 64 bits of SHA-1 over the row's column names and values (NULL distinct from 'null'). */
function rowHash(row: MysqlRow): bigint {
  const h = createHash('sha1');
  for (const [k, v] of Object.entries(row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(k);
    h.update(
      v === null
        ? '\u0000N'
        : Buffer.isBuffer(v)
          ? Buffer.concat([Buffer.from('\u0000B'), v])
          : `\u0000V${String(v)}`,
    );
  }
  return h.digest().readBigUInt64BE(0);
}
