// The MySQL/MariaDB side of a live split, data plane: the throttled snapshot copy by primary key
// (interrupted and resumed from its checkpoint) and the binlog capture from the first snapshot's
// GTID position move a hash-sharded table (and a reference table) from a MariaDB shard to two spares while a writer inserts, updates (also the
// primary key) and deletes; afterwards every acknowledged write is on the half owning its key
// exactly once, nothing else is, and whole-table verification passes (and catches a tampered row
// and a row no half owns). The capture's kept source connection survives the server ending it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MariadbCluster, MariadbServer } from '../../src/local/mariadb-cluster.js';
import { MysqlBinlogCapture } from '../../src/migration/mysql-binlog-capture.js';
import { copyMysqlTables, type MysqlCopyState } from '../../src/migration/mysql-copier.js';
import { verifyMysqlSplit } from '../../src/migration/mysql-verify.js';
import { keyOwner } from '../../src/migration/row-owner.js';
import type { MovedTable, ServerAddress, SplitTarget } from '../../src/migration/types.js';
import { captureNewTable, startMysqlSplitSource } from '../support/mysql-split-source.js';
import { testThrottle } from '../support/mysql-split-targets.js';

let cluster: MariadbCluster;
let source: ServerAddress;
let targets: SplitTarget[];

const tables: MovedTable[] = [
  { name: 'orders', shardKey: 'id', keyType: 'int', kind: 'sharded' },
  { name: 'countries', shardKey: '', keyType: 'text', kind: 'reference' },
];

