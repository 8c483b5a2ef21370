// One-dimensional PostgreSQL arrays in text form ({1,2,NULL,"a b"}): split into elements, each
// with the text PostgreSQL printed for it (quoted as needed) and its value, so merged arrays are
// written back exactly as one server would print them.
import { ShardgateError } from '../errors.js';

export interface ArrayElement {
  /** As printed inside the braces (quotes and escapes kept). */
  raw: string;
  /** The element's value; null for NULL. */
  value: string | null;
}

/** Array type OID -> element type OID, for the element types a merge can compare. */
export const ARRAY_ELEMENT_TYPES: ReadonlyMap<number, number> = new Map([
  [1000, 16],
  [1005, 21],
  [1007, 23],
  [1016, 20],
  [1021, 700],
  [1022, 701],
  [1231, 1700],
  [1009, 25],
  [1015, 1043],
  [1014, 1042],
  [1182, 1082],
  [1115, 1114],
  [1185, 1184],
]);

function unsupported(detail: string): ShardgateError {
  return new ShardgateError('SCATTER_UNSUPPORTED', { detail });
}

export function parseArrayText(text: string): ArrayElement[] {
  if (!text.startsWith('{') || !text.endsWith('}'))
    throw unsupported('an array with explicit bounds or of several dimensions in a merged aggregate');
  const out: ArrayElement[] = [];
  const body = text.slice(1, -1);
  if (body === '') return out;
  let i = 0;
  while (i <= body.length) {
    if (body[i] === '{') throw unsupported('an array of arrays in a merged aggregate');
    if (body[i] === '"') {
      let j = i + 1;
      let value = '';
      while (j < body.length && body[j] !== '"') {
        if (body[j] === '\\') j++;
        value += body[j] ?? '';
        j++;
      }
      out.push({ raw: body.slice(i, j + 1), value });
      i = j + 2; // past the closing quote and the comma
      continue;
    }
    let j = body.indexOf(',', i);
    if (j < 0) j = body.length;
    const raw = body.slice(i, j);
    out.push({ raw, value: raw === 'NULL' ? null : raw });
    i = j + 1;
  }
  return out;
}

export function formatArrayText(elements: readonly ArrayElement[]): string {
  return `{${elements.map((e) => e.raw).join(',')}}`;
}
