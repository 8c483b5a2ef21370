// Typed values the proxy computes with when it evaluates expressions over merged aggregates, and
// PostgreSQL's rules for them: integer widths with overflow errors, numeric with its scale rules,
// float4/float8, operator result types, and the text each type prints as.
import { ShardgateError } from '../errors.js';
import { type Decimal, formatDecimal, parseDecimal } from './decimal.js';
import { float4Text, float8Text } from './pg-float-text.js';

export type ValueType =
  | 'int2'
  | 'int4'
  | 'int8'
  | 'numeric'
  | 'float4'
  | 'float8'
  | 'bool'
  | 'text'
  | 'other';

export type Value =
  | { type: 'int2' | 'int4' | 'int8'; v: bigint | null }
  | { type: 'numeric'; v: Decimal | 'NaN' | null }
  | { type: 'float4' | 'float8'; v: number | null }
  | { type: 'bool'; v: boolean | null }
  | { type: 'text'; v: string | null }
  /** Anything else (dates, arrays): passed through as the server's text, never computed with. */
  | { type: 'other'; oid: number; v: string | null };

const OID_TYPES: Record<number, ValueType> = {
  21: 'int2',
  23: 'int4',
  20: 'int8',
  1700: 'numeric',
  700: 'float4',
  701: 'float8',
  16: 'bool',
  25: 'text',
  1043: 'text',
  19: 'text',
};

export const TYPE_OIDS: Record<Exclude<ValueType, 'other'>, number> = {
  int2: 21,
  int4: 23,
  int8: 20,
  numeric: 1700,
  float4: 700,
  float8: 701,
  bool: 16,
  text: 25,
};

export function typeOfOid(oid: number): ValueType {
  return OID_TYPES[oid] ?? 'other';
}

export function unsupported(detail: string): ShardgateError {
  return new ShardgateError('SCATTER_UNSUPPORTED', { detail });
}

const INT_RANGE: Record<'int2' | 'int4' | 'int8', [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};

export function checkedInt(type: 'int2' | 'int4' | 'int8', v: bigint): Value {
  const [lo, hi] = INT_RANGE[type];
  if (v < lo || v > hi)
    throw new ShardgateError('MERGED_VALUE_OUT_OF_RANGE', {
      type: type === 'int2' ? 'smallint' : type === 'int4' ? 'integer' : 'bigint',
    });
  return { type, v };
}

/** A server's text of type `oid` as a value. */
export function valueFromText(text: string | null, oid: number): Value {
  const type = typeOfOid(oid);
  switch (type) {
    case 'int2':
    case 'int4':
    case 'int8':
      return { type, v: text === null ? null : BigInt(text) };
    case 'numeric':
      return { type, v: text === null ? null : text === 'NaN' ? 'NaN' : parseDecimal(text) };
    case 'float4':
    case 'float8':
      return { type, v: text === null ? null : text === 'NaN' ? Number.NaN : Number(text) };
    case 'bool':
      return { type, v: text === null ? null : text === 't' };
    case 'text':
      return { type, v: text };
    default:
      return { type: 'other', oid, v: text };
  }
}

export function nullOf(type: ValueType, oid = 0): Value {
  return type === 'other' ? { type, oid, v: null } : ({ type, v: null } as Value);
}

/** The text PostgreSQL prints for a value; null for NULL. */
export function valueText(x: Value): string | null {
  if (x.v === null) return null;
  switch (x.type) {
    case 'int2':
    case 'int4':
    case 'int8':
      return x.v.toString();
    case 'numeric':
      return x.v === 'NaN' ? 'NaN' : formatDecimal(x.v);
    case 'float4':
      return float4Text(x.v);
    case 'float8':
      return float8Text(x.v);
    case 'bool':
      return x.v ? 't' : 'f';
    default:
      return x.v;
  }
}

const NUMERIC_RANK: Partial<Record<ValueType, number>> = {
  int2: 1,
  int4: 2,
  int8: 3,
  numeric: 4,
  float4: 5,
  float8: 6,
};

/**
 * The type two numbers are computed in (PostgreSQL's operators and coalesce/greatest resolution
 * for the numeric category: the wider integer, numeric over integers, float8 over the rest).
 * float4 mixed with another type is left to PostgreSQL: refused.
 */
export function commonNumericType(a: ValueType, b: ValueType): ValueType {
  const ra = NUMERIC_RANK[a];
  const rb = NUMERIC_RANK[b];
  if (ra === undefined || rb === undefined) {
    if (a === b && (a === 'text' || a === 'bool')) return a;
    throw unsupported(`an expression mixing ${a} and ${b} over merged aggregates`);
  }
  if ((a === 'float4') !== (b === 'float4')) {
    if (a === 'float4' && b === 'float8') return 'float8';
    if (b === 'float4' && a === 'float8') return 'float8';
    throw unsupported('float4 mixed with another type over merged aggregates (cast it to float8)');
  }
  return ra >= rb ? a : b;
}

/** Converts a number to a wider (or equal) numeric type without rounding. */
export function widen(x: Value, to: ValueType): Value {
  if (x.type === to) return x;
  if (x.v === null) return nullOf(to);
  switch (to) {
    case 'int2':
    case 'int4':
    case 'int8':
      if (x.type === 'int2' || x.type === 'int4' || x.type === 'int8') return checkedInt(to, x.v);
      break;
    case 'numeric':
      if (x.type === 'int2' || x.type === 'int4' || x.type === 'int8')
        return { type: 'numeric', v: { units: x.v, scale: 0 } };
      break;
    case 'float4':
    case 'float8': {
      const n =
        x.type === 'numeric'
          ? x.v === 'NaN'
            ? Number.NaN
            : Number(formatDecimal(x.v))
          : typeof x.v === 'bigint'
            ? Number(x.v)
            : typeof x.v === 'number'
              ? x.v
              : null;
      if (n !== null) return { type: to, v: to === 'float4' ? Math.fround(n) : n };
      break;
    }
    default:
      break;
  }
  throw unsupported(`${x.type} used as ${to} over merged aggregates`);
}
