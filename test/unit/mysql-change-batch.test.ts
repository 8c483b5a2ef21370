// Batching of the MySQL binlog capture (mysql-change-batch.ts): binlog events in, per target the
// queries of one transaction out, writes in binlog order, consecutive writes of one kind and table
// sharing a statement, and the batch's position the last one an event carried.
import mysql from 'mysql2';
import { describe, expect, it } from 'vitest';
import {
  type ChangeRouting,
  type MysqlChange,
  planBatch,
  routeChanges,
  type TargetWrite,
  targetStatements,
  transactionQueries,
} from '../../src/migration/mysql-change-batch.js';

/** users: owner by id (< 100 on target 0, else 1); ref: on both; pairs: composite key (a, b). */
const routing: ChangeRouting = {
  targets: 2,
  key: (table) => (table === 'pairs' ? ['a', 'b'] : ['id']),
  owners: (table, row) => (table === 'ref' ? [0, 1] : Number(row.id ?? row.a) < 100 ? [0] : [1]),
};
const format = (sql: string, values: readonly unknown[]) =>
  mysql.format(sql, values as Parameters<typeof mysql.format>[1]);

const user = (id: number, name: string) => ({ id, name });

describe('routeChanges', () => {
  it('sends each write to the owners of its row, in binlog order', () => {
    const changes: MysqlChange[] = [
      { kind: 'insert', table: 'users', rows: [user(1, 'a'), user(150, 'b'), user(2, 'c')] },
      { kind: 'update', table: 'users', before: user(1, 'a'), after: user(1, 'a2') },
      // The shard key moves the row to the other target: deleted where it was, upserted there.
      { kind: 'update', table: 'users', before: user(2, 'c'), after: user(120, 'c') },
      { kind: 'delete', table: 'users', row: user(150, 'b') },
      { kind: 'insert', table: 'ref', rows: [{ id: 7, v: 'x' }] },
    ];
    const [t0, t1] = routeChanges(changes, routing) as [TargetWrite[], TargetWrite[]];
    const brief = (w: TargetWrite) =>
      `${w.op} ${w.table} ${w.row.id}${w.op === 'upsert' ? ` ${w.row.name ?? w.row.v}` : ''}`;
    expect(t0.map(brief)).toEqual([
      'upsert users 1 a',
      'upsert users 2 c',
      'upsert users 1 a2',
      'delete users 2',
      'upsert ref 7 x',
    ]);
    expect(t1.map(brief)).toEqual([
      'upsert users 150 b',
      'upsert users 120 c',
      'delete users 150',
      'upsert ref 7 x',
    ]);
  });

  it('deletes the old key when an update changes the primary key on the same owner', () => {
    const [t0] = routeChanges(
      [{ kind: 'update', table: 'users', before: user(3, 'x'), after: user(4, 'x') }],
      routing,
    ) as [TargetWrite[]];
    expect(t0.map((w) => `${w.op} ${w.row.id}`)).toEqual(['delete 3', 'upsert 4']);
  });

  it('sees a change of a binary key whose bytes differ but read as the same text', () => {
    // Two invalid UTF-8 sequences both decode to U+FFFD: as text the key looks unchanged.
    const before = { id: Buffer.from([0xff, 0x01]), name: 'x' };
    const after = { id: Buffer.from([0xfe, 0x01]), name: 'x' };
    expect(String(before.id)).toBe(String(after.id));
    const binary: ChangeRouting = { ...routing, owners: () => [0] };
    const [t0] = routeChanges([{ kind: 'update', table: 'users', before, after }], binary) as [TargetWrite[]];
    expect(t0.map((w) => w.op)).toEqual(['delete', 'upsert']);
  });

  it('writes nothing for a row no target owns', () => {
    const none: ChangeRouting = { ...routing, owners: () => [] };
    const writes = routeChanges([{ kind: 'insert', table: 'users', rows: [user(1, 'a')] }], none);
    expect(writes).toEqual([[], []]);
  });
});

