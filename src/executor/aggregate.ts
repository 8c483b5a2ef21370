// GROUP BY with the column-wise partials of count/sum/min/max/avg, bool_and/bool_or and the
// stddev/variance family: each shard's group row is folded into one row per group (keys equal
// under the column's collation), then avg = total sum / total count and the statistics are
// finished from their count, sum and sum of squares. Sums are exact (decimals, never JS floats).
import { ShardgateError } from '../errors.js';
import type { MergeAggregate, MergeSpec } from '../router/plan.js';
import {
  addPartials,
  averageType,
  FLOAT4,
  FLOAT8,
  finishAverage,
  finishStatistic,
  foldBooleans,
  type StatisticFn,
} from './aggregate-partials.js';
import { compareValues, decodeCell, groupKey } from './cell-values.js';
import type { ColumnInfo, Row } from './rows.js';

const FLOAT_TYPES = new Set([700, 701]);
const NUMERIC = 1700;

/**
 * One row per group of `spec.groupBy`, aggregates combined. `postgres`: avg as numeric with
 * PostgreSQL's result scale (or float8) and sums in the column's own type; otherwise avg is left
 * as an exact decimal for the protocol to format.
 */
export function aggregateRows(rows: Row[], spec: MergeSpec, cols: ColumnInfo[], postgres: boolean): Row[] {
  const groups = new Map<string, Row>();
  const order: string[] = [];
  for (const row of rows) {
    const key = spec.groupBy.map((g) => groupKey(row[g] ?? null, cols[g]!)).join('\u0001');
    const acc = groups.get(key);
    if (!acc) {
      groups.set(key, row.slice());
      order.push(key);
      continue;
    }
    for (const a of spec.aggregates) combine(a, acc, row, cols, postgres);
  }
  const out = order.map((k) => groups.get(k)!);
  // avg = total sum / total count, written where the sum was; statistics from their partials.
  for (const a of spec.aggregates) {
    if (a.fn === 'avg' && a.countColumn !== undefined) {
      for (const row of out) finishAvg(a, row, cols, postgres);
    } else if (a.sumColumn !== undefined && a.sumSquaresColumn !== undefined && a.countColumn !== undefined) {
      const float = cols[a.column]!.typeOid === FLOAT8;
      for (const row of out) {
        const text = (i: number) => cellText(row[i] ?? null, cols[i]!);
        const v = finishStatistic(
          a.fn as StatisticFn,
          text(a.countColumn),
          text(a.sumColumn),
          text(a.sumSquaresColumn),
          float,
        );
        row[a.column] = encodeText(v, cols[a.column]!);
      }
    }
  }
  return out;
}

/** Folds one shard's partial of aggregate `a` from `row` into the group's accumulator `acc`. */
function combine(a: MergeAggregate, acc: Row, row: Row, cols: ColumnInfo[], postgres: boolean): void {
  const col = cols[a.column]!;
  const x = acc[a.column] ?? null;
  const y = row[a.column] ?? null;
  const add = (i: number) => {
    acc[i] = sum(acc[i] ?? null, row[i] ?? null, cols[i]!, postgres);
  };
  switch (a.fn) {
    case 'count':
    case 'sum':
      add(a.column);
      return;
    case 'avg':
      add(a.column);
      if (a.countColumn !== undefined) add(a.countColumn);
      return;
    case 'bool_and':
    case 'bool_or': {
      const bool = (c: Buffer | null) => (c === null ? null : decodeCell(c, col) ? 't' : 'f');
      const v = foldBooleans(bool(x), bool(y), a.fn === 'bool_and');
      acc[a.column] =
        v === null ? null : col.format === 'binary' ? Buffer.from([v === 't' ? 1 : 0]) : Buffer.from(v);
      return;
    }
    case 'min':
    case 'max':
      if (y === null) return;
      if (x === null) acc[a.column] = y;
      else {
        const c = compareValues(decodeCell(x, col), decodeCell(y, col), col.typeOid === NUMERIC);
        if ((a.fn === 'min' && c > 0) || (a.fn === 'max' && c < 0)) acc[a.column] = y;
      }
      return;
    default:
      for (const i of [a.countColumn, a.sumColumn, a.sumSquaresColumn]) if (i !== undefined) add(i);
  }
}

