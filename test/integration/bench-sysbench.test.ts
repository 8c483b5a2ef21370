// Smoke run of the sysbench scenario (--quick) so it cannot rot: a private MariaDB primary,
// oltp_point_select for 2 s, direct and shardgate's MySQL port. It passes whether or not this
// shardgate build serves MySQL: direct figures must exist; shardgate either has figures or a note
// saying why it was skipped. sysbench is apt-get installed on demand. Never asserts speed.
import { describe, expect, it } from 'vitest';
import { runSysbenchScenario } from '../../bench/scenarios/sysbench.js';
import { defaultSysbenchOptions, SYSBENCH_QUICK } from '../../bench/scenarios/sysbench-options.js';
import type { SysbenchResult } from '../../bench/scenarios/sysbench-report.js';
import { quickSmoke, readResultFiles } from '../support/bench-smoke.js';

const smoke = quickSmoke('sysbench', runSysbenchScenario, defaultSysbenchOptions(), SYSBENCH_QUICK);

describe('bench sysbench --quick', () => {
  it('measures direct, and shardgate when it serves MySQL, and writes JSON, SVG and Markdown', async () => {
    const { result, files, lines } = await smoke.run();

    const direct = result.runs.filter((r) => r.target === 'direct');
    expect(direct).toHaveLength(1);
    expect(direct[0]?.error).toBeUndefined();
    expect(direct[0]?.figures?.tps).toBeGreaterThan(0);
    expect(direct[0]?.figures?.qps).toBeGreaterThan(0);
    expect(direct[0]?.figures?.latencyP99Ms).toBeGreaterThan(0);
    expect(result.cells[0]?.targets.direct?.tps.n).toBe(1);

    const shardgate = result.targets.find((t) => t.name === 'shardgate');
    expect(shardgate).toBeDefined();
    if (shardgate?.status === 'ok') {
      const run = result.runs.find((r) => r.target === 'shardgate');
      expect(run?.error).toBeUndefined();
      expect(run?.figures?.tps).toBeGreaterThan(0);
      expect(result.cells[0]?.ratios['shardgate/direct']).toBeGreaterThan(0);
    } else {
      // Skipped (no MySQL front end in this build) or failed: the report says why.
      expect(shardgate?.note).toBeTruthy();
      expect(lines.text()).toContain(`shardgate: ${shardgate?.status}`);
    }

    const json = readResultFiles<SysbenchResult>(files, { markdownHas: '| test | threads |' });
    expect(json).toMatchObject({
      scenario: 'sysbench',
      schemaVersion: 1,
      parameters: { tests: ['oltp_point_select'], threads: [1], psMode: 'disable' },
    });
    expect(json.machine.versions.sysbench).toMatch(/sysbench \d/);
    expect(json.machine.versions.mariadb).toMatch(/MariaDB \d+/);
    expect(json.load.before.loadavg).toHaveLength(3);
    expect(lines.text()).toContain('direct tps');
  }, 300_000);
});
