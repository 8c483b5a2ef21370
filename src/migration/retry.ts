// Waiting between attempts: capped exponential backoff and a sleep that an AbortSignal ends early.

export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 200, maxMs: 5_000 };

/** Delay before retry number `attempt` (0-based): initial * 2^attempt, capped. */
export function backoffDelay(attempt: number, settings: BackoffSettings = DEFAULT_BACKOFF): number {
  return Math.min(settings.maxMs, settings.initialMs * 2 ** Math.min(attempt, 30));
}

/** Resolves after `ms`, or at once (without error) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
