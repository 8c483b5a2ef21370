// Combining one aggregate's per-shard partial results into the value one database would give:
// count and sum add (exactly: integers and numerics as decimals, floats as IEEE doubles rounded to
// the column's width), min/max compare, bool_and/bool_or fold, avg divides the summed sum by the
// summed count, and the stddev/variance family is computed from count, sum and sum of squares
// with numeric's scale rules. Cells are the servers' text.
import { ShardgateError } from '../errors.js';
import {
  addDecimals,
  compareDecimals,
  type Decimal,
  divDecimals,
  divisionScale,
  formatDecimal,
  mulDecimals,
  parseDecimal,
  sqrtDecimal,
  subDecimals,
} from './decimal.js';
import { float4Text, float8Text } from './pg-float-text.js';

export const INT_OIDS = new Set([20, 21, 23, 26]);
export const FLOAT4 = 700;
export const FLOAT8 = 701;
export const NUMERIC = 1700;

function unsupported(detail: string): ShardgateError {
  return new ShardgateError('SCATTER_UNSUPPORTED', { detail });
}

/** Sum of two partial sums (or counts) of a column of type `typeOid`, as text. */
export function addPartials(a: string | null, b: string | null, typeOid: number): string | null {
  if (a === null) return b;
  if (b === null) return a;
  if (typeOid === FLOAT8) return float8Text(Number(a) + Number(b));
  if (typeOid === FLOAT4) return float4Text(Math.fround(Number(a)) + Math.fround(Number(b)));
  if (INT_OIDS.has(typeOid) || typeOid === NUMERIC) {
    if (a === 'NaN' || b === 'NaN') return 'NaN';
    return formatDecimal(addDecimals(parseDecimal(a), parseDecimal(b)));
  }
  throw unsupported(`sum() of type oid ${typeOid} across shards (cast it to numeric)`);
}

/** bool_and / bool_or of two partials ('t'/'f'/null). */
export function foldBooleans(a: string | null, b: string | null, and: boolean): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return and ? (a === 't' && b === 't' ? 't' : 'f') : a === 't' || b === 't' ? 't' : 'f';
}

/** The result type of avg() given the type of the sum the shards returned. */
export function averageType(sumType: number): number {
  if (INT_OIDS.has(sumType) || sumType === NUMERIC) return NUMERIC;
  if (sumType === FLOAT8 || sumType === FLOAT4) return FLOAT8;
  throw unsupported(`avg() of type oid ${sumType} across shards (cast its argument to numeric)`);
}

/** avg = total sum / total count, in numeric (PostgreSQL's result scale) or float8. */
export function finishAverage(sum: string | null, count: string | null, sumType: number): string | null {
  if (sum === null || count === null || count === '0') return null;
  if (averageType(sumType) === FLOAT8) return float8Text(Number(sum) / Number(count));
  if (sum === 'NaN') return 'NaN';
  return formatDecimal(divDecimals(parseDecimal(sum), parseDecimal(count)));
}

export type StatisticFn = 'stddev_samp' | 'stddev_pop' | 'var_samp' | 'var_pop';

/**
 * numeric_stddev_internal: from N, sum(x) and sum(x*x) (all exact numerics). `float` when the
 * argument was a float type: PostgreSQL then computes in float8; the exact value is printed as one.
 */
export function finishStatistic(
  fn: StatisticFn,
  n: string | null,
  sum: string | null,
  sumSquares: string | null,
  float: boolean,
): string | null {
  if (n === null || sum === null || sumSquares === null) return null;
  const count = BigInt(n);
  const sample = fn === 'stddev_samp' || fn === 'var_samp';
  if (count === 0n || (sample && count === 1n)) return null;
  const N: Decimal = { units: count, scale: 0 };
  const sx = parseDecimal(sum);
  const sx2 = parseDecimal(sumSquares);
  // numeric.c rounds both products to sumX's scale * 2; they are exact at that scale already
  // when sumX2's scale is at most that (sum of squares of values with sumX's scale).
  const numerator = subDecimals(mulDecimals(N, sx2), mulDecimals(sx, sx));
  if (compareDecimals(numerator, { units: 0n, scale: 0 }) <= 0) return float ? '0' : '0';
  const denominator: Decimal = { units: sample ? count * (count - 1n) : count * count, scale: 0 };
  const scale = divisionScale(numerator, denominator);
  let result = divDecimals(numerator, denominator, scale);
  if (fn === 'stddev_samp' || fn === 'stddev_pop') result = sqrtDecimal(result, scale);
  return float ? float8Text(Number(formatDecimal(result))) : formatDecimal(result);
}
