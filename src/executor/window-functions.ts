// Window functions evaluated at the proxy over the gathered rows of every shard, for windows
// whose partitions span shards: rows are grouped by their PARTITION BY values, sorted by the
// window's ORDER BY (stable, by arrival among peers), and each function is computed with
// PostgreSQL's default frame (RANGE UNBOUNDED PRECEDING to the current row and its peers; the
// whole partition without ORDER BY). Values come from the hidden columns the shards returned.
import type { WindowOutput, WindowProgram } from '../sql/pg-window-program.js';
import { addPartials, averageType, finishAverage } from './aggregate-partials.js';
import { compareValues, decodeCell, groupKey } from './cell-values.js';
import { divDecimals, formatDecimal, parseDecimal, roundDecimal } from './decimal.js';
import { unsupported } from './program-values.js';
import type { ColumnInfo, Row } from './rows.js';

/** Rows of one partition have equal keys (text under its column's collation, as groupKey). */
function keyOf(row: Row, partition: number[], columns: ColumnInfo[]): string {
  return partition.map((c) => groupKey(row[c] ?? null, columns[c]!)).join('\u0001');
}

function text(cell: Buffer | null | undefined): string | null {
  return cell == null ? null : cell.toString('utf8');
}

export function runWindows(rows: Row[], program: WindowProgram, columns: ColumnInfo[]): Row[] {
  if (columns.some((c) => c.format !== 'text'))
    throw unsupported(
      'window functions computed by the proxy in binary result format (request text results)',
    );
  const out = rows.map((r) => r.slice());
  program.outputs.forEach((w, column) => {
    if (w) evaluateWindow(out, w, column, columns);
  });
  return out;
}

function evaluateWindow(rows: Row[], w: WindowOutput, column: number, columns: ColumnInfo[]): void {
  const partitions = new Map<string, Row[]>();
  for (const row of rows) {
    const key = keyOf(row, w.partition, columns);
    let p = partitions.get(key);
    if (!p) partitions.set(key, (p = []));
    p.push(row);
  }
  const compare = (a: Row, b: Row): number => {
    for (const o of w.order) {
      const col = columns[o.column]!;
      const x = decodeCell(a[o.column] ?? null, col);
      const y = decodeCell(b[o.column] ?? null, col);
      if (x === null || y === null) {
        if (x === y) continue;
        return (x === null) === o.nullsFirst ? -1 : 1;
      }
      const c = compareValues(x, y, col.typeOid === 1700);
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  };
  for (const part of partitions.values()) {
    const sorted = part
      .map((r, i) => ({ r, i }))
      .sort((a, b) => compare(a.r, b.r) || a.i - b.i)
      .map((x) => x.r);
    // Peer groups: rows equal on the ORDER BY share rank and frame end.
    const peerEnd: number[] = new Array(sorted.length);
    for (let i = sorted.length - 1; i >= 0; i--)
      peerEnd[i] = i + 1 < sorted.length && compare(sorted[i]!, sorted[i + 1]!) === 0 ? peerEnd[i + 1]! : i;
    let rank = 0;
    let dense = 0;
    let running = 0;
    const acc = windowAccumulator(w, columns, columns[column]!);
    for (let i = 0; i < sorted.length; i++) {
      const row = sorted[i]!;
      const firstOfPeers = i === 0 || compare(sorted[i - 1]!, row) !== 0;
      if (firstOfPeers) {
        rank = i + 1;
        dense++;
      }
      let value: string | null;
      switch (w.fn) {
        case 'row_number':
          value = String(i + 1);
          break;
        case 'rank':
          value = String(rank);
          break;
        case 'dense_rank':
          value = String(dense);
          break;
        case 'lag':
        case 'lead': {
          const offset = w.args[1] === undefined ? 1 : Number(text(row[w.args[1]]));
          const j = w.fn === 'lag' ? i - offset : i + offset;
          value =
            j >= 0 && j < sorted.length
              ? text(sorted[j]![w.args[0]!])
              : w.args[2] === undefined
                ? null
                : text(row[w.args[2]]);
          break;
        }
        default: {
          // Aggregates: the frame ends at the last peer (the whole partition without ORDER BY).
          const end = w.order.length === 0 ? sorted.length - 1 : peerEnd[i]!;
          while (running <= end) acc.add(sorted[running++]!);
          value = acc.value();
        }
      }
      row[column] = value === null ? null : Buffer.from(value);
    }
  }
}

interface Accumulator {
  add(row: Row): void;
  value(): string | null;
}

/**
 * `out` is the window's own result column: on MySQL a DECIMAL sum / avg prints exactly its
 * `scale` digits (avg divided to that scale, rounded half away from zero, as MariaDB does).
 */
function windowAccumulator(w: WindowOutput, columns: ColumnInfo[], out: ColumnInfo): Accumulator {
  const arg = w.args[0];
  const argCol = arg === undefined ? null : columns[arg]!;
  let count = 0n;
  let sum: string | null = null;
  let best: Buffer | null = null;
  // MySQL text (a known collation) has min/max only; PostgreSQL keeps sumOid's type check.
  const sums = w.fn === 'sum' || w.fn === 'avg' || argCol?.textCompare === undefined;
  const sumType = argCol && sums ? sumOid(argCol.typeOid) : 20;
  const mysqlDecimal = out.typeOid === 1700 && out.scale !== undefined && sumType === 1700;
  return {
    add(row) {
      const cell = arg === undefined ? Buffer.from('1') : (row[arg] ?? null);
      if (cell === null) return;
      count++;
      if (w.fn === 'sum' || w.fn === 'avg') sum = addPartials(sum, cell.toString('utf8'), sumType);
      if ((w.fn === 'min' || w.fn === 'max') && argCol) {
        if (best === null) best = cell;
        else {
          const c = compareValues(
            decodeCell(best, argCol),
            decodeCell(cell, argCol),
            argCol.typeOid === 1700,
          );
          if ((w.fn === 'min' && c > 0) || (w.fn === 'max' && c < 0)) best = cell;
        }
      }
    },
    value() {
      switch (w.fn) {
        case 'count':
          return String(count);
        case 'sum':
          return sum !== null && mysqlDecimal
            ? formatDecimal(roundDecimal(parseDecimal(sum), out.scale!))
            : sum;
        case 'avg':
          if (sum !== null && mysqlDecimal)
            return formatDecimal(divDecimals(parseDecimal(sum), { units: count, scale: 0 }, out.scale!));
          averageType(sumType);
          return finishAverage(sum, String(count), sumType);
        default:
          return best === null ? null : (best as Buffer).toString('utf8');
      }
    },
  };
}

/** sum()'s result type for an argument type (int2/int4 -> int8, int8 -> numeric, others keep). */
function sumOid(oid: number): number {
  if (oid === 21 || oid === 23) return 20;
  if (oid === 20) return 1700;
  if (oid === 700 || oid === 701 || oid === 1700) return oid;
  throw unsupported(`sum() over a window of type ${oid}`);
}
