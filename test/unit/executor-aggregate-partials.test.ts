import { describe, expect, it } from 'vitest';
import {
  addPartials,
  averageType,
  finishAverage,
  finishStatistic,
  foldBooleans,
} from '../../src/executor/aggregate-partials.js';

describe('aggregate partials', () => {
  it('adds sums exactly by type', () => {
    expect(addPartials('9007199254740993', '1', 20)).toBe('9007199254740994');
    expect(addPartials('0.10', '0.20', 1700)).toBe('0.30');
    expect(addPartials(null, '3', 20)).toBe('3');
    expect(addPartials('0.1', '0.2', 701)).toBe('0.30000000000000004');
    expect(() => addPartials('01:00:00', '02:00:00', 1186)).toThrow(/interval|oid 1186/);
  });

  it('folds booleans', () => {
    expect(foldBooleans('t', 'f', true)).toBe('f');
    expect(foldBooleans('t', 'f', false)).toBe('t');
    expect(foldBooleans(null, 'f', false)).toBe('f');
  });

  it('averages with PostgreSQL numeric scale (values from PostgreSQL 15)', () => {
    expect(finishAverage('24925.00', '50', 1700)).toBe('498.5000000000000000');
    expect(finishAverage('3', '2', 20)).toBe('1.5000000000000000');
    expect(finishAverage('3', '2', 701)).toBe('1.5');
    expect(finishAverage(null, '0', 1700)).toBeNull();
    expect(averageType(23)).toBe(1700);
    expect(() => averageType(1186)).toThrow();
  });

  it('computes stddev and variance from count, sum and sum of squares (values from PostgreSQL 15)', () => {
    // x = 1.5, 2.25, 7.125: sum 10.875, sum of squares 2.25 + 5.0625 + 50.765625
    const [n, s, s2] = ['3', '10.875', '58.078125'];
    expect(finishStatistic('stddev_samp', n, s, s2, false)).toBe('3.0541979307176541');
    expect(finishStatistic('var_samp', n, s, s2, false)).toBe('9.3281250000000000');
    expect(finishStatistic('stddev_pop', n, s, s2, false)).toBe('2.4937421679075004');
    expect(finishStatistic('var_pop', n, s, s2, false)).toBe('6.2187500000000000');
    expect(finishStatistic('stddev_samp', '3', '7', '21', false)).toBe('1.5275252316519467');
    expect(finishStatistic('var_samp', '3', '7', '21', false)).toBe('2.3333333333333333');
    expect(finishStatistic('stddev_samp', '1', '1.0', '1.00', false)).toBeNull();
    expect(finishStatistic('var_pop', '2', '11.0', '60.50', false)).toBe('0');
  });
});
