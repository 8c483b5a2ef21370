// Target comparisons (pgbench, sysbench): each target's status line, the warm-up that leaves a
// failing target out, and the measured loop: per cell and repeat every target once, the order
// rotating between repeats (alternate.ts), each run stamped with its start and the load average.
import { rotation } from './alternate.js';
import { loadSnapshot } from './machine.js';

export interface TargetState {
  name: string;
  status: 'ok' | 'skipped' | 'failed';
  version?: string;
  note?: string;
}

/** One benchmark tool invocation: its figures, or why there are none. */
export type ToolOutcome<F> = { ok: true; figures: F } | { ok: false; error: string };

/** "shardgate: ok (shardgate 2 workers)", "pgpool: skipped: not installed". */
export function describeTargetStatus(s: TargetState): string {
  return `${s.name}: ${s.status}${s.version ? ` (${s.version})` : ''}${s.note ? `: ${s.note}` : ''}`;
}

/** One short run per ok target so pools and caches are warm; a target whose warm-up fails is left out. */
export async function warmUpTargets<T extends { name: string }>(
  targets: readonly T[],
  statusOf: (name: string) => TargetState | undefined,
  warm: (target: T) => Promise<ToolOutcome<unknown>>,
  tell: (text: string) => void,
): Promise<void> {
  for (const t of targets) {
    const status = statusOf(t.name);
    if (status?.status !== 'ok') continue;
    const r = await warm(t);
    if (!r.ok) {
      status.status = 'failed';
      status.note = `warm-up failed: ${r.error}`;
      tell(`${t.name}: warm-up failed, leaving it out: ${r.error}`);
    }
  }
}

/** A measured run: the target, the cell's own fields, then where and when it ran. */
export type TimedRun<C, F> = { target: string } & C & {
    repeat: number;
    order: number;
    startedAt: string;
    /** 1-minute load average when the run started. */
    loadavg1: number;
    figures: F | null;
    error?: string;
  };

/**
 * For every cell, `repeats` rounds over the targets in rotated order; `skip` leaves a target out
 * of a cell (its position in the order still counts). After each round a line with every
 * target's TPS is said, led by `label(cell)`.
 */
export async function measureAlternating<
  T extends { name: string },
  C extends object,
  F extends { tps: number },
>(o: {
  cells: readonly C[];
  repeats: number;
  targets: readonly T[];
  skip?: (target: T, cell: C) => boolean;
  run: (target: T, cell: C) => Promise<ToolOutcome<F>>;
  label: (cell: C) => string;
  say: (line: string) => void;
}): Promise<TimedRun<C, F>[]> {
  const runs: TimedRun<C, F>[] = [];
  for (const cell of o.cells) {
    for (let repeat = 0; repeat < o.repeats; repeat++) {
      const line: string[] = [];
      for (const [order, t] of rotation(o.targets, repeat).entries()) {
        if (o.skip?.(t, cell)) continue;
        const startedAt = new Date().toISOString();
        const loadavg1 = loadSnapshot().loadavg[0];
        const r = await o.run(t, cell);
        const run: TimedRun<C, F> = {
          target: t.name,
          ...cell,
          repeat,
          order,
          startedAt,
          loadavg1,
          figures: r.ok ? r.figures : null,
        };
        if (!r.ok) run.error = r.error;
        runs.push(run);
        line.push(r.ok ? `${t.name} ${r.figures.tps.toFixed(0)} tps` : `${t.name} failed`);
      }
      o.say(`  ${o.label(cell)} #${repeat + 1}: ${line.join(', ')}`);
    }
  }
  return runs;
}
