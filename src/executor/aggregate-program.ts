// Runs an aggregate program over per-shard rows: groups them by the group-key columns, combines
// each aggregate's hidden partial columns (sums add, min/max compare, DISTINCT value sets unite,
// ordered array_agg/string_agg lists merge by their ORDER BY keys), then evaluates every output
// expression and HAVING over the combined values (program-eval.ts). Output cells take the type
// each shard reported for the column; a value of another type is refused, never printed wrongly.

import type { ProgramPartial } from '../sql/pg-aggregate-program.js';
import {
  addPartials,
  averageType,
  FLOAT8,
  finishAverage,
  finishStatistic,
  foldBooleans,
} from './aggregate-partials.js';
import { compareValues, decodeCell, groupKey } from './cell-values.js';
import { formatDecimal, parseDecimal } from './decimal.js';
import { averageMysql, encodeMysqlCell, parseJsonArray } from './mysql-values.js';
import { ARRAY_ELEMENT_TYPES, type ArrayElement, formatArrayText, parseArrayText } from './pg-array-text.js';
import { type Expr, evaluate } from './program-eval.js';
import { typeOfOid, unsupported, type Value, valueFromText, valueText } from './program-values.js';
import type { ColumnInfo, Row } from './rows.js';

export interface ResolvedProgram {
  outputs: Array<Expr | null>;
  having: Expr | null;
  partials: Array<ProgramPartial<string | null>>;
  dialect?: 'postgres' | 'mysql';
}

interface OrderedPiece {
  values: ArrayElement[];
  keys: ArrayElement[][];
}

/** One group's accumulated partials: cells for the column-wise ones, sets and lists otherwise. */
interface GroupState {
  row: Row;
  distinct: Map<number, Map<string, ArrayElement>>;
  pieces: Map<number, OrderedPiece[]>;
}

function text(cell: Buffer | null): string | null {
  return cell === null ? null : cell.toString('utf8');
}

/** The key under which equal values of a type compare equal (1.50 = 1.5 in numeric). */
function equalityKey(value: string, elementOid: number): string {
  const t = typeOfOid(elementOid);
  if (t === 'numeric' && value !== 'NaN') {
    const d = parseDecimal(value);
    let { units, scale } = d;
    while (scale > 0 && units % 10n === 0n) {
      units /= 10n;
      scale--;
    }
    return formatDecimal({ units, scale });
  }
  if (t === 'float4' || t === 'float8') return String(Number(value) === 0 ? 0 : Number(value));
  return value;
}

export function runProgram(
  rows: Row[],
  program: ResolvedProgram,
  columns: ColumnInfo[],
  groupBy: number[],
): Row[] {
  if (columns.some((c) => c.format !== 'text'))
    throw unsupported('aggregates computed by the proxy in binary result format (request text results)');
  const mysql = program.dialect === 'mysql';
  const groups = new Map<string, GroupState>();
  for (const row of rows) {
    // Equal under the column's collation: one group (MySQL general_ci: 'a' and 'A').
    const key = groupBy.map((g) => groupKey(row[g] ?? null, columns[g]!)).join('\u0001');
    let state = groups.get(key);
    if (!state) {
      state = { row: row.slice(), distinct: new Map(), pieces: new Map() };
      groups.set(key, state);
      // The first row is the accumulator; only its DISTINCT sets and ordered pieces take it in.
      for (let i = 0; i < program.partials.length; i++)
        if (startCollection(state, program.partials[i]!, i))
          combine(state, program.partials[i]!, i, row, columns, mysql);
      continue;
    }
    for (let i = 0; i < program.partials.length; i++)
      combine(state, program.partials[i]!, i, row, columns, mysql);
  }
  const out: Row[] = [];
  for (const state of groups.values()) {
    const cache = new Map<number, Value>();
    const partial = (i: number): Value => {
      let v = cache.get(i);
      if (!v) cache.set(i, (v = finish(state, program.partials[i]!, i, columns, mysql)));
      return v;
    };
    if (program.having) {
      const keep = evaluate(program.having, partial, program.dialect);
      if (keep.v !== true) continue;
    }
    const row: Row = state.row.slice(0, program.outputs.length);
    program.outputs.forEach((e, c) => {
      if (e === null) return;
      const v = evaluate(e, partial, program.dialect);
      row[c] = mysql ? encodeMysqlCell(v, columns[c]!) : encode(v, columns[c]!);
    });
    out.push(row);
  }
  return out;
}

