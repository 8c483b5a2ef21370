// Combines per-shard results of one scatter read into the result a single database would give:
// concatenation, ORDER BY (stable k-way order by shard), GROUP BY with count/sum/min/max/avg
// partials, DISTINCT, OFFSET/LIMIT. Memory is bounded by maxRows (MERGE_ROW_LIMIT past it).
import { ShardgateError } from '../errors.js';
import type { MergeAggregate, MergeHaving, MergeOrder, MergeSpec } from '../router/plan.js';
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
import { runProgram } from './aggregate-program.js';
import { type Comparable, compareDecimal, compareValues, decodeCell, groupKey } from './cell-values.js';
import { evaluateSetOperation } from './set-operations.js';
import { runWindows } from './window-functions.js';

export { type Comparable, compareDecimal, decodeCell } from './cell-values.js';

export interface ColumnInfo {
  name: string;
  typeOid: number;
  format: 'text' | 'binary';
  /**
   * How text compares (ORDER BY, GROUP BY, DISTINCT, min/max): bytewise (PostgreSQL "C", MySQL
   * binary collations, the default), or a MySQL general_ci collation: ASCII case-insensitive,
   * trailing spaces ignored (PAD SPACE). 'unsupported': any other collation, refused when compared.
   */
  textCompare?: 'bytes' | 'general_ci' | 'unsupported';
  /** MySQL DECIMAL: the digits after the point the column prints. */
  scale?: number;
  /** MySQL text: the most bytes the server may print in it (longer merged text is refused). */
  maxBytes?: number;
}

export type Row = Array<Buffer | null>;

const FLOAT_TYPES = new Set([700, 701]);
const NUMERIC = 1700;

