// Bind parameters as text, for routing: text format as sent (UTF-8); binary format decoded for
// the types a shard key can have (int2/4/8, text-like, uuid, bool, and one-dimensional arrays of
// those for `= ANY($n)`). A binary value of unknown type (OID 0) is never guessed from its
// length: it resolves to null (unknown; the router scatters reads). Never throws on bad bytes.

const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const TEXT = 25;
const VARCHAR = 1043;
const BPCHAR = 1042;
const NAME = 19;
const UUID = 2950;
const BOOL = 16;

/** Array type OID -> element type OID. */
const ARRAY_ELEMENTS = new Map<number, number>([
  [1005, INT2],
  [1007, INT4],
  [1016, INT8],
  [1009, TEXT],
  [1015, VARCHAR],
  [1014, BPCHAR],
  [1003, NAME],
  [2951, UUID],
  [1000, BOOL],
]);

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

function quoteElement(v: string): string {
  return v === '' || /[{},"\\\s]/.test(v) || v.toUpperCase() === 'NULL'
    ? `"${v.replace(/["\\]/g, '\\$&')}"`
    : v;
}

/** Binary array (one dimension) to PostgreSQL's text form "{a,b}"; null when not decodable. */
function decodeBinaryArray(buf: Buffer, expectedElement: number): string | null {
  if (buf.length < 12) return null;
  const ndim = buf.readInt32BE(0);
  const elemOid = buf.readUInt32BE(8);
  if (elemOid !== expectedElement) return null;
  if (ndim === 0) return '{}';
  if (ndim !== 1 || buf.length < 20) return null;
  const count = buf.readInt32BE(12);
  if (count < 0 || count > buf.length) return null;
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
    items.push(quoteElement(v));
    pos += len;
  }
  return pos === buf.length ? `{${items.join(',')}}` : null;
}

/** One parameter: text as sent, binary decoded by type OID, null for NULL or undecodable. */
export function decodeBindParam(
  value: Buffer | null | undefined,
  format: number,
  oid: number,
): string | null {
  if (value === null || value === undefined) return null;
  if (format === 0) return value.toString('utf8');
  if (format !== 1) return null;
  const element = ARRAY_ELEMENTS.get(oid);
  return element !== undefined ? decodeBinaryArray(value, element) : decodeBinaryScalar(value, oid);
}

/**
 * Bind values as text. `formats` follows the Bind message rule: none = all text, one = applies
 * to all, else one per parameter. `types` are the statement's parameter type OIDs (0 = unknown).
 */
export function decodeBindParams(
  values: ReadonlyArray<Buffer | null>,
  formats: readonly number[],
  types: readonly number[],
): Array<string | null> {
  const out: Array<string | null> = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
    out[i] = decodeBindParam(values[i], format, types[i] ?? 0);
  }
  return out;
}

/**
 * Elements of a one-dimensional PostgreSQL array literal ("{1,2,3}", '{"a b",c}', with an
 * optional "[1:3]=" prefix); null when the text is not one. Unquoted NULL elements are left out:
 * they match no row of `= ANY(...)`.
 */
export function parseTextArray(text: string): string[] | null {
  let s = text.trim();
  if (s.startsWith('[')) {
    const eq = s.indexOf('=');
    if (eq < 0) return null;
    s = s.slice(eq + 1).trim();
  }
  if (s.length < 2 || s[0] !== '{' || s[s.length - 1] !== '}') return null;
  const items: string[] = [];
  let i = 1;
  const end = s.length - 1;
  const skipSpace = () => {
    while (i < end && /\s/.test(s[i]!)) i++;
  };
  skipSpace();
  if (i === end) return items;
  for (;;) {
    skipSpace();
    if (s[i] === '{') return null; // nested arrays are not shard keys
    let value = '';
    let quoted = false;
    if (s[i] === '"') {
      quoted = true;
      i++;
      while (i < end && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < end) i++;
        value += s[i];
        i++;
      }
      if (i >= end) return null; // unterminated quote
      i++;
      skipSpace();
    } else {
      while (i < end && s[i] !== ',') {
        if (s[i] === '"' || s[i] === '{' || s[i] === '}') return null;
        if (s[i] === '\\' && i + 1 < end) i++;
        value += s[i];
        i++;
      }
      value = value.trim();
      if (value === '') return null;
    }
    if (quoted || value.toUpperCase() !== 'NULL') items.push(value);
    if (i >= end) return items;
    if (s[i] !== ',') return null;
    i++;
  }
}
