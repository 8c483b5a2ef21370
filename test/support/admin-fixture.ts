// What the integration tests that read a proxy's admin API (history, reports, alerts, shards,
// pools, cache) set up alike: the admin token, health checks and alert evaluation every 200 ms,
// authorized JSON reads, and polling until the API shows a value.

/** The admin token of these tests' fixtures. */
export const ADMIN_TOKEN = 'secret';
/** The header that authorizes a request to the admin API. */
export const adminAuth = { authorization: `Bearer ${ADMIN_TOKEN}` } as const;

/**
 * Fixture overrides: the admin token, plus health checks and alert evaluation every 200 ms with
 * `alerts` (rules, webhookUrl) when given; `more` is merged into the observability section.
 */
export function adminOverrides(
  alerts?: Record<string, unknown>,
  more: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    admin: { token: ADMIN_TOKEN },
    ...(alerts
      ? { observability: { healthIntervalMs: 200, ...more, alerts: { evaluateIntervalMs: 200, ...alerts } } }
      : {}),
  };
}

/** An authorized GET of an admin path (`base()` is the admin URL), parsed as JSON. */
export const adminJson =
  (base: () => string) =>
  async <T>(path: string): Promise<T> =>
    (await (await fetch(base() + path, { headers: adminAuth })).json()) as T;

/** Polls `probe` every 100 ms until it returns a value, or fails with `what` after the deadline. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((r) => setTimeout(r, 100));
  }
}
