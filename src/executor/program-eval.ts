// Evaluates an expression over merged aggregate values as PostgreSQL would: arithmetic and
// comparisons with PostgreSQL's result types, round/trunc/abs/ceil/floor, coalesce/nullif/
// greatest/least, casts, AND/OR/NOT and IS [NOT] NULL, with SQL's NULL rules. Anything outside
// this set is refused when the statement is planned (src/sql/pg-aggregate-program.ts).
import { ShardgateError } from '../errors.js';
import type { ProgramExpr } from '../sql/pg-aggregate-program.js';
import {
  addDecimals,
  compareDecimals,
  type Decimal,
  divDecimals,
  mulDecimals,
  parseDecimal,
  roundDecimal,
  subDecimals,
} from './decimal.js';
import { divideMysql } from './mysql-values.js';
import {
  checkedInt,
  commonNumericType,
  nullOf,
  unsupported,
  type Value,
  type ValueType,
  valueText,
  widen,
} from './program-values.js';

export type Expr = ProgramExpr<string | null>;

const isInt = (t: ValueType): t is 'int2' | 'int4' | 'int8' => t === 'int2' || t === 'int4' || t === 'int8';
const isFloat = (t: ValueType): t is 'float4' | 'float8' => t === 'float4' || t === 'float8';

function constant(value: string | null, literal: string, mysql: boolean): Value {
  if (literal === 'null' || value === null) return { type: 'text', v: null };
  // MySQL: a number without a point or exponent is a BIGINT, else an exact DECIMAL.
  if (mysql && literal === 'num') {
    if (/^[-+]?\d+$/.test(value.trim())) return checkedInt('int8', BigInt(value.trim()));
    if (!/^[-+]?\d*\.\d+$/.test(value.trim()))
      throw unsupported(`the number ${value} over merged aggregates`);
  }
  if (literal === 'bool') return { type: 'bool', v: value === 't' };
  if (literal === 'int') {
    const n = BigInt(value);
    if (n >= -2147483648n && n <= 2147483647n) return { type: 'int4', v: n };
    if (n >= -9223372036854775808n && n <= 9223372036854775807n) return { type: 'int8', v: n };
    return { type: 'numeric', v: parseDecimal(value) };
  }
  if (literal === 'num') return { type: 'numeric', v: parseDecimal(value) };
  return { type: 'text', v: value };
}

/** A NULL literal or an untyped string takes the type of the other operand. */
function adapt(x: Value, other: Value, literal: boolean): Value {
  if (!literal || x.type !== 'text' || other.type === 'text') return x;
  if (x.v === null) return nullOf(other.type);
  return castTo(x, other.type, []);
}

function compareNumbers(a: Value, b: Value): number {
  const t = commonNumericType(a.type, b.type);
  const x = widen(a, t);
  const y = widen(b, t);
  if (isInt(t)) return x.v! < y.v! ? -1 : x.v! > y.v! ? 1 : 0;
  if (t === 'numeric') {
    const p = x.v as Decimal | 'NaN';
    const q = y.v as Decimal | 'NaN';
    if (p === 'NaN' || q === 'NaN') return p === q ? 0 : p === 'NaN' ? 1 : -1;
    return compareDecimals(p, q);
  }
  if (isFloat(t)) {
    const p = x.v as number;
    const q = y.v as number;
    if (Number.isNaN(p) || Number.isNaN(q)) return Number.isNaN(p) ? (Number.isNaN(q) ? 0 : 1) : -1;
    return p < q ? -1 : p > q ? 1 : 0;
  }
  if (t === 'bool') return a.v === b.v ? 0 : a.v ? 1 : -1;
  const s = String(a.v);
  const u = String(b.v);
  return s < u ? -1 : s > u ? 1 : 0;
}

