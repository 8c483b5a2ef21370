// Where a constant of the parse tree comes from: the fingerprint literal at the same offset, a
// bind parameter, or a value fixed by the shape (NULL, TRUE). The grammar folds `-5` (also
// `- 5`) into one constant located at the minus sign: that maps to the literal 5, negated.
import type { ValueRef } from './facts.js';
import type { Literal } from './fingerprint.js';
import { unwrapCast } from './pg-ast.js';

export class LiteralMap {
  private readonly byOffset = new Map<number, number>();

  constructor(
    literals: readonly Literal[],
    private readonly sql: string,
  ) {
    for (let i = 0; i < literals.length; i++) this.byOffset.set(literals[i]!.offset, i);
  }

  ref(location: unknown): ValueRef | null {
    if (typeof location !== 'number' || location < 0) return null;
    const i = this.byOffset.get(location);
    if (i !== undefined) return { kind: 'literal', index: i };
    // Folded negation: minus signs and whitespace/comments up to the literal; odd count negates.
    let minus = 0;
    let j = location;
    const n = this.sql.length;
    while (j < n && j < location + 256) {
      const c = this.sql.charCodeAt(j);
      if (c === 45 && this.sql.charCodeAt(j + 1) !== 45) {
        minus++;
        j++;
      } else if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) j++;
      else if (c === 45) {
        const nl = this.sql.indexOf('\n', j);
        j = nl < 0 ? n : nl;
      } else if (c === 47 && this.sql.charCodeAt(j + 1) === 42) {
        const end = this.sql.indexOf('*/', j + 2);
        j = end < 0 ? n : end + 2;
      } else break;
    }
    if (minus === 0) return null;
    const k = this.byOffset.get(j);
    if (k === undefined) return null;
    return minus % 2 === 1 ? { kind: 'literal', index: k, negate: true } : { kind: 'literal', index: k };
  }
}

/** A constant or parameter (through casts); null for an expression. */
export function valueRef(node: unknown, lits: LiteralMap): ValueRef | null {
  const t = unwrapCast(node);
  if (!t) return null;
  const [type, body] = t;
  if (type === 'ParamRef') {
    const n = body.number;
    return typeof n === 'number' && n >= 1 ? { kind: 'param', index: n } : null;
  }
  if (type !== 'A_Const') return null;
  if (body.isnull) return { kind: 'const', value: null };
  if (body.boolval !== undefined) {
    const b = (body.boolval as { boolval?: boolean }).boolval;
    return { kind: 'const', value: b ? 't' : 'f' };
  }
  return lits.ref(body.location);
}

/** `$n` (through casts) -> n. */
export function paramNumber(node: unknown): number | null {
  const t = unwrapCast(node);
  if (t?.[0] !== 'ParamRef') return null;
  const n = t[1].number;
  return typeof n === 'number' && n >= 1 ? n : null;
}
