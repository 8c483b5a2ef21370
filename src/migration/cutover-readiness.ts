// When a cutover attempt may take the block (docs/cutover.md, "Catching up"). The block is bounded by
// its deadline; what it waits for inside is a marker's round trip through the change capture. A small
// byte lag alone does not say that round trip fits: on a loaded machine the capture may take longer
// than the deadline to apply even a few bytes. So, like Vitess' SwitchWrites lag check, an attempt
// starts only once measured round trips fit well within the deadline; a loaded machine makes the
// cutover wait longer before the block, not abort inside it.

/** Consecutive ready samples before a block is taken: one fast sample may be luck. */
export const READY_SAMPLES = 3;

/** The share of the block's deadline a probe round trip may take: the rest is drain, acks, switch. */
export const PROBE_SHARE = 0.5;

export interface ReadinessProbe {
  /** Bytes each capture is behind its source, null when unknown. */
  lagBytes(): Promise<(number | null)[]>;
  /** Round trip of a marker through every capture (as the block's catch-up does), bounded by `timeoutMs`. */
  roundTrip(timeoutMs: number): Promise<void>;
}

export interface ReadinessSample {
  bytes: number | null;
  /** The slowest probe round trip (ms), null when it did not complete within its bound. */
  roundTripMs: number | null;
  ready: boolean;
}

/**
 * One sample: ready when every capture is at most `thresholdBytes` behind and a marker's round trip
 * completed within `PROBE_SHARE` of `deadlineMs`. The probe itself may run longer (up to
 * `probeTimeoutMs`) so that a slow capture is measured rather than reported as a failure.
 */
export async function sampleReadiness(
  probe: ReadinessProbe,
  thresholdBytes: number,
  deadlineMs: number,
  probeTimeoutMs: number,
): Promise<ReadinessSample> {
  const lags = await probe.lagBytes();
  const known = lags.every((l) => l !== null);
  const bytes = known ? lags.reduce<number>((n, l) => n + l!, 0) : null;
  const small = known && lags.every((l) => l! <= thresholdBytes);
  if (!small) return { bytes, roundTripMs: null, ready: false };
  const started = performance.now();
  const roundTripMs = await probe.roundTrip(probeTimeoutMs).then(
    () => performance.now() - started,
    () => null,
  );
  return { bytes, roundTripMs, ready: roundTripMs !== null && roundTripMs <= deadlineMs * PROBE_SHARE };
}

/** Wait before attempt `attempt` (2, 3, ...): doubling from `baseMs`, at most `maxMs`. */
export function attemptBackoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 2));
}
