// The analysis cache is bounded by bytes as well as entries: fingerprints are as long as their
// statements, so a count alone lets a client fill memory with long distinct statements.
import { describe, expect, it } from 'vitest';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';
import { MysqlQueryAnalyzer } from '../../src/sql/mysql/analyzer-mysql.js';
import { approximateBytes, ParseCache } from '../../src/sql/parse-cache.js';

describe('ParseCache byte bound', () => {
  it('holds no more bytes than its bound, however many entries it may count', () => {
    const cache = new ParseCache<string>(10_000, 100_000, (v) => v.length);
    for (let i = 0; i < 1_000; i++) cache.set(`${i}:${'k'.repeat(1_000)}`, 'v'.repeat(500));
    const { size, bytes } = cache.stats;
    expect(bytes).toBeLessThanOrEqual(100_000);
    expect(size).toBeGreaterThan(10);
    expect(size).toBeLessThan(100);
  });

  it('keeps a recently used entry (second chance) while evicting by bytes', () => {
    const cache = new ParseCache<number>(10_000, 20_000);
    cache.set('hot', 1);
    for (let i = 0; i < 200; i++) {
      cache.get('hot');
      cache.set(`cold-${i}-${'x'.repeat(900)}`, i);
    }
    expect(cache.get('hot')).toBe(1);
    expect(cache.stats.bytes).toBeLessThanOrEqual(20_000);
  });

  it('never caches an entry above a quarter of the bound, and keeps the others', () => {
    const cache = new ParseCache<number>(100, 10_000);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('x'.repeat(3_000), 3);
    expect(cache.get('x'.repeat(3_000))).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBe(2);
  });

  it('replacing a key does not count its bytes twice', () => {
    const cache = new ParseCache<string>(100, 100_000, (v) => v.length);
    cache.set('k', 'a'.repeat(1_000));
    const once = cache.stats.bytes;
    cache.set('k', 'b'.repeat(1_000));
    expect(cache.stats).toMatchObject({ size: 1, bytes: once });
    cache.clear();
    expect(cache.stats.bytes).toBe(0);
  });

  it('approximateBytes grows with the strings and items of a value', () => {
    const small = approximateBytes({ a: ['x'], b: 1 });
    const large = approximateBytes({ a: ['x'.repeat(10_000)], b: 1 });
    expect(large - small).toBeGreaterThanOrEqual(9_999);
    const shared = { s: 'y'.repeat(1_000) };
    expect(approximateBytes([shared, shared])).toBeLessThan(2 * approximateBytes(shared));
  });
});

describe('analyzers keep their caches within parseCacheBytes', () => {
  it('PostgreSQL and MySQL: many long distinct statements stay within the bound', async () => {
    const bound = 256 * 1024;
    const pg = await QueryAnalyzer.create({ cacheSize: 10_000, cacheBytes: bound });
    const my = await MysqlQueryAnalyzer.create({ cacheSize: 10_000, cacheBytes: bound });
    const columns = Array.from({ length: 300 }, (_, i) => `c${i}`).join(', ');
    for (let i = 0; i < 200; i++) {
      // Distinct table names make distinct fingerprints; each text is a few kilobytes.
      pg.analyze(`SELECT ${columns} FROM t${i} WHERE id = 1`);
      my.analyze(`SELECT ${columns} FROM t${i} WHERE id = 1`);
    }
    for (const a of [pg, my]) {
      expect(a.stats.bytes).toBeLessThanOrEqual(bound);
      expect(a.stats.bytes).toBeGreaterThan(bound / 2);
      expect(a.stats.size).toBeLessThan(200);
    }
  });
});
