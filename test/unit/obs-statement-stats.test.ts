import { describe, expect, it } from 'vitest';
import { type StatementSample, StatementStats } from '../../src/observability/statement-stats.js';

const sample = (over: Partial<StatementSample> = {}): StatementSample => ({
  protocol: 'postgres',
  fingerprint: 'select * from likes where user_id = $1',
  shard: 's0',
  role: 'replica',
  level: 'eventual',
  outcome: 'ok',
  latencySeconds: 0.002,
  rows: 3,
  part: null,
  ...over,
});

describe('StatementStats', () => {
  it('sums calls, time, rows, shards, levels and roles per fingerprint', () => {
    const s = new StatementStats(1_000_000, () => 0);
    s.record(sample());
    s.record(sample({ shard: 's1', latencySeconds: 0.004, rows: 1 }));
    s.record(sample({ outcome: 'error', role: 'primary', level: 'strong', rows: null }));
    const [row] = s.top(10);
    expect(row).toMatchObject({
      calls: 3,
      errors: 1,
      rows: 4,
      shards: { s0: 2, s1: 1 },
      levels: { eventual: 2, strong: 1 },
      roles: { primary: 1, replica: 2 },
      scatterCalls: 0,
    });
    expect(row!.totalMs).toBeCloseTo(8);
    expect(row!.meanMs).toBeCloseTo(8 / 3);
    expect(row!.minMs).toBeCloseTo(2);
    expect(row!.maxMs).toBeCloseTo(4);
  });

  it('counts a multi-shard statement once, on every shard it touched', () => {
    const s = new StatementStats(1_000_000);
    const q = 'select count(*) from likes';
    for (const [part, shard] of [
      [0, 's0'],
      [1, 's1'],
    ] as const)
      s.record(sample({ fingerprint: q, part, shard, rows: null }));
    expect(s.top(1)[0]).toMatchObject({ calls: 1, scatterCalls: 1, shards: { s0: 1, s1: 1 } });
  });

  it('stays within its byte bound, dropping the least-called statements first', () => {
    const s = new StatementStats(20_000);
    for (let i = 0; i < 5; i++) s.record(sample({ fingerprint: 'select hot' }));
    for (let i = 0; i < 200; i++) s.record(sample({ fingerprint: `select ${i} from t${i}` }));
    const st = s.stats();
    expect(st.bytes).toBeLessThanOrEqual(20_000);
    expect(st.evicted).toBeGreaterThan(0);
    expect(s.top(1, 'calls')[0]).toMatchObject({ query: 'select hot', calls: 5 });
  });
});
