// Smoke run of the pgbench scenario so it cannot rot: a private PostgreSQL, 1 client, simple
// mode, 2 s, direct + PgBouncer (installed on demand; skipped with a note if apt cannot).
// Asserts that figures are produced and the result files have the documented shape, never speed.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPgbenchScenario } from '../../bench/scenarios/pgbench.js';
import { defaultPgbenchOptions, QUICK_PRESET } from '../../bench/scenarios/pgbench-options.js';
import type { PgbenchResult } from '../../bench/scenarios/pgbench-report.js';
import { quickSmoke, readResultFiles } from '../support/bench-smoke.js';

const smoke = quickSmoke('pgbench', runPgbenchScenario, defaultPgbenchOptions(), QUICK_PRESET);

describe('bench pgbench --quick', () => {
  it('measures direct and pgbouncer and writes JSON, SVG and Markdown', async () => {
    const { result, files, lines } = await smoke.run({
      durationS: 2,
      warmupS: 1,
      targets: ['direct', 'pgbouncer'],
      jsonPath: join(smoke.dir, 'copy.json'),
      command: 'node dist/bench/main.js pgbench --quick --targets direct,pgbouncer',
    });

    const direct = result.runs.filter((r) => r.target === 'direct');
    expect(direct).toHaveLength(1);
    expect(direct[0]?.error).toBeUndefined();
    expect(direct[0]?.figures?.tps).toBeGreaterThan(0);
    expect(direct[0]?.figures?.latencyAvgMs).toBeGreaterThan(0);

    const bouncer = result.targets.find((t) => t.name === 'pgbouncer');
    expect(bouncer).toBeDefined();
    if (bouncer?.status === 'ok') {
      expect(bouncer.version).toMatch(/PgBouncer/i);
      const run = result.runs.find((r) => r.target === 'pgbouncer');
      expect(run?.figures?.tps).toBeGreaterThan(0);
      expect(result.cells[0]?.ratios['pgbouncer/direct']).toBeGreaterThan(0);
    } else {
      expect(bouncer?.note).toBeTruthy();
    }

    const json = readResultFiles<PgbenchResult>(files, {
      markdownHas: '| mode | clients |',
      extra: [join(smoke.dir, 'copy.json')],
    });
    expect(json).toMatchObject({
      scenario: 'pgbench',
      schemaVersion: 1,
      parameters: { clients: [1], modes: ['simple'] },
    });
    expect(json.machine.cpus).toBeGreaterThan(0);
    expect(json.machine.versions.postgresql).toMatch(/PostgreSQL \d+/);
    expect(json.load.before.loadavg).toHaveLength(3);
    expect(json.load.after.loadavg).toHaveLength(3);
    expect(json.cells).toHaveLength(1);
    expect(json.cells[0]).toMatchObject({ mode: 'simple', clients: 1 });
    expect(json.cells[0]?.targets.direct?.tps.n).toBe(1);
    expect(lines.text()).toContain('direct tps');
  }, 600_000);
});
