import { describe, expect, it } from 'vitest';
import { decideWithinMs, fencedGraceMs } from '../../src/control/hold-bound.js';

describe('the fenced hold bound', () => {
  it('decides before the bound, leaving the compare-and-swap a margin', () => {
    expect(decideWithinMs(250)).toBe(200);
    expect(decideWithinMs(2_000)).toBe(1_950);
    expect(decideWithinMs(100)).toBe(80);
    expect(decideWithinMs(10)).toBe(8);
  });

  it('keeps the in-flight grace below the decision, whatever inflightGraceMs says', () => {
    // The default grace (500 ms) is longer than the default bound (250 ms): cut to 2/5 of 200 ms.
    expect(fencedGraceMs(500, 250)).toBe(80);
    expect(fencedGraceMs(30, 250)).toBe(30);
    for (const bound of [10, 250, 1_000, 120_000])
      for (const grace of [0, 100, 500, 60_000])
        expect(fencedGraceMs(grace, bound)).toBeLessThan(decideWithinMs(bound));
  });
});
