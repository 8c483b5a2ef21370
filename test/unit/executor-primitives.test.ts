// Each merge primitive alone, over the rows fake shards return (no sockets): concatenation,
// ORDER BY, DISTINCT / DISTINCT ON, OFFSET/LIMIT, HAVING and the column-wise aggregate, under
// the column rules both protocols give them (PostgreSQL bytewise text, MySQL general_ci).
import { describe, expect, it } from 'vitest';
import { aggregateRows } from '../../src/executor/aggregate.js';
import { combineCommandTags } from '../../src/executor/command-tags.js';
import { concatShards } from '../../src/executor/concat.js';
import { distinctRows, firstPerKey } from '../../src/executor/distinct.js';
import { filterHaving } from '../../src/executor/having.js';
import { pageRows } from '../../src/executor/limit.js';
import { sortRows } from '../../src/executor/merge-sort.js';
import type { ColumnInfo, Row } from '../../src/executor/rows.js';
import { mergeSpec } from '../support/merge-spec.js';

const row = (...cells: Array<string | null>): Row => cells.map((c) => (c === null ? null : Buffer.from(c)));
const texts = (rows: Row[]) => rows.map((r) => r.map((c) => (c === null ? null : c.toString())));
const int: ColumnInfo = { name: 'n', typeOid: 20, format: 'text' };
const num: ColumnInfo = { name: 'x', typeOid: 1700, format: 'text' };
const pgText: ColumnInfo = { name: 't', typeOid: 25, format: 'text' };
const ciText: ColumnInfo = { name: 't', typeOid: 25, format: 'text', textCompare: 'general_ci' };

/** Two fake shards' rows for one column pair (text, int). */
const shards: Row[][] = [
  [row('b', '2'), row('A', '1')],
  [row('a', '3'), row(null, '4'), row('b', '5')],
];

describe('concat', () => {
  it('keeps shard order, then arrival order, and skips shards that sent nothing', () => {
    expect(texts(concatShards([shards[0], undefined, shards[1]])).map((r) => r[1])).toEqual([
      '2',
      '1',
      '3',
      '4',
      '5',
    ]);
  });
});

describe('merge sort', () => {
  const rows = concatShards(shards);
  it('orders bytewise for PostgreSQL text, NULLs last ascending, ties in shard order', () => {
    const out = sortRows(rows, [{ column: 0, desc: false, nullsFirst: false }], [pgText, int]);
    expect(texts(out)).toEqual([
      ['A', '1'],
      ['a', '3'],
      ['b', '2'],
      ['b', '5'],
      [null, '4'],
    ]);
  });
  it('orders case-insensitively under general_ci with NULLs first (MySQL), DESC on the second key', () => {
    const out = sortRows(
      rows,
      [
        { column: 0, desc: false, nullsFirst: true },
        { column: 1, desc: true, nullsFirst: false },
      ],
      [ciText, int],
    );
    expect(texts(out).map((r) => r[1])).toEqual(['4', '3', '1', '5', '2']);
  });
  it('finds a column of * by name, and refuses an ambiguous one', () => {
    const cols = [
      { ...int, name: 'id' },
      { ...int, name: 'k' },
    ];
    const out = sortRows(
      [row('1', '9'), row('2', '8')],
      [{ column: -1, name: 'k', desc: false, nullsFirst: false }],
      cols,
    );
    expect(texts(out).map((r) => r[0])).toEqual(['2', '1']);
    expect(() =>
      sortRows(
        [row('1', '2')],
        [{ column: -1, name: 'id', desc: false, nullsFirst: false }],
        [cols[0]!, cols[0]!],
      ),
    ).toThrow(/matches 2 result columns/);
  });
});

describe('distinct', () => {
  it('deduplicates under each column collation (general_ci: a = A)', () => {
    const rows = [row('a'), row('A'), row('b'), row(null), row(null)];
    expect(distinctRows(rows, [pgText])).toHaveLength(4);
    expect(texts(distinctRows(rows, [ciText]))).toEqual([['a'], ['b'], [null]]);
  });
  it('DISTINCT ON keeps the first row of each key in merged order', () => {
    const rows = [row('1', 'x'), row('1', 'y'), row('2', 'z')];
    expect(texts(firstPerKey(rows, [0]))).toEqual([
      ['1', 'x'],
      ['2', 'z'],
    ]);
  });
});

describe('limit', () => {
  it('pages with OFFSET past the end and LIMIT ALL', () => {
    const rows = [row('1'), row('2'), row('3')];
    expect(texts(pageRows(rows, 1, 1))).toEqual([['2']]);
    expect(pageRows(rows, 5, 1)).toEqual([]);
    expect(texts(pageRows(rows, 1, null))).toEqual([['2'], ['3']]);
  });
});

describe('having', () => {
  it('keeps only groups whose clause is true (NULL compares unknown)', () => {
    const rows = [row('a', '5'), row('b', '1'), row('c', null)];
    const having = {
      op: 'or' as const,
      args: [
        { op: 'compare' as const, comparison: '>', column: 1, value: '3' },
        { op: 'not' as const, args: [{ op: 'compare' as const, comparison: '>=', column: 1, value: '1' }] },
      ],
    };
    expect(texts(filterHaving(rows, having, [pgText, int])).map((r) => r[0])).toEqual(['a']);
  });
});

describe('aggregate', () => {
  const spec = mergeSpec;
  it('adds counts and exact sums, compares min/max, groups under the collation', () => {
    const rows = [row('a', '2', '0.10', '7'), row('A', '3', '0.20', '9'), row('b', '1', null, '1')];
    const out = aggregateRows(
      rows,
      spec({
        groupBy: [0],
        aggregates: [
          { column: 1, fn: 'count' },
          { column: 2, fn: 'sum' },
          { column: 3, fn: 'max' },
        ],
      }),
      [ciText, int, num, int],
      false,
    );
    expect(texts(out)).toEqual([
      ['a', '5', '0.30', '9'],
      ['b', '1', null, '1'],
    ]);
  });
  it('avg: total sum / total count, numeric with PostgreSQL scale', () => {
    const rows = [row('3', '2'), row('4', '1')];
    const pg = aggregateRows(
      rows,
      spec({ aggregates: [{ column: 0, fn: 'avg', countColumn: 1 }] }),
      [int, int],
      true,
    );
    expect(texts(pg)[0]![0]).toBe('2.3333333333333333');
  });
});

describe('command tags', () => {
  it('sums the row counts of the shards', () => {
    expect(combineCommandTags(['INSERT 0 2', 'INSERT 0 3'])).toBe('INSERT 0 5');
    expect(combineCommandTags(['UPDATE 1', 'UPDATE 0'])).toBe('UPDATE 1');
  });
});
