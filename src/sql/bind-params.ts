// Bind parameters as text, for routing: text format as sent; binary format decoded for the types
// a shard key can have (int2/4/8, text-like, uuid, bool, and int/text arrays for = ANY($n)).
// A binary value of unknown type (OID 0) is not guessed: it resolves to null (unknown).

const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const TEXT = 25;
const VARCHAR = 1043;
const BPCHAR = 1042;
const NAME = 19;
const UUID = 2950;
const BOOL = 16;
const INT4_ARRAY = 1007;
const INT8_ARRAY = 1016;
const TEXT_ARRAY = 1009;
const INT2_ARRAY = 1005;
const VARCHAR_ARRAY = 1015;

function decodeBinaryScalar(buf: Buffer, oid: number): string | null {
  switch (oid) {
    case INT2:
      return buf.length === 2 ? String(buf.readInt16BE(0)) : null;
    case INT4:
      return buf.length === 4 ? String(buf.readInt32BE(0)) : null;
    case INT8:
      return buf.length === 8 ? buf.readBigInt64BE(0).toString() : null;
    case TEXT:
    case VARCHAR:
    case BPCHAR:
    case NAME:
      return buf.toString('utf8');
    case UUID: {
      if (buf.length !== 16) return null;
      const h = buf.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case BOOL:
      return buf.length === 1 ? (buf[0] ? 't' : 'f') : null;
    default:
      return null;
  }
}

/** Binary array (one dimension) to PostgreSQL's text form "{a,b}"; null when not decodable. */
function decodeBinaryArray(buf: Buffer): string | null {
  if (buf.length < 12) return null;
  const ndim = buf.readInt32BE(0);
  const elemOid = buf.readInt32BE(8);
  if (ndim === 0) return '{}';
  if (ndim !== 1 || buf.length < 20) return null;
  const count = buf.readInt32BE(12);
  let pos = 20;
  const items: string[] = [];
  for (let i = 0; i < count; i++) {
    if (pos + 4 > buf.length) return null;
    const len = buf.readInt32BE(pos);
    pos += 4;
    if (len < 0) {
      items.push('NULL');
      continue;
    }
    if (pos + len > buf.length) return null;
    const v = decodeBinaryScalar(buf.subarray(pos, pos + len), elemOid);
    if (v === null) return null;
    items.push(/[{},"\\\s]/.test(v) || v === '' ? `"${v.replace(/["\\]/g, '\\$&')}"` : v);
    pos += len;
  }
  return `{${items.join(',')}}`;
}

export function decodeBindParams(
  values: Array<Buffer | null>,
  formats: number[],
  types: number[],
): Array<string | null> {
  const out: Array<string | null> = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      out[i] = null;
      continue;
    }
    const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
    if (format === 0) {
      out[i] = v.toString('utf8');
      continue;
    }
    const oid = types[i] ?? 0;
    if (
      oid === INT4_ARRAY ||
      oid === INT8_ARRAY ||
      oid === TEXT_ARRAY ||
      oid === INT2_ARRAY ||
      oid === VARCHAR_ARRAY
    ) {
      out[i] = decodeBinaryArray(v);
    } else {
      out[i] = decodeBinaryScalar(v, oid);
    }
  }
  return out;
}

/** Parses a one-dimensional PostgreSQL array literal ("{1,2,3}", '{"a b",c}'); null if not one. */
export function parseTextArray(text: string): string[] | null {
  const s = text.trim();
  if (!s.startsWith('{') || !s.endsWith('}')) return null;
  const body = s.slice(1, -1);
  if (body.trim() === '') return [];
  const items: string[] = [];
  let i = 0;
  while (i < body.length) {
    while (body[i] === ' ') i++;
    if (body[i] === '{') return null; // nested arrays are not shard keys
    let value = '';
    if (body[i] === '"') {
      i++;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\' && i + 1 < body.length) i++;
        value += body[i];
        i++;
      }
      i++;
    } else {
      while (i < body.length && body[i] !== ',') value += body[i++];
      value = value.trim();
    }
    items.push(value);
    while (i < body.length && body[i] !== ',') i++;
    i++;
  }
  return items;
}
