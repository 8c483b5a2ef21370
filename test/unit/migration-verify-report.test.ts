// The status line of a running verification says what it compares: whole-table row counts in
// every PostgreSQL mode, whole tables always on MySQL (which has no sampled verification).
import { describe, expect, it } from 'vitest';
import { verifyingStatus } from '../../src/migration/verify-report.js';

describe('verifyingStatus', () => {
  it('names the sample and the whole-table counts of a sampled PostgreSQL verification', () => {
    expect(verifyingStatus({ verify: { sample: 20 } })).toBe(
      'verifying (sample of 20 chunks, row counts of whole tables)',
    );
    expect(verifyingStatus({ protocol: 'postgres', verify: 'full' })).toBe('verifying (full)');
  });

  it('says whole tables for MySQL whatever the plan asked for', () => {
    const whole = 'verifying (whole tables: row counts and checksums)';
    expect(verifyingStatus({ protocol: 'mysql', verify: { sample: 20 } })).toBe(whole);
    expect(verifyingStatus({ protocol: 'mysql', verify: 'full' })).toBe(whole);
  });
});
