import { describe, expect, it } from 'vitest';
import { tableSchema } from '../../src/config/schema.js';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import { listShard } from '../../src/router/sharding/list.js';
import { rangeShard } from '../../src/router/sharding/range.js';
import { resolveShard, shardForKeyspaceId, shardForValue } from '../../src/router/sharding/resolve.js';

const twoShards = [
  { name: 's0', range: parseKeyRange('-80') },
  { name: 's1', range: parseKeyRange('80-') },
];

describe('hash method', () => {
  const table = tableSchema.parse({ shardKey: 'user_id' });

  it('places int keys by the sign of hashint8extended (PostgreSQL: 1,3,5 -> 80-; 2,4,8 -> -80)', () => {
    for (const v of ['2', '4', '8', '9']) expect(resolveShard(table, v, twoShards)).toBe('s0');
    for (const v of ['1', '3', '5', '6', '7', '10']) expect(resolveShard(table, v, twoShards)).toBe('s1');
  });

  it('text keys hash the UTF-8 bytes', () => {
    const textTable = tableSchema.parse({ shardKey: 'name', keyType: 'text' });
    // hashtextextended('abc', 0) < 0 -> upper half; ('a', 0) > 0 -> lower half.
    expect(resolveShard(textTable, 'abc', twoShards)).toBe('s1');
    expect(resolveShard(textTable, 'a', twoShards)).toBe('s0');
  });

  it('a non-integer int key owns no shard', () => {
    expect(resolveShard(table, 'abc', twoShards)).toBeNull();
    expect(() => shardForValue(table, 'abc', twoShards)).toThrow(/maps to no shard/);
  });

  it('range boundaries are [start, end)', () => {
    const four = ['-40', '40-80', '80-c0', 'c0-'].map((r, i) => ({ name: `s${i}`, range: parseKeyRange(r) }));
    expect(shardForKeyspaceId(0n, four)).toBe('s0');
    expect(shardForKeyspaceId(0x3fffffffffffffffn, four)).toBe('s0');
    expect(shardForKeyspaceId(0x4000000000000000n, four)).toBe('s1');
    expect(shardForKeyspaceId(0xffffffffffffffffn, four)).toBe('s3');
    expect(shardForKeyspaceId(5n, [four[1]!])).toBeNull();
  });
});

describe('range method', () => {
  const numeric = tableSchema.parse({
    shardKey: 'id',
    method: 'range',
    ranges: [
      { shard: 's0', from: null, to: 100 },
      { shard: 's1', from: 100, to: 1000 },
    ],
  });
  const text = tableSchema.parse({
    shardKey: 'name',
    method: 'range',
    ranges: [
      { shard: 's0', to: 'm' },
      { shard: 's1', from: 'm' },
    ],
  });

  it('compares numbers numerically', () => {
    expect(rangeShard(numeric, '99')).toBe('s0');
    expect(rangeShard(numeric, '100')).toBe('s1');
    expect(rangeShard(numeric, '-5')).toBe('s0');
    expect(rangeShard(numeric, '999.5')).toBe('s1');
    expect(rangeShard(numeric, '1000')).toBeNull();
    expect(rangeShard(numeric, 'abc')).toBeNull();
    expect(rangeShard(numeric, '')).toBeNull();
  });

  it('compares strings as strings', () => {
    expect(rangeShard(text, 'alice')).toBe('s0');
    expect(rangeShard(text, 'm')).toBe('s1');
    expect(rangeShard(text, 'zed')).toBe('s1');
    expect(resolveShard(text, 'bob', twoShards)).toBe('s0');
  });
});

describe('list method', () => {
  const table = tableSchema.parse({
    shardKey: 'region',
    method: 'list',
    lists: { s0: ['eu', 'uk', 7], s1: ['us', 'ca', 8], s2: ['eu'] },
  });

  it('matches strings exactly and numbers numerically', () => {
    expect(listShard(table, 'eu')).toBe('s0');
    expect(listShard(table, 'us')).toBe('s1');
    expect(listShard(table, 'EU')).toBeNull();
    expect(listShard(table, '007')).toBe('s0');
    expect(listShard(table, '8')).toBe('s1');
    expect(listShard(table, 'mars')).toBeNull();
    expect(resolveShard(table, 'ca', twoShards)).toBe('s1');
  });
});
