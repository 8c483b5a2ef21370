// ResultMerger on hand-made per-shard partials (text format, as PostgreSQL sends them).
import { describe, expect, it } from 'vitest';
import { ResultMerger } from '../../src/executor/merger.js';
import type { ColumnInfo } from '../../src/executor/rows.js';
import { mergeSpec } from '../support/merge-spec.js';

const col = (name: string, typeOid: number): ColumnInfo => ({ name, typeOid, format: 'text' });
const row = (...cells: Array<string | null>) => cells.map((c) => (c === null ? null : Buffer.from(c)));
const text = (rows: Array<Array<Buffer | null>>) =>
  rows.map((r) => r.map((c) => (c === null ? null : c.toString())));

const spec = mergeSpec;

/** A PostgreSQL merger of at most 100 rows. */
const pgMerger = (over: Parameters<typeof mergeSpec>[0], columns: ColumnInfo[]) =>
  new ResultMerger(spec(over), columns, { maxRows: 100, postgres: true });

/** Grouped by the first column and ordered by it. */
const groupedByFirst = (over: Parameters<typeof mergeSpec>[0]) => ({
  groupBy: [0],
  orderBy: [{ column: 0, desc: false, nullsFirst: false }],
  ...over,
});

describe('ResultMerger (PostgreSQL)', () => {
  it.each([
    [
      'numeric: exact sum / count with PostgreSQL scale',
      1700,
      ['12000.00', '20'],
      ['12925.00', '30'],
      '498.5000000000000000',
    ],
    [
      'integers: numeric, not the bigint of its partial sums',
      20,
      ['1', '1'],
      ['2', '1'],
      '1.5000000000000000',
    ],
  ])('avg of %s, typed numeric, hidden count dropped', (_, sumType, first, second, want) => {
    const m = pgMerger({ aggregates: [{ column: 0, fn: 'avg', countColumn: 1 }], visibleColumns: 1 }, [
      col('avg', sumType),
      col('count', 20),
    ]);
    m.add(0, row(...first));
    m.add(1, row(...second));
    expect(text(m.finish())).toEqual([[want]]);
    expect(m.outputColumns()).toEqual([col('avg', 1700)]);
  });

  it('bool_and / bool_or fold per group', () => {
    const m = pgMerger(
      groupedByFirst({
        aggregates: [
          { column: 1, fn: 'bool_and' },
          { column: 2, fn: 'bool_or' },
        ],
      }),
      [col('g', 25), col('bool_and', 16), col('bool_or', 16)],
    );
    m.add(0, row('a', 't', 'f'));
    m.add(1, row('a', 'f', 't'));
    m.add(1, row('b', 't', null));
    expect(text(m.finish())).toEqual([
      ['a', 'f', 't'],
      ['b', 't', null],
    ]);
  });

  it('stddev from count, sum and sum of squares across shards', () => {
    const m = pgMerger(
      {
        aggregates: [{ column: 0, fn: 'stddev_samp', countColumn: 1, sumColumn: 2, sumSquaresColumn: 3 }],
        visibleColumns: 1,
      },
      [col('stddev', 1700), col('count', 20), col('sum', 1700), col('sum', 1700)],
    );
    // 1.5 and 2.25 on one shard, 7.125 on the other.
    m.add(0, row('0.53033008588991064', '2', '3.75', '7.3125'));
    m.add(1, row(null, '1', '7.125', '50.765625'));
    expect(text(m.finish())).toEqual([['3.0541979307176541']]);
  });

  it('sums of float4 stay float4', () => {
    const m = pgMerger({ aggregates: [{ column: 0, fn: 'sum' }] }, [col('sum', 700)]);
    m.add(0, row('12.3'));
    m.add(1, row('23.7'));
    expect(text(m.finish())).toEqual([['36']]);
  });

  it('HAVING filters merged groups on hidden aggregates (three-valued)', () => {
    const m = pgMerger(
      groupedByFirst({
        aggregates: [
          { column: 1, fn: 'count' },
          { column: 2, fn: 'sum' },
        ],
        having: {
          op: 'or',
          args: [
            { op: 'compare', comparison: '>', column: 1, value: '2' },
            { op: 'compare', comparison: '>=', column: 2, value: '10.5' },
          ],
        },
        visibleColumns: 1,
      }),
      [col('g', 25), col('count', 20), col('sum', 1700)],
    );
    m.add(0, row('a', '2', '1.00'));
    m.add(1, row('a', '1', '2.00')); // count 3 > 2
    m.add(0, row('b', '1', '10.00'));
    m.add(1, row('b', '1', '0.50')); // sum 10.50 >= 10.5
    m.add(0, row('c', '1', null)); // sum NULL: unknown, count 1: false
    m.add(1, row('d', '2', '1'));
    expect(text(m.finish())).toEqual([['a'], ['b']]);
  });

  it('orders SELECT * results by a column found by name in the result', () => {
    const m = pgMerger({ orderBy: [{ column: -1, name: 'score', desc: true, nullsFirst: true }], limit: 2 }, [
      col('id', 20),
      col('score', 1700),
    ]);
    m.add(0, row('1', '2.5'));
    m.add(1, row('2', '10'));
    m.add(1, row('3', '3'));
    expect(text(m.finish())).toEqual([
      ['2', '10'],
      ['3', '3'],
    ]);
    const dup = pgMerger({ orderBy: [{ column: -1, name: 'id', desc: false, nullsFirst: false }] }, [
      col('id', 20),
      col('id', 20),
    ]);
    dup.add(0, row('1', '2'));
    expect(() => dup.finish()).toThrow(/matches 2 result columns/);
  });

  it('refuses to sum a type it cannot add exactly', () => {
    const m = pgMerger({ aggregates: [{ column: 0, fn: 'sum' }] }, [col('sum', 1186)]);
    m.add(0, row('01:00:00'));
    m.add(1, row('02:00:00'));
    expect(() => m.finish()).toThrow(expect.objectContaining({ code: 'SCATTER_UNSUPPORTED' }));
  });
});
