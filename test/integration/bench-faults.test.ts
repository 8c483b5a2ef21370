// Smoke run of `bench faults --quick` so it cannot rot: kill -9 of a replica under a steady
// eventual-read load in transaction pooling. Asserts counts (no client error, no closed session,
// the replica shunned) and the result files, never timing.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFaultsBench } from '../../bench/scenarios/faults.js';
import type { FaultsResult } from '../../bench/scenarios/faults-report.js';

const dir = mkdtempSync(join(tmpdir(), 'bench-faults-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench faults --quick', () => {
  it('kills a replica under load: 0 read errors, 0 sessions closed, the replica shunned; writes the reports', async () => {
    const lines: string[] = [];
    const { ok } = await runFaultsBench({
      faults: ['replica-kill'],
      poolModes: ['transaction'],
      readers: 4,
      beforeSeconds: 1,
      afterSeconds: 2,
      resultsDir: dir,
      command: 'node dist/bench/main.js faults --quick',
      log: (line) => lines.push(line),
    });
    if (!ok) console.log(lines.join('\n'));
    expect(ok).toBe(true);
    const result = JSON.parse(readFileSync(join(dir, 'faults-latest.json'), 'utf8')) as FaultsResult;
    const run = result.runs[0]!;
    expect(run).toMatchObject({ fault: 'replica-kill', poolMode: 'transaction', victim: 's0-replica1' });
    expect(run.reads.after.errors).toBe(0);
    expect(run.sessionsClosed).toBe(0);
    expect(run.reads.after.ok).toBeGreaterThan(0);
    expect(run.shunMs).not.toBeNull();
    expect(existsSync(join(dir, 'faults-latest.svg'))).toBe(true);
    expect(readFileSync(join(dir, 'faults-latest.md'), 'utf8')).toContain('replica-kill (s0-replica1)');
    expect(lines.join('\n')).toContain('sessions closed');
  }, 180_000);
});
