// Keyspace ids must equal PostgreSQL's hashint8extended / hashtextextended bit for bit: the
// expected values (test/support/pg-hash-cases.ts) were computed by PostgreSQL 15 (signed int64, as PostgreSQL prints them).
import { describe, expect, it } from 'vitest';
import {
  hashBytesExtended,
  hashInt8,
  hashText,
  keyspaceIdFor,
  parseInt8,
} from '../../src/router/sharding/hash.js';
import { INT8_CASES, TEXT_CASES } from '../support/pg-hash-cases.js';

const toUnsigned = (signed: string): bigint => BigInt.asUintN(64, BigInt(signed));

describe('hashint8extended', () => {
  it.each(INT8_CASES)('%s', (value, expected) => {
    expect(keyspaceIdFor(value, 'int')).toBe(toUnsigned(expected));
    expect(hashInt8(BigInt(value))).toBe(toUnsigned(expected));
  });

  it('int2/int4 values hash like int8 (same fold)', () => {
    expect(hashInt8(-5)).toBe(hashInt8(-5n));
  });
});

describe('hashtextextended', () => {
  it.each(TEXT_CASES)('%j', (value, expected) => {
    expect(keyspaceIdFor(value, 'text')).toBe(toUnsigned(expected));
  });

  it('honours a seed like PostgreSQL', () => {
    expect(hashBytesExtended(new TextEncoder().encode('abc'), 3, 12345n)).toBe(
      toUnsigned('-8774897055449208758'),
    );
    expect(hashBytesExtended(new TextEncoder().encode('abc'), 3, BigInt.asUintN(64, -1n))).toBe(
      toUnsigned('1911237551546830967'),
    );
  });

  it('long and non-ASCII strings after short ones (scratch buffers grow correctly)', () => {
    const long = 'x'.repeat(1000);
    expect(hashText(long)).toBe(hashBytesExtended(new TextEncoder().encode(long)));
    const longUni = 'é'.repeat(500);
    expect(hashText(longUni)).toBe(hashBytesExtended(new TextEncoder().encode(longUni)));
    expect(hashText('abc')).toBe(toUnsigned('-6747756470228489321'));
  });
});

describe('parseInt8', () => {
  it('accepts what int8in accepts and integral numerics', () => {
    expect(parseInt8(' 42 ')).toBe(42);
    expect(parseInt8('+7')).toBe(7);
    expect(parseInt8('-7')).toBe(-7);
    expect(parseInt8('12.000')).toBe(12);
    expect(parseInt8('9223372036854775807')).toBe(9223372036854775807n);
    expect(parseInt8('-9223372036854775808')).toBe(-9223372036854775808n);
    // PostgreSQL 16+ int8in syntax.
    expect(parseInt8('0x1F')).toBe(31);
    expect(parseInt8('-0o17')).toBe(-15);
    expect(parseInt8('0b101')).toBe(5);
    expect(parseInt8('1_000_000')).toBe(1000000);
  });

  it('refuses non-integers and out-of-range values', () => {
    for (const bad of [
      '',
      'abc',
      '1.5',
      '9223372036854775808',
      '-9223372036854775809',
      '1e3',
      '--1',
      '0x',
      '0b102',
      '0o8',
      '1__0',
      '_1',
    ]) {
      expect(parseInt8(bad)).toBeNull();
    }
    expect(keyspaceIdFor('1.5', 'int')).toBeNull();
  });
});
