import { describe, expect, it } from 'vitest';
import {
  addDecimals,
  compareDecimals,
  divDecimals,
  divisionScale,
  formatDecimal,
  mulDecimals,
  parseDecimal,
  roundDecimal,
  sqrtDecimal,
} from '../../src/executor/decimal.js';

const d = parseDecimal;
const f = formatDecimal;

describe('exact decimals', () => {
  it('parses and prints without losing scale', () => {
    for (const t of ['0', '-0.50', '12.340', '123456789012345678901234567890.000000001', '.5'])
      expect(f(d(t))).toBe(t === '.5' ? '0.5' : t === '-0.50' ? '-0.50' : t);
  });

  it('adds, multiplies and compares exactly (no float rounding)', () => {
    expect(f(addDecimals(d('0.1'), d('0.2')))).toBe('0.3');
    expect(f(addDecimals(d('9007199254740993'), d('1.25')))).toBe('9007199254740994.25');
    expect(f(mulDecimals(d('-1.5'), d('2.25')))).toBe('-3.375');
    expect(compareDecimals(d('2.50'), d('2.5'))).toBe(0);
    expect(compareDecimals(d('-3'), d('2.99'))).toBe(-1);
  });

  it('divides with PostgreSQL numeric result scales (select_div_scale)', () => {
    // Values checked against PostgreSQL 15: SELECT a / b.
    expect(f(divDecimals(d('24925.00'), d('50')))).toBe('498.5000000000000000');
    expect(f(divDecimals(d('1'), d('3')))).toBe('0.33333333333333333333');
    expect(f(divDecimals(d('2'), d('3')))).toBe('0.66666666666666666667');
    expect(f(divDecimals(d('10'), d('4')))).toBe('2.5000000000000000');
    expect(f(divDecimals(d('123456789'), d('7')))).toBe('17636684.142857142857');
    expect(f(divDecimals(d('-1'), d('7')))).toBe('-0.14285714285714285714');
    expect(f(divDecimals(d('0.000001'), d('3')))).toBe('0.000000333333333333333333');
    expect(f(divDecimals(d('0'), d('5')))).toBe('0.00000000000000000000');
    expect(divisionScale(d('9999'), d('1'))).toBe(16);
  });

  it('rounds half away from zero', () => {
    expect(f(roundDecimal(d('2.345'), 2))).toBe('2.35');
    expect(f(roundDecimal(d('-2.345'), 2))).toBe('-2.35');
    expect(f(roundDecimal(d('2.3'), 3))).toBe('2.300');
  });

  it('takes square roots at a given scale, rounded to nearest', () => {
    expect(f(sqrtDecimal(d('2'), 20))).toBe('1.41421356237309504880');
    expect(f(sqrtDecimal(d('16.00'), 4))).toBe('4.0000');
    expect(f(sqrtDecimal(d('0'), 3))).toBe('0.000');
  });
});
