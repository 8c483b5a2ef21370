// The routing advisor's per-table read counters are bounded by bytes: table names come from
// clients, and a client naming endless distinct tables must not grow the process.
import { describe, expect, it } from 'vitest';
import { ObservabilityTracker, type StatementRecord } from '../../src/observability/tracker.js';

function read(tables: string[], scatter = false): StatementRecord {
  return {
    shard: 's0',
    server: 's0-primary',
    role: 'primary',
    kind: 'read',
    outcome: 'ok',
    latencySeconds: 0.001,
    level: 'strong',
    keys: [],
    tables,
    scatter,
    fanout: scatter ? 2 : 1,
  };
}

describe('table access counters', () => {
  it('stay within their byte bound under a flood of distinct names; a popular table keeps its counts', () => {
    const bound = 64 * 1024;
    const tracker = new ObservabilityTracker({ hotKeys: false, tableAccessBytes: bound });
    for (let i = 0; i < 1_000; i++) tracker.recordStatement(read(['users']));
    for (let i = 0; i < 100_000; i++) {
      tracker.recordStatement(read([`probe_${i}`]));
      if (i % 100 === 0) tracker.recordStatement(read(['users']));
    }
    const tables = tracker.tableAccess();
    // Each cell costs its name plus bookkeeping (~130 bytes): a few hundred fit, not 100,000.
    expect(tables.length).toBeLessThan(bound / 120);
    expect(tables.length).toBeGreaterThan(bound / 400);
    expect(tables.find((t) => t.table === 'users')?.reads).toBe(2_000);
  });

  it('keeps a long name as a prefix and a hash (distinct names stay distinct)', () => {
    const tracker = new ObservabilityTracker({ hotKeys: false });
    const a = `t_${'a'.repeat(100_000)}`;
    const b = `t_${'a'.repeat(99_999)}b`;
    tracker.recordStatement(read([a]));
    tracker.recordStatement(read([a]));
    tracker.recordStatement(read([b]));
    const tables = tracker.tableAccess();
    expect(tables).toHaveLength(2);
    for (const t of tables) expect(t.table.length).toBeLessThan(80);
    expect(tables.map((t) => t.reads).sort()).toEqual([1, 2]);
  });

  it('counts scatter reads and cross-shard joins as before', () => {
    const tracker = new ObservabilityTracker({ hotKeys: false });
    tracker.recordStatement(read(['posts', 'users'], true));
    tracker.recordStatement(read(['posts'], true));
    const posts = tracker.tableAccess().find((t) => t.table === 'posts');
    expect(posts).toMatchObject({ reads: 1, scatterReads: 1, crossShardJoins: 0.5, level: 'strong' });
  });
});