beforeAll(async () => {
  ({ cluster, source, targets } = await startMysqlSplitSource());
  await cluster.query(
    source.name,
    'CREATE TABLE orders (id BIGINT PRIMARY KEY, note VARCHAR(64) NULL, amount DECIMAL(12,2) NOT NULL, ' +
      'created DATETIME(3) NOT NULL, payload VARBINARY(16) NULL)',
  );
  await cluster.query(source.name, 'CREATE TABLE countries (code CHAR(2) PRIMARY KEY, name VARCHAR(40))');
  await cluster.query(source.name, "INSERT INTO countries VALUES ('de', 'Germany'), ('fr', 'France')");
  const values = Array.from(
    { length: 3000 },
    (_, i) =>
      `(${i + 1}, ${i % 7 === 0 ? 'NULL' : `'n${i + 1}'`}, ${i}.25, '2026-01-02 03:04:05.678', X'0a${(i % 256).toString(16).padStart(2, '0')}')`,
  );
  await cluster.query(source.name, `INSERT INTO orders VALUES ${values.join(', ')}`);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

/** How a NULL note is kept in the ledger, where null means the row is absent. */
const NULL_NOTE = '<null>';

/** Random writes straight to the source on one connection, each recorded once acknowledged. */
async function startWriter(c: MariadbCluster, name: string) {
  const conn = await c.connect(name);
  const run = async (sql: string, params: unknown[]) =>
    (await conn.query(sql, params))[0] as { affectedRows: number } & Array<Record<string, unknown>>;
  const expected = new Map<number, string | null>(); // id -> note, null = absent
  let stop = false;
  let next = 100_000;
  let writes = 0;
  const done = (async () => {
    let n = 0;
    while (!stop) {
      n++;
      const id = 1 + ((n * 7919) % 3000);
      const op = n % 5;
      if (op === 0) {
        const nid = next++;
        await run("INSERT INTO orders VALUES (?, ?, 1.50, '2026-03-04 05:06:07.890', NULL)", [nid, `i${n}`]);
        expected.set(nid, `i${n}`);
      } else if (op === 1) {
        // Several rows in one statement: one binlog event whose rows belong to both halves.
        const ids = [next++, next++, next++, next++];
        const row = "(?, ?, 2.50, '2026-03-04 05:06:07.890', X'ff')";
        await run(
          `INSERT INTO orders VALUES ${ids.map(() => row).join(', ')}`,
          ids.flatMap((id) => [id, `m${n}`]),
        );
        for (const id of ids) expected.set(id, `m${n}`);
      } else if (op === 2) {
        const r = await run('UPDATE orders SET note = ?, amount = amount + 1 WHERE id = ?', [`u${n}`, id]);
        if (r.affectedRows === 1) expected.set(id, `u${n}`);
      } else if (op === 3) {
        await run('DELETE FROM orders WHERE id = ?', [id]);
        expected.set(id, null);
      } else {
        // The primary key itself changes: the row may move to the other half.
        const nid = next++;
        const [row] = await run('SELECT note FROM orders WHERE id = ?', [id]);
        const r = await run('UPDATE orders SET id = ? WHERE id = ?', [nid, id]);
        if (row && r.affectedRows === 1) {
          expected.set(nid, (row.note as string | null) ?? NULL_NOTE);
          expected.set(id, null);
        }
      }
      writes++;
    }
  })();
  return {
    expected,
    get writes() {
      return writes;
    },
    stop: async () => {
      stop = true;
      await done;
      await conn.end().catch(() => undefined);
    },
  };
}

describe('MySQL split: copy, binlog capture, verification', () => {
  it('moves a hash-sharded and a reference table under writes with nothing lost or duplicated', async () => {
    const primary = cluster.shards[0]?.primary as MariadbServer;
    // The launcher's binlog settings the capture relies on (row events that name their columns).
    expect(
      await cluster.query(
        primary.name,
        'SELECT @@binlog_format AS f, @@binlog_row_metadata AS m, @@binlog_row_image AS i',
      ),
    ).toEqual([{ f: 'ROW', m: 'FULL', i: 'FULL' }]);
    const writer = await startWriter(cluster, primary.name);
    const throttle = testThrottle(250);
    // The copy is interrupted after its first checkpoint past 1,000 rows (as a killed proxy would
    // be) and resumed from the saved JSON state with a newer snapshot while the writer goes on.
    let saved = '';
    const interrupt = new AbortController();
    const first = await copyMysqlTables({
      source,
      targets,
      tables,
      throttle,
      signal: interrupt.signal,
      checkpoint: async (state) => {
        saved = JSON.stringify(state);
        if ((state.tables[0]?.rows ?? 0) >= 1000) interrupt.abort();
      },
    });
    expect(first.complete).toBe(false);
    expect(first.rows).toBeLessThan(3000);
    const resumeFrom = JSON.parse(saved) as MysqlCopyState;
    while (writer.writes < 100) await new Promise((r) => setTimeout(r, 20));
    const copy = await copyMysqlTables({ source, targets, tables, throttle, resume: resumeFrom });
    expect(copy.complete).toBe(true);
    expect(copy.state.gtidPosition).toBe(resumeFrom.gtidPosition);
    expect(first.rows + copy.rows).toBeGreaterThanOrEqual(3002);
    expect(first.unownedRows + copy.unownedRows).toBe(0);
    const capture = await MysqlBinlogCapture.start({
      source,
      targets,
      tables,
      fromGtid: copy.state.gtidPosition,
      serverId: 9001,
    });
    try {
      while (writer.writes < 600) await new Promise((r) => setTimeout(r, 50));
      await writer.stop();
      await capture.catchUp(60_000);
      expect(capture.appliedChanges).toBeGreaterThan(0);

      const report = await verifyMysqlSplit(source, targets, tables);
      expect(report.mismatches).toEqual([]);
      expect(report.perTable.find((t) => t.table === 'countries')).toEqual({
        table: 'countries',
        sourceRows: 2,
        targetRows: 4,
      });

      // Every acknowledged write: on its owner exactly once with its last note, nowhere else.
      const halves = await Promise.all(
        targets.map(async (t) => {
          const rows = await cluster.query<{ id: string | number; note: string | null }>(
            t.server.name,
            'SELECT id, note FROM orders',
          );
          return new Map(rows.map((r) => [Number(r.id), r.note ?? NULL_NOTE]));
        }),
      );
      const problems: string[] = [];
      for (const [id, note] of writer.expected) {
        const owner = keyOwner(
          String(id),
          'int',
          targets.map((t) => t.range),
        );
        for (const [i, half] of halves.entries()) {
          const want = note !== null && i === owner;
          if (half.has(id) !== want)
            problems.push(`id ${id} ${want ? 'missing from' : 'present on'} half ${i}`);
          else if (want && half.get(id) !== note) problems.push(`id ${id} note ${half.get(id)} != ${note}`);
        }
      }
      expect(problems).toEqual([]);

      // Verification sees a difference: one changed value on one half.
      await cluster.query(
        targets[1]?.server.name as string,
        "UPDATE orders SET note = 'tampered' ORDER BY id LIMIT 1",
      );
      const after = await verifyMysqlSplit(source, targets, tables);
      expect(after.mismatches).toHaveLength(1);
      expect(after.mismatches[0]).toMatchObject({ table: 'orders', target: 's0b', wholeTable: true });

      // A row whose shard key no half owns (NULL) is reported, not silently left behind.
      const events: MovedTable = { name: 'events', shardKey: 'user_id', keyType: 'int', kind: 'sharded' };
      const ddl = 'CREATE TABLE events (id INT PRIMARY KEY, user_id BIGINT NULL)';
      for (const name of [primary.name, ...targets.map((t) => t.server.name)]) await cluster.query(name, ddl);
      await cluster.query(primary.name, 'INSERT INTO events VALUES (1, 5), (2, NULL)');
      const owner = keyOwner(
        '5',
        'int',
        targets.map((t) => t.range),
      ) as number;
      await cluster.query(targets[owner]?.server.name as string, 'INSERT INTO events VALUES (1, 5)');
      const unowned = await verifyMysqlSplit(source, targets, [events]);
      expect(unowned.mismatches).toEqual([
        { table: 'events', fromKey: null, toKey: null, sourceRows: 1, targetRows: 0, wholeTable: true },
      ]);
    } finally {
      await writer.stop();
      await capture.stop();
    }
  }, 240_000);

  it('stops with an error when a moved table is truncated (no row events would carry it)', async () => {
    const primary = cluster.shards[0]?.primary as MariadbServer;
    const capture = await captureNewTable({ cluster, source, targets }, 'notes', 9002, "(1, 'a'), (2, 'b')");
    try {
      await cluster.query(primary.name, "INSERT INTO notes VALUES (3, 'c')");
      await capture.catchUp(30_000);
      await cluster.query(primary.name, 'TRUNCATE TABLE notes');
      await expect(capture.catchUp(30_000)).rejects.toThrow(/moved table notes .*TRUNCATE TABLE notes/);
    } finally {
      await capture.stop();
    }
  }, 120_000);

  it('reports a start position the source binlog does not hold instead of waiting forever', async () => {
    // The server refuses the position after the stream opened: the capture's error, then catchUp.
    const capture = await MysqlBinlogCapture.start({
      source,
      targets,
      tables,
      fromGtid: '1-100-999999999',
      serverId: 9003,
    });
    try {
      await expect(capture.catchUp(30_000)).rejects.toThrow(/1-100-999999999/);
      expect(capture.error).not.toBeNull();
    } finally {
      await capture.stop();
    }
  }, 60_000);

  it('catches up after the server ended its kept source connection, and opens none once stopped', async () => {
    const primary = cluster.shards[0]?.primary as MariadbServer;
    const capture = await captureNewTable({ cluster, source, targets }, 'memo', 9004);
    /** The connection catchUp keeps for the source's position (private: what a server ends). */
    const kept = () => (capture as unknown as { control: Promise<{ threadId: number }> | null }).control;
    try {
      await cluster.query(primary.name, "INSERT INTO memo VALUES (1, 'a')");
      await capture.catchUp(30_000);
      const first = (await kept())!.threadId;
      // As wait_timeout or a restart would: the server ends it while the capture idles.
      await cluster.query(primary.name, `KILL CONNECTION ${first}`);
      await cluster.query(primary.name, "INSERT INTO memo VALUES (2, 'b')");
      await capture.catchUp(30_000);
      expect((await kept())!.threadId).not.toBe(first);
    } finally {
      await capture.stop();
    }
    expect(kept()).toBeNull();
    await expect(capture.catchUp(1_000)).rejects.toThrow(/stopping/);
    expect(kept()).toBeNull();
  }, 120_000);
});
