// How long a verify settle waits for a reverse capture to reach its marker. A capture that is
// applying behind the marker is slow, not stuck, so each interval with progress earns another;
// but one that keeps applying without ever reaching the marker (writes outpacing it) must not
// hold verification forever, so the whole wait is capped too.

/** The overall limit on one settle (a catch-up that keeps progressing). */
export const SETTLE_MAX_MS = 10 * 60_000;

export type SettleVerdict = 'wait' | 'stalled' | 'capped';

/**
 * After one stall interval of a catch-up: `waitedMs` is the time waited so far (this interval
 * included), `progressed` whether the applied LSN moved during the interval.
 */
export function settleVerdict(
  waitedMs: number,
  progressed: boolean,
  stallMs: number,
  maxMs: number,
): SettleVerdict {
  if (!progressed) return 'stalled';
  return waitedMs + stallMs > maxMs ? 'capped' : 'wait';
}
