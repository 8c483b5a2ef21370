// The executor's part runner through a fake backend (no sockets): every binding or none, every
// binding given back whatever happened, the protocol's lost-connection error, the first failed
// part by part order, and the merge of the parts' rows in part order.
import { describe, expect, it } from 'vitest';
import { ResultMerger } from '../../src/executor/merger.js';
import type { Row } from '../../src/executor/rows.js';
import { mergeParts, runParts, type ShardBackend } from '../../src/executor/shard-parts.js';
import type { RouteTarget } from '../../src/router/plan.js';

interface FakeBinding {
  shard: string;
}
interface Answer {
  shard: string;
  error: string | null;
}

const target = (shard: string): RouteTarget => ({ shard, server: `${shard}-primary`, role: 'primary' });
const parts = (...shards: string[]) => shards.map((s) => ({ target: target(s), sql: `select ${s}` }));

/** A fake backend that records what happened, in order. */
function fake(behaviour: {
  acquireFails?: string;
  runThrows?: string;
  errorOn?: string[];
  lost?: boolean;
  whileHeld?: boolean;
}) {
  const log: string[] = [];
  const backend: ShardBackend<FakeBinding, { sql: string }, Answer> = {
    acquire: async (t) => {
      if (t.shard === behaviour.acquireFails) throw new Error(`no connection for ${t.shard}`);
      log.push(`acquire ${t.shard}`);
      return { shard: t.shard };
    },
    release: (b) => log.push(`release ${b.shard}`),
    run: async (b, part, i) => {
      if (b.shard === behaviour.runThrows) throw new Error(`lost ${b.shard}`);
      log.push(`run ${i} ${part.sql}`);
      return { shard: b.shard, error: behaviour.errorOn?.includes(b.shard) ? `err ${b.shard}` : null };
    },
    failed: (r) => r.error !== null,
  };
  if (behaviour.lost)
    backend.lost = (bindings, err) => new Error(`coded: ${String(err)} on ${bindings.length}`);
  if (behaviour.whileHeld)
    backend.whileHeld = async (bindings, results) => {
      log.push(`held ${bindings.map((b) => b.shard).join(',')} ${results.length}`);
    };
  return { backend, log };
}

describe('runParts', () => {
  it('runs every part on its own binding, index-aligned, and gives every binding back after', async () => {
    const { backend, log } = fake({ whileHeld: true });
    const out = await runParts(backend, parts('a', 'b', 'c'));
    expect(out.bindings.map((b) => b.shard)).toEqual(['a', 'b', 'c']);
    expect(out.results.map((r) => r.shard)).toEqual(['a', 'b', 'c']);
    expect(out.failed).toBeUndefined();
    expect(out.latencySeconds).toBeGreaterThanOrEqual(0);
    const held = log.indexOf('held a,b,c 3');
    expect(held).toBeGreaterThan(log.indexOf('run 2 select c'));
    expect(log.slice(held + 1)).toEqual(['release a', 'release b', 'release c']);
  });

  it('gives back the bindings already acquired when one cannot be, and runs nothing', async () => {
    const { backend, log } = fake({ acquireFails: 'b' });
    await expect(runParts(backend, parts('a', 'b', 'c'))).rejects.toThrow('no connection for b');
    expect(log.filter((l) => l.startsWith('run'))).toEqual([]);
    expect(log.filter((l) => l.startsWith('release')).sort()).toEqual(['release a', 'release c']);
  });

  it('names the first failed part by part order, not by arrival', async () => {
    const { backend } = fake({ errorOn: ['c', 'b'] });
    const out = await runParts(backend, parts('a', 'b', 'c'));
    expect(out.failed?.error).toBe('err b');
    expect(out.results).toHaveLength(3);
  });

  it("throws the protocol's lost-connection error instead, bindings released once", async () => {
    const { backend, log } = fake({ runThrows: 'b', lost: true });
    await expect(runParts(backend, parts('a', 'b'))).rejects.toThrow('coded: Error: lost b on 2');
    expect(log.filter((l) => l.startsWith('release'))).toEqual(['release a', 'release b']);
  });

  it('throws the part error itself when the protocol names no loss', async () => {
    const { backend, log } = fake({ runThrows: 'a' });
    await expect(runParts(backend, parts('a', 'b'))).rejects.toThrow('lost a');
    expect(log.filter((l) => l.startsWith('release'))).toEqual(['release a', 'release b']);
  });
});

describe('mergeParts', () => {
  const row = (...cells: string[]): Row => cells.map((c) => Buffer.from(c));
  const texts = (rows: Row[]) => rows.map((r) => r.map((c) => c?.toString()));

  it('concatenates in part order without a merge spec', () => {
    const merger = new ResultMerger(null, [{ name: 'n', typeOid: 20, format: 'text' }], { maxRows: 100 });
    expect(texts(mergeParts(merger, [[row('2')], [], [row('1'), row('3')]]))).toEqual([['2'], ['1'], ['3']]);
  });
});