describe('targetStatements', () => {
  const up = (id: number, name: string, table = 'users'): TargetWrite => ({
    op: 'upsert',
    table,
    row: user(id, name),
  });
  const del = (id: number): TargetWrite => ({ op: 'delete', table: 'users', key: ['id'], row: user(id, '') });

  it('merges consecutive writes of one kind and table, keeping their order', () => {
    const statements = targetStatements(
      [up(1, 'a'), up(2, 'b'), up(1, 'c'), del(2), del(5), up(2, 'd'), up(9, 'e', 't2')],
      format,
    );
    expect(statements).toEqual([
      "INSERT INTO `users` (`id`, `name`) VALUES (1, 'a'), (2, 'b'), (1, 'c') ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `name` = VALUES(`name`)",
      'DELETE FROM `users` WHERE `id` IN (2, 5)',
      "INSERT INTO `users` (`id`, `name`) VALUES (2, 'd') ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `name` = VALUES(`name`)",
      "INSERT INTO `t2` (`id`, `name`) VALUES (9, 'e') ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `name` = VALUES(`name`)",
    ]);
  });

  it('deletes by a composite key with row constructors', () => {
    const w = (a: number, b: string): TargetWrite => ({
      op: 'delete',
      table: 'pairs',
      key: ['a', 'b'],
      row: { a, b, v: 1 },
    });
    expect(targetStatements([w(1, 'x'), w(2, "y'z")], format)).toEqual([
      "DELETE FROM `pairs` WHERE (`a`, `b`) IN ((1, 'x'), (2, 'y\\'z'))",
    ]);
  });

  it('starts a new statement at the row limit and when the columns differ', () => {
    const other: TargetWrite = { op: 'upsert', table: 'users', row: { id: 4, name: 'z', extra: 1 } };
    const statements = targetStatements([up(1, 'a'), up(2, 'b'), up(3, 'c'), other], format, 2);
    expect(statements.map((s) => s.match(/VALUES (.*) ON/)?.[1])).toEqual([
      "(1, 'a'), (2, 'b')",
      "(3, 'c')",
      "(4, 'z', 1)",
    ]);
  });
});

describe('targetStatements byte limit', () => {
  it('starts a new statement before the rows pass the byte limit (max_allowed_packet)', () => {
    const big = (id: number): TargetWrite => ({
      op: 'upsert',
      table: 'users',
      row: { id, name: 'é'.repeat(3000) },
    });
    const statements = targetStatements([big(1), big(2), big(3), big(4)], format, 500, 30_000);
    expect(statements).toHaveLength(2);
    for (const s of statements) expect(Buffer.byteLength(s)).toBeLessThanOrEqual(30_000);
  });

  it('sends a single row larger than the limit alone', () => {
    const huge: TargetWrite = { op: 'upsert', table: 'users', row: { id: 1, name: 'x'.repeat(50_000) } };
    const statements = targetStatements([huge, { ...huge, row: { id: 2, name: 'y' } }], format, 500, 30_000);
    expect(statements).toHaveLength(2);
  });
});

describe('transactionQueries', () => {
  it('wraps the statements in one transaction, one query while they fit', () => {
    expect(transactionQueries(['S1', 'S2'], 1 << 20)).toEqual(['START TRANSACTION;\nS1;\nS2;\nCOMMIT']);
    expect(transactionQueries([], 1 << 20)).toEqual([]);
  });

  it('splits into several queries of one transaction past the byte limit', () => {
    const long = 'X'.repeat(30);
    expect(transactionQueries([long, long, long], 90)).toEqual([
      `START TRANSACTION;\n${long};\n${long}`,
      `${long};\nCOMMIT`,
    ]);
  });
});

describe('planBatch', () => {
  it('records the last position an event carried and counts the changes', () => {
    const batch = planBatch(
      [
        { changes: [], position: '1-100-5' },
        {
          changes: [{ kind: 'insert', table: 'users', rows: [user(1, 'a'), user(2, 'b')] }],
          position: '1-100-5',
        },
        { changes: [], position: '1-100-6' },
        { changes: [{ kind: 'delete', table: 'users', row: user(1, 'a') }], position: undefined },
      ],
      routing,
      format,
    );
    // The last event came without a position (mid-transaction): the batch reaches the one before.
    expect(batch.position).toBe('1-100-6');
    expect(batch.changes).toBe(2);
    expect(batch.queries[0]).toEqual([
      "START TRANSACTION;\nINSERT INTO `users` (`id`, `name`) VALUES (1, 'a'), (2, 'b') ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `name` = VALUES(`name`);\nDELETE FROM `users` WHERE `id` IN (1);\nCOMMIT",
    ]);
    // Nothing for target 1: no query, no empty transaction.
    expect(batch.queries[1]).toEqual([]);
  });

  it('has no position when no event carried one', () => {
    expect(planBatch([{ changes: [], position: undefined }], routing, format).position).toBeUndefined();
  });
});
