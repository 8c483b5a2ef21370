// The cross-shard join primitive through a recording fake of its port (no database): the fetch
// runs within routing.maxJoinBytes, an IN list keeps each value once, the rewritten statement
// runs once with the fetched rows, and past the bound nothing runs and the refusal says what to do.
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { distinctByBytes, type JoinPort, runBroadcastJoin } from '../../src/executor/broadcast-join.js';
import type { RowBudget } from '../../src/executor/merge-budget.js';
import type { ColumnInfo, Row } from '../../src/executor/rows.js';

const cols: ColumnInfo[] = [{ name: 'id', typeOid: 20, format: 'text' }];
const row = (...cells: Array<string | null>): Row => cells.map((c) => (c === null ? null : Buffer.from(c)));

function fakePort(rows: Row[]) {
  const calls: string[] = [];
  const port: JoinPort = {
    async fetch(sql: string, budget: RowBudget) {
      calls.push(`fetch ${sql}`);
      const kept: Row[] = [];
      for (const r of rows)
        if (
          budget.take(
            r.reduce((n, c) => n + (c?.length ?? 0), 0),
            r.length,
          )
        )
          kept.push(r);
      return { columns: cols, rows: kept };
    },
    async run(sql: string) {
      calls.push(`run ${sql}`);
    },
  };
  return { port, calls };
}

const texts = {
  fetchSql: 'SELECT id FROM posts',
  residualSql: (_c: ColumnInfo[], rows: Row[]) =>
    `SELECT count(*) FROM users WHERE id IN (${rows.map((r) => r[0]?.toString() ?? 'NULL').join(', ')})`,
};
const options = (maxBytes: number, form: 'table' | 'in-subquery' = 'in-subquery') => ({
  form,
  table: 'posts',
  maxBytes,
  colocatedBy: '"users.user_id = posts.user_id" to the join or subquery condition',
  sql: 'SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts)',
});

describe('broadcast join', () => {
  it('fetches, then runs the statement with the rows in place (an IN list without repeats)', async () => {
    const { port, calls } = fakePort([row('1'), row('2'), row('1'), row(null), row(null)]);
    await runBroadcastJoin(port, texts, options(1 << 20));
    expect(calls).toEqual([
      'fetch SELECT id FROM posts',
      'run SELECT count(*) FROM users WHERE id IN (1, 2, NULL)',
    ]);
  });

  it('a table keeps every row, repeats included (they multiply the join)', async () => {
    const { port, calls } = fakePort([row('1'), row('1')]);
    await runBroadcastJoin(port, texts, options(1 << 20, 'table'));
    expect(calls[1]).toBe('run SELECT count(*) FROM users WHERE id IN (1, 1)');
  });

  it('past routing.maxJoinBytes: refused with 0A000 before anything runs, saying how to proceed', async () => {
    const many = Array.from({ length: 100 }, (_, i) => row(String(i)));
    const { port, calls } = fakePort(many);
    const err = await runBroadcastJoin(port, texts, options(2048)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShardgateError);
    expect(err).toMatchObject({ code: 'JOIN_ROWS_LIMIT' });
    const message = (err as ShardgateError).message;
    expect(message).toMatch(/routing\.maxJoinBytes \(2048\)/);
    expect(message).toContain('users.user_id = posts.user_id');
    expect(calls).toEqual(['fetch SELECT id FROM posts']);
  });

  it('the text the rows add counts against the bound too', async () => {
    const { port, calls } = fakePort([row('1')]);
    const wide = { ...texts, residualSql: () => `SELECT ${'x'.repeat(5000)}` };
    await expect(runBroadcastJoin(port, wide, options(4096))).rejects.toMatchObject({
      code: 'JOIN_ROWS_LIMIT',
    });
    expect(calls).toHaveLength(1);
  });

  it('distinct by bytes tells NULL from the text "NULL" and from an empty string', () => {
    expect(distinctByBytes([row(null), row('NULL'), row(''), row(null), row('')])).toHaveLength(3);
  });
});
