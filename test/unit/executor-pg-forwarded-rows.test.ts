// The whole-row scatter merge (DataRow messages forwarded as they came) orders and pages exactly
// like ResultMerger, which splits cells: checked on random rows with ties, NULLs and both
// directions, against the cell merger as the reference.
import { describe, expect, it } from 'vitest';
import { ResultMerger } from '../../src/executor/merger.js';
import { forwardsWholeRows, mergeWholeRows } from '../../src/executor/pg-forwarded-rows.js';
import type { ColumnInfo, Row } from '../../src/executor/rows.js';
import { encodeDataRow } from '../../src/protocol/postgres/backend-messages.js';
import { mergeSpec } from '../support/merge-spec.js';

const columns: ColumnInfo[] = [
  { name: 'id', typeOid: 20, format: 'text' },
  { name: 'amount', typeOid: 1700, format: 'text' },
  { name: 'label', typeOid: 25, format: 'text' },
];

const spec = mergeSpec;

function randomShards(seed: number): Row[][] {
  let a = seed;
  const rnd = (n: number) => {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    return a % n;
  };
  return Array.from({ length: 3 }, () =>
    Array.from({ length: rnd(40) }, () => [
      Buffer.from(String(rnd(20) - 5)),
      rnd(6) === 0 ? null : Buffer.from(`${rnd(30)}.${rnd(10)}`),
      Buffer.from(['a', 'b', 'B', 'ab', ''][rnd(5)]!),
    ]),
  );
}

/** The whole-row merge of `shards` gives the DataRows of the cell merger's answer, in its order. */
function expectSameAsCellMerger(s: Parameters<typeof mergeWholeRows>[2], shards: Row[][]): void {
  const merger = new ResultMerger(s, columns, { maxRows: 1000, postgres: true });
  shards.forEach((rows, i) => {
    for (const r of rows) merger.add(i, r);
  });
  const want = merger.finish().map((r) => encodeDataRow(r));
  const got = mergeWholeRows(
    shards.map((rows) => rows.map((r) => encodeDataRow(r))),
    columns,
    s,
    1000,
  );
  expect(got).toEqual(want);
}

describe('whole-row scatter merge', () => {
  it('orders and pages like the cell merger, ties in shard order', () => {
    const specs = [
      null,
      spec({ orderBy: [{ column: 0, desc: false, nullsFirst: false }] }),
      spec({
        orderBy: [
          { column: 1, desc: true, nullsFirst: true },
          { column: 2, desc: false, nullsFirst: false },
        ],
      }),
      spec({ orderBy: [{ column: 2, desc: true, nullsFirst: false }], offset: 3, limit: 7 }),
      spec({ offset: 2, limit: 4 }),
    ];
    for (let seed = 1; seed <= 30; seed++) {
      const shards = randomShards(seed);
      for (const s of specs) {
        expect(forwardsWholeRows(s)).toBe(true);
        expectSameAsCellMerger(s, shards);
      }
    }
  });

  it('merges shards already in ORDER BY order by their heads, as the sort would', () => {
    const numericSpecs = [
      spec({ orderBy: [{ column: 0, desc: false, nullsFirst: false }] }),
      spec({ orderBy: [{ column: 1, desc: true, nullsFirst: true }], offset: 2, limit: 9 }),
      spec({
        orderBy: [
          { column: 0, desc: true, nullsFirst: false },
          { column: 1, desc: false, nullsFirst: false },
        ],
      }),
    ];
    for (let seed = 1; seed <= 30; seed++) {
      for (const s of numericSpecs) {
        // Each shard's rows in the statement's order, as the shard's own ORDER BY returns them.
        const shards = randomShards(seed).map((rows) => {
          const m = new ResultMerger({ ...s, offset: 0, limit: null }, columns, {
            maxRows: 1000,
            postgres: true,
          });
          for (const r of rows) m.add(0, r);
          return m.finish();
        });
        expectSameAsCellMerger(s, shards);
      }
    }
  });

  it('bounds the rows of all shards together', () => {
    const shards = [[encodeDataRow([Buffer.from('1')])], [encodeDataRow([Buffer.from('2')])]];
    expect(mergeWholeRows(shards, columns, null, 2)).toHaveLength(2);
    expect(() => mergeWholeRows(shards, columns, null, 1)).toThrow(/1/);
  });

  it('leaves aggregates, DISTINCT, HAVING and hidden columns to the cell merger', () => {
    expect(forwardsWholeRows(spec({ distinct: true }))).toBe(false);
    expect(forwardsWholeRows(spec({ groupBy: [0] }))).toBe(false);
    expect(forwardsWholeRows(spec({ aggregates: [{ column: 0, fn: 'sum' }] }))).toBe(false);
    expect(forwardsWholeRows(spec({ visibleColumns: 2 }))).toBe(false);
    expect(forwardsWholeRows(spec({ distinctOn: [0] }))).toBe(false);
    expect(
      forwardsWholeRows(spec({ orderBy: [{ column: -1, name: 'x', desc: false, nullsFirst: false }] })),
    ).toBe(false);
  });
});