function sum(x: Buffer | null, y: Buffer | null, col: ColumnInfo, postgres: boolean): Buffer | null {
  if (!postgres) return sumCells(x, y, col);
  if (x === null) return y;
  if (y === null) return x;
  return encodeText(addPartials(cellText(x, col), cellText(y, col), col.typeOid), col);
}

function finishAvg(a: MergeAggregate, row: Row, cols: ColumnInfo[], postgres: boolean): void {
  const sumCol = cols[a.column]!;
  const sum = cellText(row[a.column] ?? null, sumCol);
  const count = cellText(row[a.countColumn!] ?? null, cols[a.countColumn!]!);
  if (postgres) {
    const v = finishAverage(sum, count, sumCol.typeOid);
    row[a.column] = encodeText(v, { ...sumCol, typeOid: averageType(sumCol.typeOid) });
    return;
  }
  const avg = sum === null || count === null || count === '0' ? null : divideDecimal(sum, BigInt(count));
  row[a.column] = avg === null ? null : Buffer.from(avg);
}

/** Exact decimal addition of two decimal strings. */
export function addDecimal(a: string, b: string): string {
  const scale = Math.max((a.split('.')[1] ?? '').length, (b.split('.')[1] ?? '').length);
  const toInt = (s: string) => {
    const neg = s.startsWith('-');
    const [i, f = ''] = s.replace(/^[-+]/, '').split('.');
    const v = BigInt(`${i}${f.padEnd(scale, '0')}` || '0');
    return neg ? -v : v;
  };
  const sum = toInt(a) + toInt(b);
  const neg = sum < 0n;
  let digits = (neg ? -sum : sum).toString().padStart(scale + 1, '0');
  if (scale > 0) digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return `${neg ? '-' : ''}${digits}`;
}

function divideDecimal(sum: string, count: bigint, scale = 16): string {
  const neg = sum.startsWith('-');
  const [i, f = ''] = sum.replace(/^[-+]/, '').split('.');
  const numerator = BigInt(`${i}${f}`) * 10n ** BigInt(scale);
  const q = numerator / (count * 10n ** BigInt(f.length));
  let digits = q.toString().padStart(scale + 1, '0');
  digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`.replace(/\.?0+$/, '');
  return `${neg && digits !== '0' ? '-' : ''}${digits}`;
}

function cellText(cell: Buffer | null, col: ColumnInfo): string | null {
  if (cell === null) return null;
  const v = decodeCell(cell, col);
  return typeof v === 'bigint' || typeof v === 'number' ? String(v) : String(v);
}

function encodeLike(value: string | null, col: ColumnInfo): Buffer | null {
  if (value === null) return null;
  if (col.format === 'text') return Buffer.from(value);
  switch (col.typeOid) {
    case 20: {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(value));
      return b;
    }
    case 23: {
      const b = Buffer.alloc(4);
      b.writeInt32BE(Number(value));
      return b;
    }
    case 701: {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(Number(value));
      return b;
    }
    default:
      throw new ShardgateError('SCATTER_UNSUPPORTED', {
        detail: `merging aggregates of type ${col.typeOid} in binary format (request text results)`,
      });
  }
}

/** A text value in the column's format (binary merges of numeric are refused). */
function encodeText(value: string | null, col: ColumnInfo): Buffer | null {
  if (value === null) return null;
  if (col.format === 'text') return Buffer.from(value);
  if (col.typeOid === FLOAT4) {
    const b = Buffer.alloc(4);
    b.writeFloatBE(Number(value));
    return b;
  }
  return encodeLike(value, col);
}

function sumCells(x: Buffer | null, y: Buffer | null, col: ColumnInfo): Buffer | null {
  if (x === null) return y;
  if (y === null) return x;
  const a = cellText(x, col)!;
  const b = cellText(y, col)!;
  if (FLOAT_TYPES.has(col.typeOid)) return encodeLike(String(Number(a) + Number(b)), col);
  return encodeLike(addDecimal(a, b), col);
}
