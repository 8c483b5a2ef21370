import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBindParams, parseTextArray } from '../../src/sql/bind-params.js';

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** Binary one-dimensional array as PostgreSQL sends it. */
function binaryArray(elemOid: number, items: Array<Buffer | null>): Buffer {
  const parts = [
    int32(1),
    int32(items.some((i) => i === null) ? 1 : 0),
    int32(elemOid),
    int32(items.length),
    int32(1),
  ];
  for (const it of items) parts.push(it === null ? int32(-1) : Buffer.concat([int32(it.length), it]));
  return Buffer.concat(parts);
}

describe('bind parameter decoding', () => {
  it('text format as sent, whatever the type', () => {
    expect(decodeBindParams([Buffer.from('42'), Buffer.from('héllo'), null], [], [23, 0, 25])).toEqual([
      '42',
      'héllo',
      null,
    ]);
    expect(decodeBindParams([Buffer.from('{1,2}')], [0], [1007])).toEqual(['{1,2}']);
  });
  it('binary scalars by type OID', () => {
    const i8 = Buffer.alloc(8);
    i8.writeBigInt64BE(-9007199254740993n);
    const i2 = Buffer.alloc(2);
    i2.writeInt16BE(-3);
    const uuid = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    expect(
      decodeBindParams(
        [
          i2,
          int32(123456),
          i8,
          Buffer.from('txt'),
          Buffer.from('vc'),
          Buffer.from('bp'),
          Buffer.from('nm'),
          uuid,
          Buffer.from([1]),
        ],
        [1],
        [21, 23, 20, 25, 1043, 1042, 19, 2950, 16],
      ),
    ).toEqual([
      '-3',
      '123456',
      '-9007199254740993',
      'txt',
      'vc',
      'bp',
      'nm',
      '01234567-89ab-cdef-0123-456789abcdef',
      't',
    ]);
  });
  it('per-parameter formats', () => {
    expect(decodeBindParams([Buffer.from('7'), int32(8)], [0, 1], [23, 23])).toEqual(['7', '8']);
  });
  it('does not guess binary values of unknown type or wrong length', () => {
    expect(decodeBindParams([int32(5), Buffer.alloc(8), Buffer.alloc(2)], [1], [0, 0, 0])).toEqual([
      null,
      null,
      null,
    ]);
    expect(decodeBindParams([Buffer.alloc(3)], [1], [23])).toEqual([null]);
    expect(decodeBindParams([Buffer.alloc(3)], [1], [16])).toEqual([null]);
    expect(decodeBindParams([Buffer.from('x')], [2], [25])).toEqual([null]);
  });
  it('binary int4/int8/text arrays to text arrays', () => {
    const i8 = (n: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(n);
      return b;
    };
    const [a, b, c] = decodeBindParams(
      [
        binaryArray(23, [int32(1), int32(-2), null]),
        binaryArray(20, [i8(5n), i8(6n)]),
        binaryArray(25, [Buffer.from('a b'), Buffer.from('q"x'), Buffer.from('')]),
      ],
      [1],
      [1007, 1016, 1009],
    );
    expect(a).toBe('{1,-2,NULL}');
    expect(b).toBe('{5,6}');
    expect(c).toBe('{"a b","q\\"x",""}');
    expect(parseTextArray(a!)).toEqual(['1', '-2']);
    expect(parseTextArray(c!)).toEqual(['a b', 'q"x', '']);
    // empty array, element type not matching the declared array type, truncated data
    expect(decodeBindParams([Buffer.concat([int32(0), int32(0), int32(23)])], [1], [1007])).toEqual(['{}']);
    expect(decodeBindParams([binaryArray(25, [Buffer.from('a')])], [1], [1007])).toEqual([null]);
    expect(decodeBindParams([binaryArray(23, [int32(1)]).subarray(0, 25)], [1], [1007])).toEqual([null]);
  });
  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom(0, 16, 19, 20, 21, 23, 25, 1007, 1009, 1016, 2950, 2951),
        fc.constantFrom(0, 1, 7),
        (bytes, oid, format) => {
          expect(() => decodeBindParams([Buffer.from(bytes)], [format], [oid])).not.toThrow();
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('text array literals', () => {
  it('parses one-dimensional arrays', () => {
    expect(parseTextArray('{1,2,3}')).toEqual(['1', '2', '3']);
    expect(parseTextArray(' { 1 , 2 } ')).toEqual(['1', '2']);
    expect(parseTextArray('{}')).toEqual([]);
    expect(parseTextArray('{"a,b","c\\"d",e\\,f}')).toEqual(['a,b', 'c"d', 'e,f']);
    expect(parseTextArray('{NULL,"NULL",x}')).toEqual(['NULL', 'x']);
    expect(parseTextArray('[1:2]={7,8}')).toEqual(['7', '8']);
  });
  it('rejects what is not a one-dimensional array', () => {
    for (const s of ['1,2', '{{1,2},{3,4}}', '{"a}', '{a,,b}', '{', '', '{a"b}'])
      expect(parseTextArray(s), s).toBeNull();
  });
  it('never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        expect(() => parseTextArray(`{${s}}`)).not.toThrow();
      }),
    );
  });
});