function arithmetic(op: string, a: Value, b: Value, mysql: boolean): Value {
  if (op === '||') {
    if (a.v === null || b.v === null) return { type: 'text', v: null };
    return { type: 'text', v: `${valueText(a)}${valueText(b)}` };
  }
  const t = commonNumericType(a.type, b.type);
  if (!isInt(t) && t !== 'numeric' && !isFloat(t)) throw unsupported(`${t} ${op} over merged aggregates`);
  if (mysql && (op === '/' || op === '%')) return mysqlDivision(op, a, b, t);
  if (a.v === null || b.v === null) return nullOf(t);
  const x = widen(a, t);
  const y = widen(b, t);
  if (isInt(t)) {
    const p = x.v as bigint;
    const q = y.v as bigint;
    if ((op === '/' || op === '%') && q === 0n) throw new ShardgateError('MERGED_DIVISION_BY_ZERO');
    const r = op === '+' ? p + q : op === '-' ? p - q : op === '*' ? p * q : op === '/' ? p / q : p % q;
    return checkedInt(t, r);
  }
  if (t === 'numeric') {
    const p = x.v as Decimal | 'NaN';
    const q = y.v as Decimal | 'NaN';
    if (p === 'NaN' || q === 'NaN') return { type: 'numeric', v: 'NaN' };
    if (op === '%') throw unsupported('numeric % over merged aggregates');
    if (op === '/' && q.units === 0n) throw new ShardgateError('MERGED_DIVISION_BY_ZERO');
    const r =
      op === '+'
        ? addDecimals(p, q)
        : op === '-'
          ? subDecimals(p, q)
          : op === '*'
            ? mulDecimals(p, q)
            : divDecimals(p, q);
    return { type: 'numeric', v: r };
  }
  const p = x.v as number;
  const q = y.v as number;
  if (op === '%') throw unsupported('float % over merged aggregates');
  if (op === '/' && q === 0) throw new ShardgateError('MERGED_DIVISION_BY_ZERO');
  let r = op === '+' ? p + q : op === '-' ? p - q : op === '*' ? p * q : p / q;
  if (t === 'float4') r = Math.fround(r);
  if (!Number.isFinite(r) && Number.isFinite(p) && Number.isFinite(q))
    throw new ShardgateError('MERGED_VALUE_OUT_OF_RANGE', {
      type: t === 'float4' ? 'real' : 'double precision',
    });
  return { type: t, v: r };
}

/** MySQL's `/`: exact numbers give DECIMAL (dividend's scale + 4), floats DOUBLE; x / 0 is NULL. */
function mysqlDivision(op: string, a: Value, b: Value, t: ValueType): Value {
  if (op === '%') throw unsupported('% over merged aggregates');
  if (isFloat(t)) {
    const p = widen(a, 'float8').v as number | null;
    const q = widen(b, 'float8').v as number | null;
    return { type: 'float8', v: p === null || q === null || q === 0 ? null : p / q };
  }
  const p = widen(a, 'numeric').v as Decimal | 'NaN' | null;
  const q = widen(b, 'numeric').v as Decimal | 'NaN' | null;
  if (p === null || q === null || p === 'NaN' || q === 'NaN') return { type: 'numeric', v: null };
  return { type: 'numeric', v: divideMysql(p, q) };
}

