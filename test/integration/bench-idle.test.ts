// Smoke run of the idle-connections scenario so it cannot rot: a private PostgreSQL, shardgate,
// 200 idle clients from the opener process, pgbench -S at 16 clients for 5 s without and with
// them. Asserts that the figures exist and the files have their shape, never speed or memory.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runIdleScenario } from '../../bench/scenarios/idle.js';
import { defaultIdleOptions, QUICK_IDLE } from '../../bench/scenarios/idle-options.js';
import type { IdleResult } from '../../bench/scenarios/idle-report.js';
import { quickSmoke, readResultFiles } from '../support/bench-smoke.js';

const smoke = quickSmoke('idle', runIdleScenario, defaultIdleOptions(), QUICK_IDLE);

describe('bench idle --quick', () => {
  it('holds the idle clients, reads the proxy memory, times pgbench without and with them', async () => {
    const { result, files, lines } = await smoke.run({
      // 5 s, not --quick's 1: at load 45 pgbench's 16 connections alone can take a whole second.
      durationS: 5,
      jsonPath: join(smoke.dir, 'copy.json'),
    });

    expect(result.runs.map((r) => [r.round, r.withIdle])).toEqual([
      [0, false],
      [0, true],
    ]);
    for (const run of result.runs) {
      expect(run.error).toBeUndefined();
      expect(run.figures?.tps).toBeGreaterThan(0);
      expect(run.figures?.transactions).toBeGreaterThan(0);
      expect(run.figures?.p99Ms).toBeGreaterThanOrEqual(run.figures?.p50Ms ?? Number.NaN);
    }
    expect(result.memory).toHaveLength(1);
    expect(result.memory[0]?.opened).toBe(200);
    expect(result.memory[0]?.idle.rssKb).toBeGreaterThan(0);
    expect(result.memory[0]?.idle.hwmKb).toBeGreaterThanOrEqual(result.memory[0]?.idle.rssKb ?? 0);
    expect(result.summary.p99Ratio).toBeGreaterThan(0);
    // 200 is not the goal's 10,000: the RSS goal is not judged.
    expect(result.summary.goals.rss).toBeNull();

    const json = readResultFiles<IdleResult>(files, {
      markdownHas: '| round | idle clients |',
      extra: [join(smoke.dir, 'copy.json')],
    });
    expect(json).toMatchObject({ scenario: 'idle', schemaVersion: 1, parameters: { connections: 200 } });
    expect(json.load.before.loadavg).toHaveLength(3);
    expect(lines.text()).toContain('200 idle in');
  }, 600_000);
});
