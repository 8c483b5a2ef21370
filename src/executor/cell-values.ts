// Cell values of a merged result decoded so they compare as PostgreSQL compares them (the local
// clusters use the C collation: text compares bytewise), text or binary format.
import { ShardgateError } from '../errors.js';
import type { ColumnInfo } from './rows.js';

const INT_TYPES = new Set([20, 21, 23, 26]);
const FLOAT_TYPES = new Set([700, 701]);
const NUMERIC = 1700;
const BOOL = 16;

export type Comparable = bigint | number | string | boolean | null;

/** Decodes a cell to a value that compares like PostgreSQL would (text compares bytewise, "C"). */
export function decodeCell(cell: Buffer | null, col: ColumnInfo): Comparable {
  if (cell === null) return null;
  if (col.format === 'binary') {
    switch (col.typeOid) {
      case 21:
        return BigInt(cell.readInt16BE(0));
      case 23:
      case 26:
        return BigInt(cell.readInt32BE(0));
      case 20:
        return cell.readBigInt64BE(0);
      case 700:
        return cell.readFloatBE(0);
      case 701:
        return cell.readDoubleBE(0);
      case BOOL:
        return cell[0] !== 0;
      case 1114:
      case 1184:
        return cell.readBigInt64BE(0);
      case 1082:
        return BigInt(cell.readInt32BE(0));
      default:
        return cell.toString('latin1');
    }
  }
  const text = cell.toString('utf8');
  if (col.textCompare !== undefined && col.textCompare !== 'bytes') return collationKey(text, col);
  if (INT_TYPES.has(col.typeOid)) return BigInt(text);
  if (FLOAT_TYPES.has(col.typeOid)) return text === 'NaN' ? Number.NaN : Number(text);
  if (col.typeOid === BOOL) return text === 't';
  if (col.typeOid === NUMERIC) return text;
  return text;
}

/** Exact comparison of decimal strings ("-12.50" vs "3"). */
export function compareDecimal(a: string, b: string): number {
  if (a === 'NaN' || b === 'NaN') return a === b ? 0 : a === 'NaN' ? 1 : -1;
  const neg = (s: string) => s.startsWith('-');
  if (neg(a) !== neg(b)) return neg(a) ? -1 : 1;
  const sign = neg(a) ? -1 : 1;
  const [ai, af = ''] = a.replace(/^[-+]/, '').split('.');
  const [bi, bf = ''] = b.replace(/^[-+]/, '').split('.');
  const an = ai!.replace(/^0+(?=\d)/, '');
  const bn = bi!.replace(/^0+(?=\d)/, '');
  if (an.length !== bn.length) return sign * (an.length < bn.length ? -1 : 1);
  if (an !== bn) return sign * (an < bn ? -1 : 1);
  const len = Math.max(af.length, bf.length);
  const ap = af.padEnd(len, '0');
  const bp = bf.padEnd(len, '0');
  return ap === bp ? 0 : sign * (ap < bp ? -1 : 1);
}

export function compareValues(a: Comparable, b: Comparable, numeric: boolean): number {
  if (numeric && typeof a === 'string' && typeof b === 'string') return compareDecimal(a, b);
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** The text a general_ci collation compares: ASCII upper case, no trailing spaces. */
export function collationKey(text: string, col: ColumnInfo): string {
  if (col.textCompare === 'unsupported' || (col.textCompare === 'general_ci' && /[^\x00-\x7f]/.test(text)))
    throw new ShardgateError('SCATTER_UNSUPPORTED', {
      detail: `ordering, grouping or deduplicating text column ${col.name} under its collation (${col.textCompare === 'unsupported' ? 'not a general_ci or binary collation, or not a plain table column whose collation is known' : 'non-ASCII characters'}); do it on one shard, or compare CAST(${col.name} AS BINARY)`,
    });
  return text.replace(/ +$/, '').toUpperCase();
}

/** The key that groups and deduplicates a cell (equal keys: equal under the column's collation). */
export function groupKey(cell: Buffer | null, col: ColumnInfo): string {
  if (cell === null) return '\u0000N';
  if (col.textCompare === undefined || col.textCompare === 'bytes' || col.format === 'binary')
    return cell.toString('latin1');
  return collationKey(cell.toString('utf8'), col);
}