/** An empty DISTINCT set or list of ordered pieces for partial `i`; false when it has none. */
function startCollection(state: GroupState, p: ProgramPartial<string | null>, i: number): boolean {
  if (p.fn === 'distinct') state.distinct.set(i, new Map());
  else if (p.fn === 'array_agg' || p.fn === 'string_agg') state.pieces.set(i, []);
  else return false;
  return true;
}

function addDistinct(
  set: Map<string, ArrayElement>,
  cell: Buffer | null,
  col: ColumnInfo,
  keepNull: boolean,
  mysqlElement: ColumnInfo | null,
): void {
  if (mysqlElement) {
    // JSON_ARRAYAGG(DISTINCT x): equal under x's type and collation (typed by MIN(x)).
    for (const e of parseJsonArray(text(cell) ?? '[]')) {
      if (e.value === null) continue;
      const k =
        mysqlElement.typeOid === 25 ? groupKey(Buffer.from(e.value), mysqlElement) : numberKey(e.value);
      if (!set.has(k)) set.set(k, e);
    }
    return;
  }
  const elementOid = ARRAY_ELEMENT_TYPES.get(col.typeOid);
  if (elementOid === undefined) throw unsupported(`a DISTINCT aggregate over arrays of type ${col.typeOid}`);
  for (const e of parseArrayText(text(cell) ?? '{}')) {
    if (e.value === null && !keepNull) continue; // count/sum/avg(DISTINCT) skip NULLs
    const k = e.value === null ? '\u0000N' : equalityKey(e.value, elementOid);
    if (!set.has(k)) set.set(k, e);
  }
}

/** A number's text in a canonical form (1.50 and 1.5 alike). */
function numberKey(value: string): string {
  if (!/^-?\d+(\.\d+)?$/.test(value)) return String(Number(value));
  return equalityKey(value, 1700);
}

function addPiece(
  list: OrderedPiece[],
  p: { values: number; keys: number[] },
  row: Row,
  mysql: boolean,
): void {
  const values = text(row[p.values] ?? null);
  if (values === null) return; // a shard without rows in this group
  const parse = mysql ? parseJsonArray : parseArrayText;
  const piece = {
    values: parse(values),
    keys: p.keys.map((k) => parse(text(row[k] ?? null) ?? (mysql ? '[]' : '{}'))),
  };
  if (piece.keys.some((k) => k.length !== piece.values.length))
    throw unsupported('array_agg keys and values of different lengths');
  list.push(piece);
}

function combine(
  state: GroupState,
  p: ProgramPartial<string | null>,
  i: number,
  row: Row,
  columns: ColumnInfo[],
  mysql: boolean,
): void {
  const acc = state.row;
  const add = (c: number) => {
    const t = addPartials(text(acc[c] ?? null), text(row[c] ?? null), columns[c]!.typeOid);
    acc[c] = t === null ? null : Buffer.from(t);
  };
  switch (p.fn) {
    case 'count':
    case 'sum':
      add(p.column);
      return;
    case 'avg':
      add(p.sum);
      add(p.count);
      return;
    case 'stat':
      add(p.count);
      add(p.sum);
      add(p.sumSquares);
      return;
    case 'min':
    case 'max': {
      const col = columns[p.column]!;
      const x = acc[p.column] ?? null;
      const y = row[p.column] ?? null;
      if (y === null) return;
      if (x === null) acc[p.column] = y;
      else {
        const c = compareValues(decodeCell(x, col), decodeCell(y, col), col.typeOid === 1700);
        if ((p.fn === 'min' && c > 0) || (p.fn === 'max' && c < 0)) acc[p.column] = y;
      }
      return;
    }
    case 'bool_and':
    case 'bool_or': {
      const v = foldBooleans(text(acc[p.column] ?? null), text(row[p.column] ?? null), p.fn === 'bool_and');
      acc[p.column] = v === null ? null : Buffer.from(v);
      return;
    }
    case 'value':
      return;
    case 'distinct':
      addDistinct(
        state.distinct.get(i)!,
        row[p.values] ?? null,
        columns[p.values]!,
        p.of === 'array_agg',
        mysql ? columns[p.valueType ?? p.values]! : null,
      );
      return;
    case 'array_agg':
    case 'string_agg':
      addPiece(state.pieces.get(i)!, p, row, mysql);
      return;
  }
}

