// Smoke run of the hotkeys scenario (--quick) so it cannot rot: 2 shards x 1 replica, shardgate as
// a child process (needs `npm run build`), zipfian statements through it, then /api/hotkeys against
// the generator's exact counts. Asserts accuracy (precision@10) and the result files, never speed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runHotkeysScenario } from '../../bench/scenarios/hotkeys.js';
import { defaultHotkeysOptions, HOTKEYS_QUICK } from '../../bench/scenarios/hotkeys-options.js';
import type { HotkeysResult } from '../../bench/scenarios/hotkeys-report.js';

const dir = mkdtempSync(join(tmpdir(), 'bench-hotkeys-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench hotkeys --quick', () => {
  it('finds the true top 10 keys (precision@10 >= 0.8) and writes JSON, SVG and Markdown', async () => {
    const lines: string[] = [];
    const { result, files } = await runHotkeysScenario({
      ...defaultHotkeysOptions(),
      ...HOTKEYS_QUICK,
      resultsDir: dir,
      command: 'node dist/bench/main.js hotkeys --quick',
      say: (line) => lines.push(line),
    });

    expect(result.repeats).toHaveLength(1);
    const run = result.repeats[0]!;
    expect(run.errors).toBe(0);
    expect(run.ops).toBe(HOTKEYS_QUICK.ops);
    expect(run.precision['10']).toBeGreaterThanOrEqual(0.8);
    expect(run.reported.length).toBe(10);
    // Space-Saving over-estimates: every reported count is at least the true count.
    for (const k of run.reported) expect(k.count).toBeGreaterThanOrEqual(k.trueCount);
    expect(run.spearman).toBeGreaterThan(0);
    expect(run.shards.map((s) => s.shard)).toEqual(['s0', 's1']);
    for (const s of run.shards) {
      expect(s.trueRequests).toBeGreaterThan(0);
      expect(s.reportedScore).toBeGreaterThan(0);
      expect(s.trueScore).toBeGreaterThan(0);
    }
    expect(run.shards.reduce((n, s) => n + s.trueRequests, 0)).toBe(run.ops);

    for (const f of [files?.json, files?.latestJson, files?.svg, files?.markdown]) {
      expect(f && existsSync(f)).toBe(true);
    }
    const json = JSON.parse(readFileSync(files?.latestJson ?? '', 'utf8')) as HotkeysResult;
    expect(json).toMatchObject({
      scenario: 'hotkeys',
      schemaVersion: 1,
      parameters: { top: 10, repeats: 1 },
    });
    expect(json.machine.versions.postgresql).toMatch(/PostgreSQL \d+/);
    expect(json.summary.precision['10']?.n).toBe(1);
    expect(json.load.after.loadavg).toHaveLength(3);
    expect(readFileSync(files?.svg ?? '', 'utf8')).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
    expect(readFileSync(files?.markdown ?? '', 'utf8')).toContain('| figure | median [min-max] |');
    expect(lines.join('\n')).toContain('precision@10');
  }, 300_000);
});