/** Two rows' ORDER BY keys (decoded cells, one per order item) compared as the merge orders them. */
export function compareSortKeys(
  a: readonly Comparable[],
  b: readonly Comparable[],
  orders: readonly MergeOrder[],
  cols: readonly ColumnInfo[],
): number {
  for (let j = 0; j < orders.length; j++) {
    const o = orders[j]!;
    const va = a[j]!;
    const vb = b[j]!;
    if (va === null || vb === null) {
      if (va === vb) continue;
      return (va === null) === o.nullsFirst ? -1 : 1;
    }
    const c = compareValues(va, vb, cols[o.column]?.typeOid === NUMERIC);
    if (c !== 0) return o.desc ? -c : c;
  }
  return 0;
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

export class ResultMerger {
  private readonly perShard: Row[][] = [];
  private held = 0;

  constructor(
    private readonly spec: MergeSpec | null,
    private readonly columns: ColumnInfo[],
    private readonly options: {
      maxRows: number;
      /** PostgreSQL: avg() as numeric with PostgreSQL's result scale (or float8), sums of the
       *  column's own type, stddev/variance; otherwise avg is left for the protocol to format. */
      postgres?: boolean;
    },
  ) {}

  /** The columns the client sees: avg's type is numeric or float8, not its partial sum's. */
  outputColumns(): ColumnInfo[] {
    const cols = this.columns.slice();
    if (this.options.postgres && this.spec) {
      for (const a of this.spec.aggregates) {
        if (a.fn === 'avg' && a.countColumn !== undefined) {
          const c = cols[a.column]!;
          cols[a.column] = { ...c, typeOid: averageType(c.typeOid) };
        }
      }
    }
    // A set operation's leaf number (the last column) is the merge's own.
    if (this.spec?.setOps) return cols.slice(0, -1);
    return this.spec?.visibleColumns != null ? cols.slice(0, this.spec.visibleColumns) : cols;
  }

  add(shardIndex: number, row: Row): void {
    if (++this.held > this.options.maxRows)
      throw new ShardgateError('MERGE_ROW_LIMIT', { limit: this.options.maxRows });
    let list = this.perShard[shardIndex];
    if (!list) this.perShard[shardIndex] = list = [];
    list.push(row);
  }

  endShard(_shardIndex: number): void {}

  finish(): Row[] {
    const spec = this.spec;
    let rows: Row[] = [];
    if (spec?.setOps) rows = evaluateSetOperation(this.perShard, spec.setOps.tree, spec.setOps.onceLeaves);
    else for (const list of this.perShard) if (list) rows.push(...list);
    if (!spec) return rows;
    if (spec.windows) rows = runWindows(rows, spec.windows, this.columns);
    if (spec.program) rows = runProgram(rows, spec.program, this.columns, spec.groupBy);
    else if (spec.aggregates.length > 0 || spec.groupBy.length > 0) rows = this.aggregate(rows, spec);
    if (spec.having) {
      const having = spec.having;
      rows = rows.filter((r) => havingHolds(having, r, this.columns) === true);
    }
    if (spec.distinct) {
      const seen = new Set<string>();
      rows = rows.filter((r) => {
        const key = r.map((c, i) => groupKey(c, this.columns[i]!)).join('\u0001');
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    }
    if (spec.orderBy.length > 0) {
      const cols = this.columns;
      const orders = spec.orderBy.map((o) =>
        o.column >= 0 ? o : { ...o, column: this.columnNamed(o.name ?? '') },
      );
      const keyed = rows.map((r, i) => ({
        r,
        i,
        k: orders.map((o) => decodeCell(r[o.column] ?? null, cols[o.column]!)),
      }));
      keyed.sort((a, b) => compareSortKeys(a.k, b.k, orders, cols) || a.i - b.i);
      rows = keyed.map((k) => k.r);
    }
    if (spec.distinctOn) rows = firstPerKey(rows, spec.distinctOn);
    const start = Math.min(spec.offset, rows.length);
    rows = spec.limit === null ? rows.slice(start) : rows.slice(start, start + spec.limit);
    if (spec.visibleColumns !== null) rows = rows.map((r) => r.slice(0, spec.visibleColumns!));
    return rows;
  }

  private aggregate(rows: Row[], spec: MergeSpec): Row[] {
    const cols = this.columns;
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
      for (const a of spec.aggregates) this.combine(a, acc, row);
    }
    const out = order.map((k) => groups.get(k)!);
    // avg = total sum / total count, written where the sum was; statistics from their partials.
    for (const a of spec.aggregates) {
      if (a.fn === 'avg' && a.countColumn !== undefined) {
        for (const row of out) this.finishAvg(a, row);
      } else if (
        a.sumColumn !== undefined &&
        a.sumSquaresColumn !== undefined &&
        a.countColumn !== undefined
      ) {
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

  /** The one column of the result called `name` (ORDER BY a column of `*`). */
  private columnNamed(name: string): number {
    const found = this.columns.flatMap((c, i) => (c.name === name ? [i] : []));
    if (found.length !== 1)
      throw new ShardgateError('SCATTER_UNSUPPORTED', {
        detail: `ORDER BY ${name} with * in the select list matches ${found.length} result columns; list the columns explicitly`,
      });
    return found[0]!;
  }

  /** Folds one shard's partial of aggregate `a` from `row` into the group's accumulator `acc`. */
  private combine(a: MergeAggregate, acc: Row, row: Row): void {
    const cols = this.columns;
    const col = cols[a.column]!;
    const x = acc[a.column] ?? null;
    const y = row[a.column] ?? null;
    const add = (i: number) => {
      acc[i] = this.sum(acc[i] ?? null, row[i] ?? null, cols[i]!);
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

  private sum(x: Buffer | null, y: Buffer | null, col: ColumnInfo): Buffer | null {
    if (!this.options.postgres) return sumCells(x, y, col);
    if (x === null) return y;
    if (y === null) return x;
    return encodeText(addPartials(cellText(x, col), cellText(y, col), col.typeOid), col);
  }

  private finishAvg(a: MergeAggregate, row: Row): void {
    const cols = this.columns;
    const sumCol = cols[a.column]!;
    const sum = cellText(row[a.column] ?? null, sumCol);
    const count = cellText(row[a.countColumn!] ?? null, cols[a.countColumn!]!);
    if (this.options.postgres) {
      const v = finishAverage(sum, count, sumCol.typeOid);
      row[a.column] = encodeText(v, { ...sumCol, typeOid: averageType(sumCol.typeOid) });
      return;
    }
    const avg = sum === null || count === null || count === '0' ? null : divideDecimal(sum, BigInt(count));
    row[a.column] = avg === null ? null : Buffer.from(avg);
  }
}

/** HAVING on a merged group: true, false or null (unknown, as SQL's three-valued logic). */
function havingHolds(e: MergeHaving, row: Row, cols: ColumnInfo[]): boolean | null {
  if (e.op === 'compare') {
    const cell = row[e.column] ?? null;
    if (cell === null || e.value === null) return null;
    const col = cols[e.column]!;
    const v = decodeCell(cell, col);
    let c: number;
    if (typeof v === 'bigint' || col.typeOid === NUMERIC) {
      if (!/^[-+]?\d+(\.\d*)?$/.test(e.value.trim()))
        throw new ShardgateError('SCATTER_UNSUPPORTED', { detail: `HAVING compared with ${e.value}` });
      c = compareDecimal(String(v), e.value.trim());
    } else if (typeof v === 'number') c = compareValues(v, Number(e.value), false);
    else c = compareValues(v, e.value, false);
    switch (e.comparison) {
      case '=':
        return c === 0;
      case '<>':
        return c !== 0;
      case '<':
        return c < 0;
      case '<=':
        return c <= 0;
      case '>':
        return c > 0;
      default:
        return c >= 0;
    }
  }
  const args = e.args.map((a) => havingHolds(a, row, cols));
  if (e.op === 'not') return args[0] === null || args[0] === undefined ? null : !args[0];
  if (e.op === 'and') return args.includes(false) ? false : args.includes(null) ? null : true;
  return args.includes(true) ? true : args.includes(null) ? null : false;
}

/** DISTINCT ON: the first row (in the merged order) of each key. */
function firstPerKey(rows: Row[], columns: number[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = columns.map((c) => (r[c] === null ? '\u0000N' : r[c]!.toString('latin1'))).join('\u0001');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
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

/** Per-shard command tags ("UPDATE 2", "INSERT 0 5") into one tag with the summed count. */
export function combineCommandTags(tags: string[]): string {
  const first = tags.find((t) => t) ?? '';
  const parts = first.split(' ');
  const verb = parts[0] ?? '';
  if (verb === 'INSERT') {
    const total = tags.reduce((n, t) => n + Number(t.split(' ')[2] ?? 0), 0);
    return `INSERT 0 ${total}`;
  }
  if (parts.length >= 2 && /^\d+$/.test(parts[parts.length - 1]!)) {
    const total = tags.reduce((n, t) => n + Number(t.split(' ').at(-1) ?? 0), 0);
    return `${parts.slice(0, -1).join(' ')} ${total}`;
  }
  return first;
}
