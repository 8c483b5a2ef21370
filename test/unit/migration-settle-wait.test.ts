import { describe, expect, it } from 'vitest';
import { SETTLE_MAX_MS, settleVerdict } from '../../src/migration/settle-wait.js';

describe('settleVerdict', () => {
  it('fails a catch-up whose applied LSN did not move in an interval', () => {
    expect(settleVerdict(30_000, false, 30_000, SETTLE_MAX_MS)).toBe('stalled');
  });
  it('keeps waiting while the applied LSN moves, within the overall limit', () => {
    expect(settleVerdict(30_000, true, 30_000, SETTLE_MAX_MS)).toBe('wait');
    expect(settleVerdict(SETTLE_MAX_MS - 30_000, true, 30_000, SETTLE_MAX_MS)).toBe('wait');
  });
  it('caps a catch-up that keeps progressing but never reaches its marker', () => {
    // Interval after interval with progress: the wait ends at the cap, never later.
    let waited = 0;
    let verdict = 'wait';
    while (verdict === 'wait') {
      waited += 30_000;
      verdict = settleVerdict(waited, true, 30_000, SETTLE_MAX_MS);
    }
    expect(verdict).toBe('capped');
    expect(waited).toBe(SETTLE_MAX_MS);
  });
});
