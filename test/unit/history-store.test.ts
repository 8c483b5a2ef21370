// The history store: records read back by type, shard and time; retention and the byte bound
// kept by compaction; a line torn by a crash is skipped; a new store on the same directory reads
// what the previous one wrote.
import { appendFileSync, mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryStore } from '../../src/observability/history-store.js';

const dir = () => mkdtempSync(path.join(os.tmpdir(), 'shardgate-history-unit-'));

describe('HistoryStore', () => {
  it('filters by type, shard and time, and survives a new instance', async () => {
    const d = dir();
    const a = new HistoryStore({ dir: d, retentionMs: 1e12, maxBytes: 1 << 20 });
    await a.append([
      { type: 'shard', t: 1, shard: 's0', qps: 1 },
      { type: 'shard', t: 2, shard: 's1', qps: 2 },
      { type: 'alert', t: 3, shard: 's0' },
      { type: 'shard', t: 4, shard: 's0', qps: 4 },
    ]);
    const b = new HistoryStore({ dir: d, retentionMs: 1e12, maxBytes: 1 << 20 });
    expect((await b.query({ type: 'shard', shard: 's0' })).map((r) => r.t)).toEqual([1, 4]);
    expect((await b.query({ type: 'shard', from: 2, to: 4 })).map((r) => r.t)).toEqual([2, 4]);
    expect((await b.query({ type: 'shard', limit: 1 })).map((r) => r.t)).toEqual([4]);
    expect((await b.query({ type: 'alert' })).map((r) => r.t)).toEqual([3]);
  });

  it('skips a torn line', async () => {
    const d = dir();
    const s = new HistoryStore({ dir: d, retentionMs: 1e12, maxBytes: 1 << 20 });
    await s.append([{ type: 'shard', t: 1, shard: 's0' }]);
    appendFileSync(s.file, '{"type":"shard","t":2,"sh\n');
    await s.append([{ type: 'shard', t: 3, shard: 's0' }]);
    expect((await s.query()).map((r) => r.t)).toEqual([1, 3]);
  });

  it('ends a torn last line before appending after a restart', async () => {
    const d = dir();
    const s = new HistoryStore({ dir: d, retentionMs: 1e12, maxBytes: 1 << 20 });
    await s.append([{ type: 'shard', t: 1, shard: 's0' }]);
    appendFileSync(s.file, '{"type":"shard","t":2');
    const again = new HistoryStore({ dir: d, retentionMs: 1e12, maxBytes: 1 << 20 });
    await again.append([{ type: 'shard', t: 3, shard: 's0' }]);
    expect((await again.query()).map((r) => r.t)).toEqual([1, 3]);
  });

  it('drops records past the retention when compacting', async () => {
    let now = 10_000;
    const s = new HistoryStore({ dir: dir(), retentionMs: 5_000, maxBytes: 1 << 20, now: () => now });
    await s.append([
      { type: 'shard', t: 1_000, shard: 's0' },
      { type: 'shard', t: 6_000, shard: 's0' },
    ]);
    now = 10_500; // cutoff 5_500
    await s.compact();
    expect((await s.query()).map((r) => r.t)).toEqual([6_000]);
  });

  it('stays within its byte bound, dropping the oldest', async () => {
    const maxBytes = 64 * 1024;
    const s = new HistoryStore({ dir: dir(), retentionMs: 1e12, maxBytes });
    const pad = 'x'.repeat(200);
    for (let t = 0; t < 2_000; t++) await s.append([{ type: 'shard', t, shard: 's0', pad }]);
    expect(statSync(s.file).size).toBeLessThanOrEqual(maxBytes);
    expect(s.sizeBytes).toBe(statSync(s.file).size);
    const kept = (await s.query({ limit: 100_000 })).map((r) => r.t);
    expect(kept.at(-1)).toBe(1_999);
    expect(kept[0]).toBeGreaterThan(0);
    // Contiguous: only the oldest went.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]! + i));
  });
});
