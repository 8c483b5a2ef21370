// The pure pieces the proxy evaluates with: PostgreSQL array text, set and multiset rules of set
// operations, typed expression evaluation over merged aggregates, window functions. The
// differential harness (test/differential) proves them against a real database; these pin the
// edge cases it rarely draws (quoting, NULL equality, overflow, division by zero, peers).
import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { formatArrayText, parseArrayText } from '../../src/executor/pg-array-text.js';
import { type Expr, evaluate } from '../../src/executor/program-eval.js';
import type { Value } from '../../src/executor/program-values.js';
import { valueText } from '../../src/executor/program-values.js';
import type { Row } from '../../src/executor/rows.js';
import { evaluateSetOperation } from '../../src/executor/set-operations.js';
import { runWindows } from '../../src/executor/window-functions.js';

const b = (s: string | null) => (s === null ? null : Buffer.from(s));
const row = (...cells: Array<string | null>): Row => cells.map(b);
const texts = (rows: Row[]) => rows.map((r) => r.map((c) => (c === null ? null : c.toString())));

describe('array text', () => {
  it('keeps quoting and NULLs, round-trips', () => {
    const text = '{1,NULL,"a,b","say \\"hi\\"",""}';
    const els = parseArrayText(text);
    expect(els.map((e) => e.value)).toEqual(['1', null, 'a,b', 'say "hi"', '']);
    expect(formatArrayText(els)).toBe(text);
    expect(parseArrayText('{}')).toEqual([]);
    expect(() => parseArrayText('{{1,2},{3,4}}')).toThrow(ShardgateError);
  });
});

describe('set operations over tagged leaf rows', () => {
  const leafA = ['1', '1', '2', null];
  const leafB = ['1', '3', null];
  // Two shards: leaf 0 rows split across them, leaf 1 on shard 1 only.
  const shards: Row[][] = [
    [row('1', '0'), row('2', '0')],
    [row('1', '0'), row(null, '0'), ...leafB.map((v) => row(v, '1'))],
  ];
  const run = (op: 'union' | 'intersect' | 'except', all: boolean) =>
    texts(evaluateSetOperation(shards, { op, all, left: { leaf: 0 }, right: { leaf: 1 } }, []))
      .map((r) => r[0])
      .sort();
  it('applies set rules (NULLs equal) and multiset counts', () => {
    expect(leafA).toHaveLength(4);
    expect(run('union', false)).toEqual(['1', '2', '3', null].sort());
    expect(run('union', true)).toHaveLength(7);
    expect(run('intersect', false)).toEqual(['1', null].sort());
    expect(run('intersect', true)).toEqual(['1', null].sort());
    expect(run('except', false)).toEqual(['2']);
    expect(run('except', true)).toEqual(['1', '2']);
  });
  it('reads a leaf without sharded tables from one shard only', () => {
    const ref: Row[][] = [
      [row('x', '0'), row('y', '1')],
      [row('x', '0'), row('z', '1')],
    ];
    const rows = evaluateSetOperation(
      ref,
      { op: 'union', all: true, left: { leaf: 0 }, right: { leaf: 1 } },
      [0],
    );
    expect(
      texts(rows)
        .map((r) => r[0])
        .sort(),
    ).toEqual(['x', 'y', 'z']);
  });
});

