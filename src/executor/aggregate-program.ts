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
import { compareValues, decodeCell } from './cell-values.js';
import { formatDecimal, parseDecimal } from './decimal.js';
import type { ColumnInfo, Row } from './merger.js';
import { ARRAY_ELEMENT_TYPES, type ArrayElement, formatArrayText, parseArrayText } from './pg-array-text.js';
import { type Expr, evaluate } from './program-eval.js';
import { typeOfOid, unsupported, type Value, valueFromText, valueText } from './program-values.js';

export interface ResolvedProgram {
  outputs: Array<Expr | null>;
  having: Expr | null;
  partials: Array<ProgramPartial<string | null>>;
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
  const groups = new Map<string, GroupState>();
  for (const row of rows) {
    const key = groupBy.map((g) => (row[g] === null ? '\u0000N' : row[g]!.toString('latin1'))).join('\u0001');
    let state = groups.get(key);
    if (!state) {
      state = { row: row.slice(), distinct: new Map(), pieces: new Map() };
      groups.set(key, state);
      // The first row is the accumulator; only its DISTINCT sets and ordered pieces take it in.
      for (let i = 0; i < program.partials.length; i++)
        if (startCollection(state, program.partials[i]!, i))
          combine(state, program.partials[i]!, i, row, columns);
      continue;
    }
    for (let i = 0; i < program.partials.length; i++) combine(state, program.partials[i]!, i, row, columns);
  }
  const out: Row[] = [];
  for (const state of groups.values()) {
    const cache = new Map<number, Value>();
    const partial = (i: number): Value => {
      let v = cache.get(i);
      if (!v) cache.set(i, (v = finish(state, program.partials[i]!, i, columns)));
      return v;
    };
    if (program.having) {
      const keep = evaluate(program.having, partial);
      if (keep.v !== true) continue;
    }
    const row: Row = state.row.slice(0, program.outputs.length);
    program.outputs.forEach((e, c) => {
      if (e === null) return;
      row[c] = encode(evaluate(e, partial), columns[c]!);
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
): void {
  const elementOid = ARRAY_ELEMENT_TYPES.get(col.typeOid);
  if (elementOid === undefined) throw unsupported(`a DISTINCT aggregate over arrays of type ${col.typeOid}`);
  for (const e of parseArrayText(text(cell) ?? '{}')) {
    if (e.value === null && !keepNull) continue; // count/sum/avg(DISTINCT) skip NULLs
    const k = e.value === null ? '\u0000N' : equalityKey(e.value, elementOid);
    if (!set.has(k)) set.set(k, e);
  }
}

function addPiece(list: OrderedPiece[], p: { values: number; keys: number[] }, row: Row): void {
  const values = text(row[p.values] ?? null);
  if (values === null) return; // a shard without rows in this group
  const piece = {
    values: parseArrayText(values),
    keys: p.keys.map((k) => parseArrayText(text(row[k] ?? null) ?? '{}')),
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
      addDistinct(state.distinct.get(i)!, row[p.values] ?? null, columns[p.values]!, p.of === 'array_agg');
      return;
    case 'array_agg':
    case 'string_agg':
      addPiece(state.pieces.get(i)!, p, row);
      return;
  }
}

function finish(
  state: GroupState,
  p: ProgramPartial<string | null>,
  i: number,
  columns: ColumnInfo[],
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
      const sumType = columns[p.sum]!.typeOid;
      return valueFromText(finishAverage(cell(p.sum), cell(p.count), sumType), averageType(sumType));
    }
    case 'stat': {
      const type = columns[p.type]!.typeOid;
      return valueFromText(
        finishStatistic(p.stat, cell(p.count), cell(p.sum), cell(p.sumSquares), type === FLOAT8),
        type,
      );
    }
    case 'distinct': {
      const set = [...state.distinct.get(i)!.values()];
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
      const merged = mergePieces(
        state.pieces.get(i)!,
        p.order,
        p.keys.map((k) => ARRAY_ELEMENT_TYPES.get(columns[k]!.typeOid)),
      );
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
  keyTypes: Array<number | undefined>,
): ArrayElement[] | null {
  if (pieces.length === 0) return null;
  if (order.length === 0) return pieces.flatMap((p) => p.values);
  if (keyTypes.some((t) => t === undefined))
    throw unsupported('an aggregate ORDER BY key of a type the proxy cannot compare');
  const cols = keyTypes.map((t) => ({ name: '', typeOid: t!, format: 'text' as const }));
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
