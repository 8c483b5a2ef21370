import { describe, expect, it } from 'vitest';
import { openFileLimit, pgStartup } from '../../bench/lib/idle-opener.js';
import { latencyFigures, parsePgbenchLog } from '../../bench/lib/pgbench-log.js';
import { parseStatusMemory, processTreeMemory } from '../../bench/lib/process-memory.js';
import type { IdleMemory, IdleRun } from '../../bench/scenarios/idle-report.js';
import { summarize } from '../../bench/scenarios/idle-report.js';

describe('bench idle helpers', () => {
  it('reads latencies from pgbench log lines, leaving out failed and skipped transactions', () => {
    const log = [
      '0 1 1500 0 1700000000 123456',
      '0 2 failed 0 1700000000 223456',
      '1 1 2500 0 1700000000 1',
      '',
    ].join('\n');
    expect(parsePgbenchLog(log)).toEqual([1500, 2500]);
    const f = latencyFigures([1000, 2000, 3000, 4000, 100_000]);
    expect(f.transactions).toBe(5);
    expect(f.p50Ms).toBe(3);
    expect(f.maxMs).toBe(100);
    expect(f.p99Ms).toBeGreaterThan(90);
  });

  it('reads VmRSS and VmHWM, and this process has both', () => {
    expect(parseStatusMemory('Name:\tnode\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n')).toEqual({
      rssKb: 1024,
      hwmKb: 2048,
    });
    expect(parseStatusMemory('Name:\tkthreadd\n')).toBeNull();
    const mine = processTreeMemory(process.pid);
    expect(mine?.rssKb).toBeGreaterThan(0);
    expect(mine?.hwmKb).toBeGreaterThanOrEqual(mine?.rssKb ?? 0);
    expect(processTreeMemory(2 ** 30)).toBeNull();
  });

  it('reads the open-file limit', () => {
    expect(
      openFileLimit(
        'Limit  Soft Limit  Hard Limit  Units\nMax open files            20000                20000                files\n',
      ),
    ).toBe(20000);
    expect(openFileLimit('Max open files            unlimited            unlimited            files\n')).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(openFileLimit('nothing here')).toBeNull();
  });

  it('encodes a protocol 3.0 startup message with user and database', () => {
    const m = pgStartup('bench', 'db');
    expect(m.readInt32BE(0)).toBe(m.length);
    expect(m.readInt32BE(4)).toBe(196608);
    expect(m.toString('utf8', 8)).toContain('user\0bench\0database\0db\0');
    expect(m[m.length - 1]).toBe(0);
  });

  it('judges the RSS goal only at 10,000 idle clients and takes p99 ratios per round', () => {
    const run = (round: number, withIdle: boolean, p99Ms: number, tps: number): IdleRun => ({
      round,
      withIdle,
      startedAt: '',
      loadavg1: 0,
      figures: { tps, transactions: 10, p50Ms: 1, p90Ms: 1, p99Ms, maxMs: p99Ms },
    });
    const runs = [
      run(0, false, 10, 100),
      run(0, true, 12, 90),
      run(1, false, 10, 100),
      run(1, true, 10, 100),
    ];
    const mem = { rssKb: 200 * 1024, hwmKb: 210 * 1024, processes: 1 };
    const memory: IdleMemory[] = [
      {
        round: 0,
        opened: 10_000,
        loginMs: 1,
        openerFdLimit: 20_000,
        before: mem,
        idle: mem,
        afterRun: mem,
        perIdleClientKb: 8,
      },
    ];
    const s = summarize(runs, memory, 10_000);
    expect(s.p99RatioPerRound).toEqual([1.2, 1]);
    expect(s.p99Ratio).toBeCloseTo(1.1);
    expect(s.tpsRatioPerRound).toEqual([0.9, 1]);
    expect(s.goals.rss).toBe(true);
    expect(summarize(runs, memory, 9_999).goals.rss).toBeNull();
    expect(summarize(runs, [{ ...memory[0]!, idle: { ...mem, rssKb: 301 * 1024 } }], 10_000).goals.rss).toBe(
      false,
    );
  });
});
