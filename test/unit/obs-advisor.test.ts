import { describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/domain/keyspace.js';
import {
  computeSplitPoint,
  keyspaceIdHex,
  poolAdvice,
  queryAdvice,
  recommendedPoolSize,
  scalingAdvice,
  splitAdvice,
} from '../../src/observability/advisor.js';
import { HotKeyTracker } from '../../src/observability/hot-keys.js';
import { keyspaceIdFor } from '../../src/router/sharding/hash.js';
import { Zipf } from '../support/zipf.js';

describe('scaling advice', () => {
  it('advises scale out only when CPU, memory and hotspot are all above 80', () => {
    const [rec] = scalingAdvice([{ shard: 's0', cpuPercent: 85, memoryPercent: 90, hotspotScore: 81 }]);
    expect(rec).toMatchObject({
      kind: 'scale_out',
      shard: 's0',
      metrics: { cpuPercent: 85, memoryPercent: 90, hotspotScore: 81 },
    });
    expect(scalingAdvice([{ shard: 's0', cpuPercent: 85, memoryPercent: 90, hotspotScore: 80 }])).toEqual([]);
    expect(scalingAdvice([{ shard: 's0', cpuPercent: 85, memoryPercent: 80, hotspotScore: 90 }])).toEqual([]);
  });

  it('flags scale-in candidates when CPU < 20, memory < 30 and hotspot < 20', () => {
    const [rec] = scalingAdvice([{ shard: 's1', cpuPercent: 5, memoryPercent: 20, hotspotScore: 3 }]);
    expect(rec).toMatchObject({ kind: 'scale_in_candidate', shard: 's1' });
    expect(scalingAdvice([{ shard: 's1', cpuPercent: 5, memoryPercent: 30, hotspotScore: 3 }])).toEqual([]);
  });

  it('never triggers on unknown figures', () => {
    expect(
      scalingAdvice([
        { shard: 'a', cpuPercent: null, memoryPercent: 90, hotspotScore: 90 },
        { shard: 'b', cpuPercent: 90, memoryPercent: null, hotspotScore: 90 },
        { shard: 'c', cpuPercent: 90, memoryPercent: 90, hotspotScore: null },
        { shard: 'd', cpuPercent: null, memoryPercent: 1, hotspotScore: 1 },
        { shard: 'e', cpuPercent: 1, memoryPercent: 1, hotspotScore: null },
      ]),
    ).toEqual([]);
  });
});

describe('split point', () => {
  const whole = parseKeyRange('-');

  it('halves a uniform load at the middle of the range', () => {
    const p = computeSplitPoint({
      shard: 's0',
      range: parseKeyRange('40-80'),
      keys: [],
      remainder: 1000,
      keyspaceId: () => null,
    });
    expect(p!.atHex).toBe('60');
    expect(p!.leftShare).toBeCloseTo(0.5, 6);
  });

  it('halves the load of a skewed distribution (hot-key sketch + uniform remainder)', () => {
    const zipf = new Zipf(50_000, 1.2, 11);
    const tracker = new HotKeyTracker({ topK: 100, now: () => 0 });
    const exact = new Map<string, number>();
    for (let i = 0; i < 200_000; i++) {
      const v = String(zipf.next());
      exact.set(v, (exact.get(v) ?? 0) + 1);
      tracker.recordKey('s0', 'users', v);
    }
    const [w] = tracker.tableWindows('s0');
    const keys = w!.entries.map((e) => ({ table: 'users', value: e.key, load: e.lower }));
    const remainder = w!.total - keys.reduce((s, k) => s + k.load, 0);
    const input = {
      shard: 's0',
      range: whole,
      keys,
      remainder,
      keyspaceId: (_t: string, v: string) => keyspaceIdFor(v, 'int'),
    };
    const point = computeSplitPoint(input)!;
    // Check the point against the true load on each side.
    let left = 0;
    for (const [v, c] of exact) if (keyspaceIdFor(v, 'int')! < point.at) left += c;
    expect(Math.abs(left / 200_000 - 0.5)).toBeLessThan(0.05);
    expect(point.atHex).toMatch(/^[0-9a-f]{2,16}$/);
    const rec = splitAdvice(input, 88)!;
    expect(rec.command).toBe(`shardgate migrate split s0 --at ${point.atHex}`);
    expect(rec.metrics).toMatchObject({ hotspotScore: 88, splitAt: point.atHex });
  });

  it('isolates a key that carries more than half the load', () => {
    const id = 0x9000000000000000n;
    const p = computeSplitPoint({
      shard: 's0',
      range: whole,
      keys: [{ table: 't', value: 'hot', load: 900 }],
      remainder: 100,
      keyspaceId: () => id,
    })!;
    // 56 % of the remainder lies below the key: putting the key right balances best.
    expect(p.at).toBeLessThanOrEqual(id);
    expect(p.leftShare).toBeGreaterThan(0.05);
    expect(p.rightShare).toBeGreaterThan(0.9);
  });

  it('formats keyspace ids as Vitess hex prefixes', () => {
    expect(keyspaceIdHex(0x8000000000000000n)).toBe('80');
    expect(keyspaceIdHex(0x8c4f000000000000n)).toBe('8c4f');
    expect(keyspaceIdHex(0x0000000000000001n)).toBe('0000000000000001');
  });
});

describe('query advice', () => {
  it('flags scatter-heavy tables, cross-shard joins and hot keys on weak tables', () => {
    const recs = queryAdvice({
      tables: [
        { table: 'posts', level: 'eventual', reads: 1000, scatterReads: 400, crossShardJoins: 100 },
        { table: 'users', level: 'strong', reads: 1000, scatterReads: 10, crossShardJoins: 0 },
        { table: 'likes', level: 'weak', reads: 50, scatterReads: 50, crossShardJoins: 50 },
      ],
      hotKeys: [
        { shard: 's0', table: 'posts', value: '42', count: 300, tableTotal: 1000 },
        { shard: 's0', table: 'users', value: '7', count: 900, tableTotal: 1000 },
      ],
    });
    expect(recs.map((r) => `${r.kind}:${r.table}`)).toEqual([
      'avoid_scatter:posts',
      'colocate_join:posts',
      'result_cache:posts',
    ]);
    expect(recs[0]!.metrics).toMatchObject({ reads: 1000, scatterReads: 400, scatterShare: 0.4 });
    expect(recs[2]!.metrics).toMatchObject({ level: 'eventual', value: '42', share: 0.3 });
  });

  it('skips tables already cached and unknown levels', () => {
    const hotKeys = [{ shard: 's0', table: 'posts', value: '42', count: 300, tableTotal: 1000 }];
    const tables = [
      { table: 'posts', level: 'weak' as const, reads: 10, scatterReads: 0, crossShardJoins: 0 },
    ];
    expect(queryAdvice({ tables, hotKeys, cachedTables: new Set(['posts']) })).toEqual([]);
    expect(queryAdvice({ tables: [], hotKeys })).toEqual([]);
  });
});

describe('pool advice', () => {
  it('applies min(max(2 x avg, 10), 1.2 x peak)', () => {
    expect(recommendedPoolSize(20, 100)).toBe(40);
    expect(recommendedPoolSize(2, 100)).toBe(10);
    expect(recommendedPoolSize(30, 40)).toBe(48);
    expect(recommendedPoolSize(1, 5)).toBe(6);
  });

  it('advises a resize only on a clear difference, never on unknown figures', () => {
    const recs = poolAdvice([
      { shard: 's0', avgConcurrent: 20, peakConcurrent: 100, currentSize: 20 },
      { shard: 's1', avgConcurrent: 20, peakConcurrent: 100, currentSize: 38 },
      { shard: 's2', avgConcurrent: null, peakConcurrent: 100, currentSize: 1 },
    ]);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      kind: 'pool_size',
      shard: 's0',
      metrics: { recommendedSize: 40, currentSize: 20 },
      command: 'shardgate rules set-pool-size s0 40',
    });
  });
});
