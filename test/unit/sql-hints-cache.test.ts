import { describe, expect, it } from 'vitest';
import { parseHintComment, parseHints } from '../../src/sql/hints.js';
import { ParseCache } from '../../src/sql/parse-cache.js';

describe('comment hints', () => {
  it('parses key=value pairs of shardgate comments', () => {
    expect(parseHints(['shardgate: consistency=strong shard=s1 role=replica vip=on'])).toEqual({
      consistency: 'strong',
      shard: 's1',
      role: 'replica',
      vip: 'on',
    });
    expect(parseHintComment("SHARDGATE: realtime = true, battery-saving='on'")).toEqual({
      realtime: 'true',
      battery_saving: 'on',
    });
  });
  it('ignores unknown keys; later comments win', () => {
    expect(parseHints(['shardgate: foo=1 shard=a', 'shardgate: shard=b'])).toEqual({ shard: 'b' });
    expect(parseHints(['shardgate:'])).toEqual({});
  });
});

describe('parse cache', () => {
  it('evicts the least recently used entry and counts hits and misses', () => {
    const c = new ParseCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3); // evicts b
    expect(c.get('b')).toBeUndefined();
    expect(c.get('c')).toBe(3);
    expect(c.stats).toMatchObject({ hits: 2, misses: 1, size: 2 });
    c.set('c', 4);
    expect(c.get('c')).toBe(4);
    expect(c.stats.size).toBe(2);
  });
  it('capacity 0 caches nothing', () => {
    const c = new ParseCache<number>(0);
    c.set('a', 1);
    expect(c.get('a')).toBeUndefined();
  });
});
