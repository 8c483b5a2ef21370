import { describe, expect, it } from 'vitest';
import { float4Text, float8Text } from '../../src/executor/pg-float-text.js';

describe('float text as PostgreSQL prints it', () => {
  it('float8: shortest digits, exponent outside [-4, 15)', () => {
    // Checked against PostgreSQL 15 (SELECT x::float8::text).
    expect(float8Text(1e20)).toBe('1e+20');
    expect(float8Text(1.5e-7)).toBe('1.5e-07');
    expect(float8Text(1.2345678901234568e17)).toBe('1.2345678901234568e+17');
    expect(float8Text(1 / 3)).toBe('0.3333333333333333');
    expect(float8Text(36)).toBe('36');
    expect(float8Text(-0.0001)).toBe('-0.0001');
    expect(float8Text(Number.NaN)).toBe('NaN');
  });

  it('float4: rounds to single precision and prints the fewest digits', () => {
    expect(float4Text(0.1)).toBe('0.1');
    expect(float4Text(Math.fround(12.3) + Math.fround(23.7))).toBe('36');
    expect(float4Text(1)).toBe('1');
    expect(float4Text(1234567)).toBe('1.234567e+06');
  });
});