function finish(
  state: GroupState,
  p: ProgramPartial<string | null>,
  i: number,
  columns: ColumnInfo[],
  mysql: boolean,
): Value {
  const row = state.row;
  const cell = (c: number) => text(row[c] ?? null);
  switch (p.fn) {
    case 'count':
    case 'sum':
    case 'min':
    case 'max':
    case 'bool_and':
    case 'bool_or':
    case 'value':
      return valueFromText(cell(p.column), columns[p.column]!.typeOid);
    case 'avg': {
      if (mysql) return averageMysql(cell(p.sum), cell(p.count), columns[p.sum]!);
      const sumType = columns[p.sum]!.typeOid;
      return valueFromText(finishAverage(cell(p.sum), cell(p.count), sumType), averageType(sumType));
    }
    case 'stat': {
      if (mysql) {
        // MySQL's statistics are DOUBLE: the exact value, as the nearest double.
        const exact = finishStatistic(p.stat, cell(p.count), cell(p.sum), cell(p.sumSquares), false);
        return { type: 'float8', v: exact === null ? null : Number(exact) };
      }
      const type = columns[p.type]!.typeOid;
      return valueFromText(
        finishStatistic(p.stat, cell(p.count), cell(p.sum), cell(p.sumSquares), type === FLOAT8),
        type,
      );
    }
    case 'distinct': {
      const set = [...state.distinct.get(i)!.values()];
      if (mysql) {
        if (p.of !== 'count') throw unsupported(`${p.of}(DISTINCT ...) across MySQL shards`);
        return { type: 'int8', v: BigInt(set.length) };
      }
      const elementOid = ARRAY_ELEMENT_TYPES.get(columns[p.values]!.typeOid)!;
      if (p.of === 'count') return { type: 'int8', v: BigInt(set.length) };
      if (p.of === 'array_agg') {
        // PostgreSQL sorts to deduplicate: ascending, NULL last.
        const col = { name: '', typeOid: elementOid, format: 'text' as const };
        set.sort((a, b) =>
          a.value === null || b.value === null
            ? (a.value === null ? 1 : 0) - (b.value === null ? 1 : 0)
            : compareValues(
                decodeCell(Buffer.from(a.value), col),
                decodeCell(Buffer.from(b.value), col),
                elementOid === 1700,
              ),
        );
        return {
          type: 'other',
          oid: columns[p.values]!.typeOid,
          v: set.length === 0 ? null : formatArrayText(set),
        };
      }
      const resultOid = columns[p.type]!.typeOid;
      if (set.length === 0) return valueFromText(null, resultOid);
      // Sum in the result type of sum() (avg: of the sum's type, then divided).
      const sumOid = p.of === 'sum' ? resultOid : sumTypeFor(elementOid);
      let sum: string | null = null;
      for (const e of set) sum = addPartials(sum, e.value, sumOid);
      if (p.of === 'sum') return valueFromText(sum, resultOid);
      return valueFromText(finishAverage(sum, String(set.length), sumOid), resultOid);
    }
    case 'array_agg':
    case 'string_agg': {
      const keyColumns = p.keyTypes
        ? p.keyTypes.map((k) => columns[k]!)
        : p.keys.map((k) => {
            const oid = ARRAY_ELEMENT_TYPES.get(columns[k]!.typeOid);
            return oid === undefined ? undefined : { name: '', typeOid: oid, format: 'text' as const };
          });
      let merged = mergePieces(state.pieces.get(i)!, p.order, keyColumns);
      if (p.distinct && merged) merged = dropRepeats(merged, keyColumns[0]!);
      if (p.fn === 'array_agg') {
        const oid = columns[p.values]!.typeOid;
        return { type: 'other', oid, v: merged === null ? null : formatArrayText(merged) };
      }
      const values = (merged ?? []).filter((e) => e.value !== null);
      if (values.length === 0) return { type: 'text', v: null };
      return { type: 'text', v: values.map((e) => e.value).join(p.delimiter ?? '') };
    }
  }
}

