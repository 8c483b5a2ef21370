// Hot-key values are bounded in size: a long key value (a text shard key can be anything a client
// sends) is kept as a prefix plus a hash of the whole, so memory per tracked value stays small
// and distinct long values stay distinct.
import { describe, expect, it } from 'vitest';
import { boundedKeyValue, HotKeyTracker, MAX_KEY_CHARS } from '../../src/observability/hot-keys.js';

describe('hot-key values', () => {
  it('keeps short values whole and bounds long ones, distinct and stable', () => {
    const t = new HotKeyTracker({ topK: 10, now: () => 1_000 });
    const long = (c: string) => c.repeat(100_000);
    for (let i = 0; i < 5; i++) t.recordKey('s0', 'users', long('a'));
    for (let i = 0; i < 3; i++) t.recordStatement('s0', [{ table: 'users', value: long('b') }]);
    t.recordKey('s0', 'users', 'alice');
    const keys = t.topKeys('s0', 10);
    expect(keys.map((k) => k.count)).toEqual([5, 3, 1]);
    for (const k of keys) expect(k.value.length).toBeLessThanOrEqual(MAX_KEY_CHARS);
    expect(keys[0]!.value).toBe(boundedKeyValue(long('a')));
    expect(keys[1]!.value).not.toBe(keys[0]!.value);
    expect(keys[2]!.value).toBe('alice');
  });
});