/** Round half to even (float8's rint), as round(float8) and float-to-integer casts do. */
function rint(n: number): number {
  const r = Math.round(n);
  return Math.abs(n % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function roundTo(d: Decimal, places: number, truncate: boolean): Decimal {
  if (places >= 0) {
    if (!truncate) return roundDecimal(d, places);
    if (places >= d.scale) return roundDecimal(d, places);
    const div = 10n ** BigInt(d.scale - places);
    return { units: d.units / div, scale: places };
  }
  // round(123.4, -1) = 120: round to whole tens, printed with scale 0.
  const whole = roundTo(d, 0, truncate);
  const div = 10n ** BigInt(-places);
  const neg = whole.units < 0n;
  const abs = neg ? -whole.units : whole.units;
  let q = abs / div;
  if (!truncate && (abs % div) * 2n >= div) q += 1n;
  return { units: (neg ? -q : q) * div, scale: 0 };
}

function castTo(x: Value, to: string, typmod: number[]): Value {
  const target: ValueType = to === 'varchar' ? 'text' : to === 'integer' ? 'int4' : (to as ValueType);
  if (x.v === null) return nullOf(target);
  if (target === 'text') return { type: 'text', v: valueText(x) };
  if (x.type === 'text') {
    // '1.5'::numeric and friends: the text read as that type.
    const text = x.v as string;
    if (isInt(target)) return checkedInt(target, BigInt(text.trim()));
    if (target === 'numeric') return castTo({ type: 'numeric', v: parseDecimal(text) }, to, typmod);
    if (isFloat(target)) return widen({ type: 'numeric', v: parseDecimal(text) }, target);
    if (target === 'bool') return { type: 'bool', v: /^(t|true|y|yes|on|1)$/i.test(text.trim()) };
  }
  if (target === 'bool') {
    if (isInt(x.type)) return { type: 'bool', v: x.v !== 0n };
    if (x.type === 'bool') return x;
    throw unsupported(`${x.type}::bool over merged aggregates`);
  }
  if (isInt(target)) {
    if (isInt(x.type)) return checkedInt(target, x.v as bigint);
    if (x.type === 'numeric') {
      if (x.v === 'NaN') throw new ShardgateError('MERGED_VALUE_OUT_OF_RANGE', { type: 'integer' });
      return checkedInt(target, roundDecimal(x.v as Decimal, 0).units);
    }
    if (isFloat(x.type)) {
      const n = x.v as number;
      if (!Number.isFinite(n)) throw new ShardgateError('MERGED_VALUE_OUT_OF_RANGE', { type: 'integer' });
      return checkedInt(target, BigInt(rint(n)));
    }
  }
  if (target === 'numeric') {
    let v: Value = isFloat(x.type)
      ? Number.isNaN(x.v as number)
        ? { type: 'numeric', v: 'NaN' }
        : { type: 'numeric', v: parseDecimal(String(x.v)) }
      : widen(x, 'numeric');
    if (isFloat(x.type)) {
      // float8 -> numeric keeps float8's 15 significant digits.
      const n = x.v as number;
      if (!Number.isFinite(n)) throw unsupported('an infinite float cast to numeric');
      v = { type: 'numeric', v: parseDecimal(Number(n.toPrecision(15)).toString()) };
      if (/e/i.test(String(Number(n.toPrecision(15)))))
        throw unsupported('a float with an exponent cast to numeric');
    }
    if (typmod.length === 0 || v.v === 'NaN' || v.v === null) return v;
    const [precision, scale = 0] = typmod;
    const rounded = roundDecimal(v.v as Decimal, scale);
    const digits = (rounded.units < 0n ? -rounded.units : rounded.units).toString().length;
    if (rounded.units !== 0n && digits - scale > precision! - scale)
      throw new ShardgateError('MERGED_VALUE_OUT_OF_RANGE', { type: 'numeric field' });
    return { type: 'numeric', v: rounded };
  }
  if (isFloat(target)) return widen(x, target);
  throw unsupported(`a cast to ${to} over merged aggregates`);
}

function fn(name: string, args: Value[], literals: boolean[], mysql: boolean): Value {
  if (mysql && (name === 'round' || name === 'truncate')) return mysqlRound(name, args);
  switch (name) {
    case 'coalesce':
    case 'greatest':
    case 'least': {
      let type: ValueType | null = null;
      for (let i = 0; i < args.length; i++) {
        if (literals[i]) continue;
        type = type === null ? args[i]!.type : commonNumericType(type, args[i]!.type);
      }
      type ??= 'text';
      const typed = args.map((a, i) => (literals[i] ? adapt(a, nullOf(type!), true) : widen(a, type!)));
      if (name === 'coalesce') return typed.find((a) => a.v !== null) ?? nullOf(type);
      let best: Value | null = null;
      for (const a of typed) {
        if (a.v === null) continue;
        if (best === null) best = a;
        else {
          const c = compareNumbers(a, best);
          if ((name === 'greatest' && c > 0) || (name === 'least' && c < 0)) best = a;
        }
      }
      return best ?? nullOf(type);
    }
    case 'nullif': {
      const [a, b] = [args[0]!, adapt(args[1]!, args[0]!, literals[1]!)];
      if (a.v === null || b.v === null) return a;
      return compareNumbers(a, b) === 0 ? nullOf(a.type) : a;
    }
    case 'abs': {
      const a = args[0]!;
      if (a.v === null) return a;
      if (isInt(a.type)) return checkedInt(a.type, (a.v as bigint) < 0n ? -(a.v as bigint) : (a.v as bigint));
      if (a.type === 'numeric')
        return a.v === 'NaN'
          ? a
          : {
              type: 'numeric',
              v: {
                ...(a.v as Decimal),
                units: (a.v as Decimal).units < 0n ? -(a.v as Decimal).units : (a.v as Decimal).units,
              },
            };
      if (isFloat(a.type)) return { type: a.type, v: Math.abs(a.v as number) };
      throw unsupported(`abs(${a.type}) over merged aggregates`);
    }
    case 'round':
    case 'trunc':
    case 'ceil':
    case 'floor': {
      const a = args[0]!;
      if (args.length === 2 || a.type === 'numeric') {
        // round(numeric [, n]): integers become numeric first.
        // The places may be a parameter or quoted literal (unknown type): read as integer.
        const second = args[1]?.type === 'text' && literals[1] ? castTo(args[1], 'int4', []) : args[1];
        const places = second ? widen(second, 'int4') : ({ type: 'int4', v: 0n } as Value);
        const n = isInt(a.type) ? widen(a, 'numeric') : a;
        if (n.type !== 'numeric') throw unsupported(`${name}(${a.type}, n) over merged aggregates`);
        if (n.v === null || places.v === null) return nullOf('numeric');
        if (n.v === 'NaN') return n;
        const d = n.v as Decimal;
        if (name === 'ceil' || name === 'floor') {
          const t = roundTo(d, 0, true);
          const up = name === 'ceil' ? compareDecimals(t, d) < 0 : false;
          const down = name === 'floor' ? compareDecimals(t, d) > 0 : false;
          return { type: 'numeric', v: { units: t.units + (up ? 1n : down ? -1n : 0n), scale: 0 } };
        }
        return { type: 'numeric', v: roundTo(d, Number(places.v), name === 'trunc') };
      }
      // round(int) and round(float) resolve to round(double precision).
      const f = widen(a, 'float8');
      if (f.v === null) return f;
      const v = f.v as number;
      const r =
        name === 'round'
          ? rint(v)
          : name === 'trunc'
            ? Math.trunc(v)
            : name === 'ceil'
              ? Math.ceil(v)
              : Math.floor(v);
      return { type: 'float8', v: r };
    }
    default:
      throw unsupported(`${name}() over merged aggregates`);
  }
}

/** MySQL's ROUND/TRUNCATE(x [, d]): integers stay integers, DECIMAL rounds half away from zero. */
function mysqlRound(name: string, args: Value[]): Value {
  const [a, d] = args;
  if (a === undefined || args.length > 2) throw unsupported(`${name}() with ${args.length} arguments`);
  const places = d === undefined ? 0n : (widen(d, 'int8').v as bigint | null);
  if (a.v === null || places === null) return nullOf(a.type);
  if (isInt(a.type) && places >= 0n) return a;
  if (a.type !== 'numeric' || a.v === 'NaN' || places < 0n)
    throw unsupported(`${name}(${a.type}, ${places}) over merged aggregates`);
  return { type: 'numeric', v: roundTo(a.v as Decimal, Number(places), name === 'truncate') };
}

/**
 * Evaluates `e`; `partial(i)` is the merged value of aggregate (or group value) i. PostgreSQL's
 * rules unless `dialect` is mysql (constants, division, ROUND/TRUNCATE differ).
 */
export function evaluate(
  e: Expr,
  partial: (i: number) => Value,
  dialect: 'postgres' | 'mysql' = 'postgres',
): Value {
  const mysql = dialect === 'mysql';
  switch (e.k) {
    case 'partial':
      return partial(e.i);
    case 'const':
      return constant(e.value, e.literal, mysql);
    case 'cast':
      return castTo(evaluate(e.arg, partial, dialect), e.to, e.typmod);
    case 'isnull': {
      const v = evaluate(e.arg, partial, dialect);
      return { type: 'bool', v: e.not ? v.v !== null : v.v === null };
    }
    case 'bool': {
      const args = e.args.map((a) => evaluate(a, partial, dialect).v as boolean | null);
      if (e.op === 'not') return { type: 'bool', v: args[0] === null ? null : !args[0] };
      if (e.op === 'and')
        return { type: 'bool', v: args.includes(false) ? false : args.includes(null) ? null : true };
      return { type: 'bool', v: args.includes(true) ? true : args.includes(null) ? null : false };
    }
    case 'fn': {
      const args = e.args.map((a) => evaluate(a, partial, dialect));
      return fn(
        e.name,
        args,
        e.args.map((a) => a.k === 'const' && a.literal !== 'int' && a.literal !== 'num'),
        mysql,
      );
    }
    case 'op': {
      const args = e.args.map((a) => evaluate(a, partial, dialect));
      if (e.op === 'neg') return arithmetic('-', { type: 'int4', v: 0n }, args[0]!, mysql);
      const lit = (i: number) =>
        e.args[i]!.k === 'const' &&
        e.args[i]!.k === 'const' &&
        (e.args[i] as { literal: string }).literal !== 'int' &&
        (e.args[i] as { literal: string }).literal !== 'num';
      const a = adapt(args[0]!, args[1]!, lit(0));
      const b = adapt(args[1]!, args[0]!, lit(1));
      if (['+', '-', '*', '/', '%', '||'].includes(e.op)) return arithmetic(e.op, a, b, mysql);
      if (a.v === null || b.v === null) return { type: 'bool', v: null };
      const c = compareNumbers(a, b);
      const v =
        e.op === '='
          ? c === 0
          : e.op === '<>'
            ? c !== 0
            : e.op === '<'
              ? c < 0
              : e.op === '<='
                ? c <= 0
                : e.op === '>'
                  ? c > 0
                  : c >= 0;
      return { type: 'bool', v };
    }
  }
}