/** sum()'s result type for an argument type (int2/int4 -> int8, int8 -> numeric, floats keep). */
function sumTypeFor(oid: number): number {
  if (oid === 21 || oid === 23) return 20;
  if (oid === 20) return 1700;
  return oid;
}

/** Merges per-shard sorted lists into one, stable by shard order among equal keys; null if none. */
function mergePieces(
  pieces: OrderedPiece[],
  order: Array<{ desc: boolean; nullsFirst: boolean }>,
  keyColumns: Array<ColumnInfo | undefined>,
): ArrayElement[] | null {
  if (pieces.length === 0) return null;
  if (order.length === 0) return pieces.flatMap((p) => p.values);
  if (keyColumns.some((t) => t === undefined))
    throw unsupported('an aggregate ORDER BY key of a type the proxy cannot compare');
  const cols = keyColumns as ColumnInfo[];
  const compare = (a: OrderedPiece, i: number, b: OrderedPiece, j: number): number => {
    for (let k = 0; k < order.length; k++) {
      const o = order[k]!;
      const x = a.keys[k]![i]!.value;
      const y = b.keys[k]![j]!.value;
      if (x === null || y === null) {
        if (x === y) continue;
        return (x === null) === o.nullsFirst ? -1 : 1;
      }
      const col = cols[k]!;
      const c = compareValues(
        decodeCell(Buffer.from(x), col),
        decodeCell(Buffer.from(y), col),
        col.typeOid === 1700,
      );
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  };
  const at = pieces.map(() => 0);
  const out: ArrayElement[] = [];
  for (;;) {
    let best = -1;
    for (let s = 0; s < pieces.length; s++) {
      if (at[s]! >= pieces[s]!.values.length) continue;
      if (best < 0 || compare(pieces[s]!, at[s]!, pieces[best]!, at[best]!) < 0) best = s;
    }
    if (best < 0) return out;
    out.push(pieces[best]!.values[at[best]!]!);
    at[best]!++;
  }
}

/** GROUP_CONCAT(DISTINCT x ORDER BY x): after the merge equal values are neighbours; keep one. */
function dropRepeats(list: ArrayElement[], col: ColumnInfo): ArrayElement[] {
  const out: ArrayElement[] = [];
  let last: string | null = null;
  for (const e of list) {
    if (e.value === null) continue;
    const k = col.typeOid === 25 ? groupKey(Buffer.from(e.value), col) : numberKey(e.value);
    if (k === last) continue;
    last = k;
    out.push(e);
  }
  return out;
}

/** A computed value as a cell of the column the shards described; another type is refused. */
function encode(v: Value, col: ColumnInfo): Buffer | null {
  const want = typeOfOid(col.typeOid);
  const ints = ['int2', 'int4', 'int8'];
  const same =
    v.type === want ||
    (ints.includes(v.type) && ints.includes(want)) ||
    (v.type === 'other' && v.oid === col.typeOid) ||
    v.v === null;
  if (!same)
    throw unsupported(
      `the proxy computed a ${v.type === 'other' ? `type ${v.oid}` : v.type} value where PostgreSQL answers type ${col.typeOid}; compute it in the application`,
    );
  if (ints.includes(v.type) && ints.includes(want) && v.v !== null) {
    const n = v.v as bigint;
    const limit = want === 'int2' ? 32767n : want === 'int4' ? 2147483647n : 9223372036854775807n;
    if (n > limit || n < -limit - 1n) throw unsupported(`an ${want} result out of range`);
  }
  const t = valueText(v);
  return t === null ? null : Buffer.from(t);
}
