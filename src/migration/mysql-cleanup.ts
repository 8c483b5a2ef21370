// Cleanup after a verified MySQL/MariaDB split, merge or table move, the PostgreSQL contract
// (cleanup.ts): the moved rows leave each old source server (a merge has two) in primary-key
// batches of 1,000, each its own statement, unthrottled like PostgreSQL's cleanup in the manager
// (it runs inside the operator's API call). A sharded table loses the rows whose shard key lies in
// that source's range (the router's hash, computed here since MariaDB has none of it); a reference
// or unsharded table left with the whole shard (or, moved, alone), so all its rows go. The tables
// themselves stay, empty. Interrupted, it is run again from the start (deleted rows are simply not
// found again).
import { parseKeyRange } from '../domain/keyspace.js';
import {
  keyText,
  type MysqlRow,
  mysqlPrimaryKey,
  openMysql,
  pageByKey,
  quoteMysqlIdent,
} from './mysql-table.js';
import { type PlannedSource, planSources, type SplitPlan } from './plan.js';
import { keyOwner, tableKind } from './row-owner.js';

const BATCH_ROWS = 1_000;
const LOCK_WAIT_S = 30;
const STATEMENT_S = 120;
const END_WAIT_MS = 5_000;

export interface MysqlCleanupResult {
  perTable: Array<{ shard: string; table: string; deleted: number }>;
}

/** Every source in turn (planSources order). */
export async function deleteMysqlMovedRows(
  plan: SplitPlan,
  onProgress: (shard: string, table: string, deleted: number) => void,
): Promise<MysqlCleanupResult> {
  const result: MysqlCleanupResult = { perTable: [] };
  for (const source of planSources(plan)) await deleteFromSource(source, result, onProgress);
  return result;
}

async function deleteFromSource(
  source: PlannedSource,
  result: MysqlCleanupResult,
  onProgress: (shard: string, table: string, deleted: number) => void,
): Promise<void> {
  const range = parseKeyRange(source.range);
  const c = await openMysql(source.server);
  try {
    // Bounded statements: a batch stuck on a lock fails the cleanup with the server's error (it is
    // run again) instead of holding the operator's call for ever.
    await c.query(
      `SET SESSION innodb_lock_wait_timeout = ${LOCK_WAIT_S}, max_statement_time = ${STATEMENT_S}`,
    );
    for (const t of source.tables) {
      const key = await mysqlPrimaryKey(c, t.name);
      const moved = (row: MysqlRow) =>
        tableKind(t) !== 'sharded' || keyOwner(keyText(row[t.shardKey]), t.keyType, [range]) === 0;
      const entry = { shard: source.shard, table: t.name, deleted: 0 };
      result.perTable.push(entry);
      let after: unknown[] | null = null;
      for (;;) {
        const page = await pageByKey(c, t.name, key, after, BATCH_ROWS);
        if (page.length === 0) break;
        after = key.map((k) => (page[page.length - 1] as MysqlRow)[k]);
        const doomed = page.filter(moved);
        if (doomed.length === 0) continue;
        const tuple = `(${key.map(() => '?').join(', ')})`;
        const [r] = await c.query(
          `DELETE FROM ${quoteMysqlIdent(t.name)} WHERE (${key.map(quoteMysqlIdent).join(', ')}) IN (${doomed.map(() => tuple).join(', ')})`,
          doomed.flatMap((row) => key.map((k) => row[k])),
        );
        entry.deleted += (r as { affectedRows: number }).affectedRows;
        onProgress(source.shard, t.name, entry.deleted);
      }
    }
  } finally {
    // end() waits for a statement in flight; destroyed when it does not come back.
    const ended = await Promise.race([
      c.end().then(
        () => true,
        () => true,
      ),
      new Promise<false>((r) => setTimeout(() => r(false), END_WAIT_MS).unref()),
    ]);
    if (!ended) c.destroy();
  }
}
