// Row routing of the split: the destination owning a row by its shard key, and the same
// membership as the signed-int8 SQL predicate used by verification and cleanup.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEYSPACE_END, type KeyRange, parseKeyRange, rangeContains } from '../../src/domain/keyspace.js';
import {
  inRangesSql,
  keyOwner,
  routeByShardKey,
  routeToFirst,
  signedIntervals,
  toSignedInt8,
} from '../../src/migration/row-owner.js';
import { hashInt8, hashText } from '../../src/router/sharding/hash.js';

const lower = parseKeyRange('-80');
const upper = parseKeyRange('80-');

describe('row routing by shard key', () => {
  it('sends a row to the target whose range holds hashint8extended(user_id)', () => {
    for (let v = -50; v <= 500; v++) {
      const expected = hashInt8(v) < 1n << 63n ? 0 : 1;
      expect(keyOwner(String(v), 'int', [lower, upper])).toBe(expected);
    }
  });

  it('text keys use hashtextextended', () => {
    for (const v of ['alice', 'bob', 'ümlaut', '']) {
      const expected = hashText(v) < 1n << 63n ? 0 : 1;
      expect(keyOwner(v, 'text', [lower, upper])).toBe(expected);
    }
  });

  it('NULL, missing and non-integer keys and keys outside every range have no owner', () => {
    expect(keyOwner(null, 'int', [lower, upper])).toBeNull();
    expect(keyOwner(undefined, 'int', [lower, upper])).toBeNull();
    expect(keyOwner('1.5', 'int', [lower, upper])).toBeNull();
    const v = [...Array(100).keys()].find((i) => hashInt8(i) >= 1n << 63n)!;
    expect(keyOwner(String(v), 'int', [lower])).toBeNull();
  });

  it('routes rows of moved tables by their own shard key column', () => {
    const route = routeByShardKey(
      [
        { name: 'posts', shardKey: 'user_id', keyType: 'int' },
        { name: 'tags', shardKey: 'owner', keyType: 'text' },
      ],
      [lower, upper],
    );
    const a = [...Array(100).keys()].find((i) => hashInt8(i) < 1n << 63n)!;
    const b = [...Array(100).keys()].find((i) => hashInt8(i) >= 1n << 63n)!;
    expect(route('posts', { id: '1', user_id: String(a) })).toBe(0);
    expect(route('posts', { id: '1', user_id: String(b) })).toBe(1);
    expect(route('tags', { owner: 'bob' })).toBe(hashText('bob') < 1n << 63n ? 0 : 1);
    expect(route('unknown', { user_id: '1' })).toBeNull();
    expect(routeToFirst('posts', {})).toBe(0);
  });
});

describe('unsigned ranges as signed int8 intervals', () => {
  const inIntervals = (range: KeyRange, id: bigint) => {
    const s = toSignedInt8(id);
    return signedIntervals(range).some(({ lo, hi }) => s >= lo && s <= hi);
  };

  it('maps the halves and the whole keyspace', () => {
    expect(signedIntervals(lower)).toEqual([{ lo: 0n, hi: (1n << 63n) - 1n }]);
    expect(signedIntervals(upper)).toEqual([{ lo: -(1n << 63n), hi: -1n }]);
    expect(signedIntervals({ start: 0n, end: KEYSPACE_END })).toHaveLength(2);
    expect(signedIntervals({ start: 5n, end: 5n })).toEqual([]);
    expect(toSignedInt8(KEYSPACE_END - 1n)).toBe(-1n);
  });

  it('holds exactly the ids of the range (property)', () => {
    const id = fc.bigInt({ min: 0n, max: KEYSPACE_END - 1n });
    fc.assert(
      fc.property(id, id, id, (x, y, probe) => {
        const [start, end] = x < y ? [x, y] : [y, x];
        const range = { start, end };
        expect(inIntervals(range, probe)).toBe(rangeContains(range, probe));
        expect(inIntervals(range, range.start)).toBe(range.start < range.end);
        if (range.end > 0n) expect(inIntervals(range, range.end - 1n)).toBe(range.start < range.end);
      }),
      { numRuns: 500 },
    );
  });

  it('renders a predicate over the hash of the shard key column', () => {
    const sql = inRangesSql('user_id', 'int', [parseKeyRange('40-c0')], 't');
    expect(sql).toContain('hashint8extended(t."user_id"::int8, 0)');
    expect(sql.match(/BETWEEN/g)).toHaveLength(2);
    expect(inRangesSql('name', 'text', [lower])).toBe(
      `((hashtextextended("name"::text, 0) BETWEEN '0'::int8 AND '9223372036854775807'::int8))`,
    );
    expect(inRangesSql('user_id', 'int', [])).toBe('false');
  });
});