describe('expressions over merged aggregates', () => {
  const partials: Value[] = [
    { type: 'int8', v: 7n },
    { type: 'int8', v: 2n },
    { type: 'numeric', v: { units: 1234n, scale: 2 } },
    { type: 'int4', v: 2147483647n },
    { type: 'int8', v: null },
  ];
  const p = (i: number): Expr => ({ k: 'partial', i });
  const c = (value: string, literal: 'int' | 'num' | 'text' = 'int'): Expr => ({
    k: 'const',
    value,
    literal,
  });
  const run = (e: Expr) => {
    const v = evaluate(e, (i) => partials[i]!);
    return [v.type, valueText(v)];
  };
  it('follows PostgreSQL result types', () => {
    expect(run({ k: 'op', op: '/', args: [p(0), p(1)] })).toEqual(['int8', '3']);
    expect(run({ k: 'op', op: '/', args: [p(2), p(1)] })).toEqual(['numeric', '6.1700000000000000']);
    expect(run({ k: 'fn', name: 'round', args: [p(2), c('1')] })).toEqual(['numeric', '12.3']);
    expect(run({ k: 'fn', name: 'round', args: [p(0)] })).toEqual(['float8', '7']);
    expect(run({ k: 'fn', name: 'coalesce', args: [p(4), c('0')] })).toEqual(['int8', '0']);
    expect(run({ k: 'cast', to: 'numeric', typmod: [10, 1], arg: p(2) })).toEqual(['numeric', '12.3']);
    expect(run({ k: 'op', op: '>', args: [p(2), p(0)] })).toEqual(['bool', 't']);
  });
  it('raises the errors PostgreSQL raises', () => {
    const code = (e: Expr) => {
      try {
        run(e);
        return null;
      } catch (err) {
        return (err as ShardgateError).sqlstate;
      }
    };
    expect(code({ k: 'op', op: '/', args: [p(0), c('0')] })).toBe('22012');
    expect(code({ k: 'op', op: '+', args: [p(3), c('1')] })).toBe('22003');
  });
});

describe('window functions at the proxy', () => {
  const columns = [0, 1, 2, 3].map((i) => ({
    name: `c${i}`,
    typeOid: i === 1 ? 20 : 23,
    format: 'text' as const,
  }));
  it('ranks peers alike and frames aggregates to the last peer', () => {
    // visible: id, v; hidden: order key (col 2), argument (col 3)
    const rows = [row('1', null, '10', '5'), row('2', null, '20', '1'), row('3', null, '10', '2')];
    const rank = runWindows(
      rows,
      {
        outputs: [
          null,
          { fn: 'rank', partition: [], order: [{ column: 2, desc: false, nullsFirst: false }], args: [] },
        ],
        hiddenColumns: 2,
      },
      columns,
    );
    expect(texts(rank).map((r) => [r[0], r[1]])).toEqual([
      ['1', '1'],
      ['2', '3'],
      ['3', '1'],
    ]);
    const sum = runWindows(
      rows,
      {
        outputs: [
          null,
          { fn: 'sum', partition: [], order: [{ column: 2, desc: false, nullsFirst: false }], args: [3] },
        ],
        hiddenColumns: 2,
      },
      columns,
    );
    expect(texts(sum).map((r) => r[1])).toEqual(['7', '8', '7']);
  });
  it('MySQL: partitions text under general_ci, prints DECIMAL sum / avg at the column scale', () => {
    // visible: id, s (DECIMAL scale 2), a (DECIMAL scale 6); hidden: partition key, argument
    const my = [
      { name: 'id', typeOid: 20, format: 'text' as const },
      { name: 's', typeOid: 1700, format: 'text' as const, scale: 2 },
      { name: 'a', typeOid: 1700, format: 'text' as const, scale: 6 },
      { name: 'status', typeOid: 25, format: 'text' as const, textCompare: 'general_ci' as const },
      { name: 'amount', typeOid: 1700, format: 'text' as const, scale: 2 },
    ];
    const rows = [
      row('1', null, null, 'paid', '1.10'),
      row('2', null, null, 'PAID ', '2.2'),
      row('3', null, null, 'open', '0.01'),
      row('4', null, null, 'paid', '1.00'),
    ];
    const out = runWindows(
      rows,
      {
        outputs: [
          null,
          { fn: 'sum', partition: [3], order: [], args: [4] },
          { fn: 'avg', partition: [3], order: [], args: [4] },
        ],
        hiddenColumns: 2,
      },
      my,
    );
    expect(texts(out).map((r) => [r[1], r[2]])).toEqual([
      ['4.30', '1.433333'],
      ['4.30', '1.433333'],
      ['0.01', '0.010000'],
      ['4.30', '1.433333'],
    ]);
  });
});
