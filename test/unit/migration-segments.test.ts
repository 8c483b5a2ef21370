// The segment rule of a resumed copy and the WAL-position helpers it rests on.
import { describe, expect, it } from 'vitest';
import { formatLsn, requireLsn } from '../../src/migration/lsn.js';
import {
  addResumeSegment,
  changeApplies,
  compareIntegerKeys,
  type Segment,
  segmentLsnFor,
} from '../../src/migration/segments.js';
import type { TableCopyState } from '../../src/migration/types.js';

const lsn = (text: string) => requireLsn(text);

describe('WAL positions', () => {
  it('parse and format round-trip as PostgreSQL prints them', () => {
    expect(requireLsn('0/16B3748')).toBe(0x16b3748n);
    expect(requireLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn(requireLsn('16/B374D848'))).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(requireLsn('00000001/0000000A'))).toBe('1/A');
    expect(() => requireLsn('16-B3')).toThrow(/WAL position/);
    expect(() => requireLsn('')).toThrow(/WAL position/);
  });
});

describe('segment rule', () => {
  // First copy from snapshot P1 = 0/100 up to key 50 (cursor), crash, rest from P2 = 0/200.
  const segments: Segment[] = [
    { after: null, lsn: '0/100' },
    { after: ['50'], lsn: '0/200' },
  ];

  it('rows of the first segment take every streamed change', async () => {
    for (const key of ['1', '49', '50'])
      expect(await changeApplies(lsn('0/100'), [key], segments, compareIntegerKeys)).toBe(true);
    expect(await changeApplies(lsn('0/150'), ['50'], segments, compareIntegerKeys)).toBe(true);
  });

  it('rows of the resumed segment take only changes at or after its snapshot', async () => {
    expect(await changeApplies(lsn('0/150'), ['51'], segments, compareIntegerKeys)).toBe(false);
    expect(await changeApplies(lsn('0/1FF'), ['9999'], segments, compareIntegerKeys)).toBe(false);
    expect(await changeApplies(lsn('0/200'), ['51'], segments, compareIntegerKeys)).toBe(true);
    expect(await changeApplies(lsn('0/300'), ['9999'], segments, compareIntegerKeys)).toBe(true);
  });

  it('keys compare as integers, not as text', async () => {
    // "100" < "50" as text, but 100 > 50: it belongs to the resumed segment.
    expect(await changeApplies(lsn('0/150'), ['100'], segments, compareIntegerKeys)).toBe(false);
    expect(await changeApplies(lsn('0/150'), ['-7'], segments, compareIntegerKeys)).toBe(true);
  });

  it('the last segment below the key decides, over several resumes', async () => {
    const three: Segment[] = [...segments, { after: ['80'], lsn: '0/300' }];
    expect(await segmentLsnFor(['10'], three, compareIntegerKeys)).toBe(lsn('0/100'));
    expect(await segmentLsnFor(['60'], three, compareIntegerKeys)).toBe(lsn('0/200'));
    expect(await segmentLsnFor(['81'], three, compareIntegerKeys)).toBe(lsn('0/300'));
    expect(await changeApplies(lsn('0/250'), ['60'], three, compareIntegerKeys)).toBe(true);
    expect(await changeApplies(lsn('0/250'), ['81'], three, compareIntegerKeys)).toBe(false);
  });

  it('a resume before the first batch covers every key', async () => {
    const early: Segment[] = [
      { after: null, lsn: '0/100' },
      { after: null, lsn: '0/180' },
    ];
    expect(await changeApplies(lsn('0/150'), ['1'], early, compareIntegerKeys)).toBe(false);
    expect(await changeApplies(lsn('0/180'), ['1'], early, compareIntegerKeys)).toBe(true);
  });

  it('without segments (reverse capture) every change applies', async () => {
    expect(await changeApplies(0n, ['1'], [], compareIntegerKeys)).toBe(true);
  });

  it('compares multi-column keys column by column and asks the comparator only when needed', async () => {
    expect(compareIntegerKeys(['1', '5'], ['1', '10'])).toBe(-1);
    expect(compareIntegerKeys(['2', '0'], ['1', '10'])).toBe(1);
    expect(compareIntegerKeys(['3', '3'], ['3', '3'])).toBe(0);
    let asked = 0;
    const counting = async (a: readonly string[], b: readonly string[]) => {
      asked++;
      return compareIntegerKeys(a, b);
    };
    expect(await changeApplies(lsn('0/500'), ['99'], segments, counting)).toBe(true);
    expect(asked).toBe(0);
    expect(await changeApplies(lsn('0/150'), ['99'], segments, counting)).toBe(false);
    expect(asked).toBeGreaterThan(0);
  });

  it('addResumeSegment starts the new segment at the cursor', () => {
    const state: TableCopyState = {
      table: 'posts',
      primaryKey: ['id'],
      lastKey: ['42'],
      rows: 42,
      bytes: 1000,
      done: false,
      segments: [{ after: null, lsn: '0/100' }],
      estimatedRows: 100,
    };
    addResumeSegment(state, '0/2A0');
    expect(state.segments).toEqual([
      { after: null, lsn: '0/100' },
      { after: ['42'], lsn: '0/2A0' },
    ]);
    state.lastKey![0] = '43';
    expect(state.segments[1]!.after).toEqual(['42']);
    expect(() => addResumeSegment(state, 'nope')).toThrow();
  });
});
