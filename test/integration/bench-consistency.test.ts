// Smoke run of the consistency scenario (--quick) so it cannot rot: 2 shards x 1 replica, shardgate
// as a child process (needs `npm run build`), replica lag 0 and 1 s, every level. Asserts the
// promises of the levels as the checker sees them, and the result files; never speed.
import { describe, expect, it } from 'vitest';
import { runConsistencyScenario } from '../../bench/scenarios/consistency.js';
import { CONSISTENCY_QUICK, defaultConsistencyOptions } from '../../bench/scenarios/consistency-options.js';
import type { ConsistencyResult } from '../../bench/scenarios/consistency-report.js';
import { quickSmoke, readResultFiles } from '../support/bench-smoke.js';

const smoke = quickSmoke(
  'consistency',
  runConsistencyScenario,
  defaultConsistencyOptions(),
  CONSISTENCY_QUICK,
);

describe('bench consistency --quick', () => {
  it('keeps strong and read_your_writes promises under 1 s lag and serves eventual reads from replicas', async () => {
    const { result, files, lines } = await smoke.run();

    expect(result.runs).toHaveLength(2 * 5);
    for (const run of result.runs) {
      expect(run.errors, run.error).toBe(0);
      expect(run.reads).toBeGreaterThan(0);
      expect(run.writes).toBeGreaterThan(0);
      // A version written after the read ended would mean a broken harness.
      expect(run.future).toBe(0);
      expect(run.unknown).toBe(0);
    }
    const cell = (lagMs: number, level: string) => {
      const c = result.cells.find((x) => x.lagMs === lagMs && x.level === level);
      if (!c) throw new Error(`no cell ${level} at ${lagMs} ms`);
      return c;
    };
    for (const lagMs of [0, 1000]) {
      expect(cell(lagMs, 'strong').rywViolations).toBe(0);
      expect(cell(lagMs, 'read_your_writes').rywViolations).toBe(0);
      expect(cell(lagMs, 'strong').replicaShare.median).toBe(0);
      expect(cell(lagMs, 'eventual').replicaShare.median).toBeGreaterThan(0.5);
    }
    expect(cell(1000, 'strong').stale).toBe(0);
    // The checker does see staleness where it must exist: eventual reads behind a 1 s replay delay.
    expect(cell(1000, 'eventual').stale).toBeGreaterThan(0);

    const json = readResultFiles<ConsistencyResult>(files, {
      markdownHas: '| lag ms | level |',
      svg: /^<svg [\s\S]*stale-read rate[\s\S]*<\/svg>\n$/,
    });
    expect(json).toMatchObject({
      scenario: 'consistency',
      schemaVersion: 1,
      parameters: { lagsMs: [0, 1000], repeats: 1, via: 'set' },
    });
    expect(json.machine.versions.postgresql).toMatch(/PostgreSQL \d+/);
    expect(json.cells).toHaveLength(10);
    expect(json.runs[0]?.read.p99Ms).toBeGreaterThan(0);
    expect(lines.text()).toContain('RYW violations');
  }, 300_000);
});
