// A MySQL binlog capture whose batch a target rejects (a CHECK constraint on one half refuses a
// row the source accepted): the batch's transaction is rolled back on that half, so the delete the
// same batch made before the refused row is undone, the applied position stays where the last good
// batch left it (a resume replays the rejected change), and the capture reports a coded error
// naming the half and what to do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MariadbCluster } from '../../src/local/mariadb-cluster.js';
import { MysqlBinlogCapture } from '../../src/migration/mysql-binlog-capture.js';
import { copyMysqlTables } from '../../src/migration/mysql-copier.js';
import { keyOwner } from '../../src/migration/row-owner.js';
import type { MovedTable, ServerAddress, SplitTarget } from '../../src/migration/types.js';
import { expectCodedRejection } from '../support/coded-rejection.js';
import { startMysqlSplitSource } from '../support/mysql-split-source.js';
import { testThrottle } from '../support/mysql-split-targets.js';

let cluster: MariadbCluster;
let source: ServerAddress;
let targets: SplitTarget[];

const tables: MovedTable[] = [{ name: 'orders', shardKey: 'id', keyType: 'int', kind: 'sharded' }];

beforeAll(async () => {
  ({ cluster, source, targets } = await startMysqlSplitSource());
  await cluster.query(source.name, 'CREATE TABLE orders (id BIGINT PRIMARY KEY, note VARCHAR(64) NULL)');
  await cluster.query(source.name, "INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c')");
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Ids of orders the first half owns, from `from` on. */
function ownedByFirstHalf(from: number, n: number): number[] {
  const ids: number[] = [];
  const ranges = targets.map((t) => t.range);
  for (let id = from; ids.length < n; id++) if (keyOwner(String(id), 'int', ranges) === 0) ids.push(id);
  return ids;
}

const count = async (server: string, sql: string) =>
  Number((await cluster.query<{ n: number | string }>(server, sql))[0]?.n);

describe('a MySQL capture batch a target rejects', () => {
  it('is rolled back there, leaves the position where it was and reports MIGRATION_APPLY_FAILED', async () => {
    const copy = await copyMysqlTables({
      source,
      targets,
      tables,
      throttle: testThrottle(),
    });
    expect(copy.complete).toBe(true);
    const half = targets[0]!.server.name;
    // The first half refuses a note the source accepts.
    await cluster.query(half, "ALTER TABLE orders ADD CONSTRAINT no_rejected CHECK (note <> 'rejected')");
    const capture = await MysqlBinlogCapture.start({
      source,
      targets,
      tables,
      fromGtid: copy.state.gtidPosition,
      serverId: 9201,
    });
    try {
      const [good, moved] = ownedByFirstHalf(1000, 2) as [number, number];
      await cluster.query(source.name, `INSERT INTO orders VALUES (${good}, 'good')`);
      const applied = await capture.catchUp(30_000);
      expect(capture.appliedPosition).toBe(applied);
      expect(await count(half, `SELECT count(*) AS n FROM orders WHERE id = ${good}`)).toBe(1);

      // One row event the half applies as two statements in one transaction: the delete of the old
      // key (accepted), then the upsert of the new one (refused).
      await cluster.query(
        source.name,
        `UPDATE orders SET id = ${moved}, note = 'rejected' WHERE id = ${good}`,
      );
      const err = await expectCodedRejection(
        capture.catchUp(30_000),
        'MIGRATION_APPLY_FAILED',
        new RegExp(
          `could not apply source changes on ${half}: .*no_rejected.*\\(errno 4025\\); that batch was rolled back there and the capture position did not advance.*resume the migration`,
        ),
      );
      expect(capture.error).toBe(err);
      // The capture's connection to the half left no transaction open (it is still connected).
      expect(await count(half, 'SELECT count(*) AS n FROM information_schema.INNODB_TRX')).toBe(0);
      // Not advanced: a restart from here replays the refused change.
      expect(capture.appliedPosition).toBe(applied);
      // Rolled back: the delete before the refused row is undone, the half still has the old key.
      const rows = await cluster.query<{ id: number | string; note: string }>(
        half,
        `SELECT id, note FROM orders WHERE id IN (${good}, ${moved})`,
      );
      expect(rows.map((r) => [Number(r.id), r.note])).toEqual([[good, 'good']]);
      // The source has the change: the capture fell behind it, it did not lose it.
      expect(await count(source.name, `SELECT count(*) AS n FROM orders WHERE id = ${moved}`)).toBe(1);
    } finally {
      await capture.stop();
    }
  }, 240_000);
});
