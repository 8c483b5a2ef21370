// MySQL's rules where the proxy evaluates merged aggregates (the aggregate program): JSON arrays
// from JSON_ARRAYAGG as the per-shard value lists, DECIMAL division and AVG with the dividend's
// scale plus div_precision_increment (4), division by zero as NULL, and cells printed the way
// the column the shards described prints them (DECIMAL with exactly its decimals).
import { ShardgateError } from '../errors.js';
import { type Decimal, divDecimals, formatDecimal, parseDecimal, roundDecimal } from './decimal.js';
import type { ArrayElement } from './pg-array-text.js';
import { unsupported, type Value } from './program-values.js';
import type { ColumnInfo } from './rows.js';

/** MySQL's default div_precision_increment: digits a quotient gains over its dividend. */
export const DIV_PRECISION_INCREMENT = 4;
/** DECIMAL holds at most 30 digits after the point. */
const MAX_SCALE = 30;

const TOKEN = /\s*(?:("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(null|true|false))\s*(,|\])/y;

/**
 * A JSON array of scalars as elements keeping each number's text as printed (no float rounding).
 * A truncated array (JSON_ARRAYAGG is cut at group_concat_max_len) is refused, never half-read.
 */
export function parseJsonArray(text: string): ArrayElement[] {
  const truncated = () =>
    new ShardgateError('SCATTER_UNSUPPORTED', {
      detail:
        'a shard returned a truncated JSON_ARRAYAGG list (longer than group_concat_max_len); raise group_concat_max_len or add a shard-key condition',
    });
  const body = text.trim();
  if (!body.startsWith('[')) throw truncated();
  if (/^\[\s*\]$/.test(body)) return [];
  const out: ArrayElement[] = [];
  TOKEN.lastIndex = 1;
  for (;;) {
    const m = TOKEN.exec(body);
    if (!m) throw truncated();
    const [, str, num, word, end] = m;
    if (str !== undefined) out.push({ raw: str, value: JSON.parse(str) as string });
    else if (num !== undefined) out.push({ raw: num, value: num });
    else out.push({ raw: word!, value: word === 'null' ? null : word === 'true' ? '1' : '0' });
    if (end === ']') {
      if (TOKEN.lastIndex !== body.length) throw truncated();
      return out;
    }
  }
}

/** a / b as MySQL divides exact numbers: the dividend's scale + 4, rounded; NULL for b = 0. */
export function divideMysql(a: Decimal, b: Decimal): Decimal | null {
  if (b.units === 0n) return null;
  return divDecimals(a, b, Math.min(MAX_SCALE, a.scale + DIV_PRECISION_INCREMENT));
}

/** AVG from its merged sum and count: DECIMAL at the sum's scale + 4, or DOUBLE for floats. */
export function averageMysql(sum: string | null, count: string | null, sumColumn: ColumnInfo): Value {
  if (sumColumn.typeOid === 701) {
    const v = sum === null || count === null || count === '0' ? null : Number(sum) / Number(count);
    return { type: 'float8', v };
  }
  if (sum === null || count === null || count === '0') return { type: 'numeric', v: null };
  const s = parseDecimal(sum);
  return { type: 'numeric', v: divideMysql(s, parseDecimal(count)) };
}

/** A computed value as a cell of the MySQL column the shards described (its type and decimals). */
export function encodeMysqlCell(v: Value, col: ColumnInfo): Buffer | null {
  if (v.v === null) return null;
  switch (col.typeOid) {
    case 20: {
      if (v.type === 'int2' || v.type === 'int4' || v.type === 'int8') return Buffer.from(v.v.toString());
      if (v.type === 'numeric' && v.v !== 'NaN' && v.v.scale === 0) return Buffer.from(formatDecimal(v.v));
      if (v.type === 'bool') return Buffer.from(v.v ? '1' : '0');
      break;
    }
    case 1700: {
      const d: Decimal | null =
        v.type === 'numeric' && v.v !== 'NaN'
          ? v.v
          : v.type === 'int2' || v.type === 'int4' || v.type === 'int8'
            ? { units: v.v, scale: 0 }
            : null;
      if (d) return Buffer.from(formatDecimal(roundDecimal(d, col.scale ?? d.scale)));
      break;
    }
    case 701: {
      const n =
        v.type === 'float8' || v.type === 'float4'
          ? v.v
          : v.type === 'numeric' && v.v !== 'NaN'
            ? Number(formatDecimal(v.v))
            : null;
      if (n !== null) return Buffer.from(col.scale === undefined ? String(n) : n.toFixed(col.scale));
      break;
    }
    default:
      if (v.type === 'text') {
        if (col.maxBytes !== undefined && Buffer.byteLength(v.v) > col.maxBytes)
          throw unsupported(
            `a merged text of ${Buffer.byteLength(v.v)} bytes in column ${col.name}, past what the server may print (group_concat_max_len); add a shard-key condition`,
          );
        return Buffer.from(v.v);
      }
      break;
  }
  throw unsupported(
    `the proxy computed a ${v.type} value for column ${col.name} of another type; compute it in the application`,
  );
}
