// The proxy fixture the operator-facing integration tests share: two shards with a replica each,
// the admin API behind a token, and (when a test gives alert rules) fast health and alert ticks.
import { type ProxyFixture, startProxyFixture } from './proxy-fixture.js';

export const ADMIN_TOKEN = 'secret';
export const adminAuth = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface AdminFixtureOptions {
  /** Alert rules, evaluated every 200 ms with health ticks every 200 ms. */
  alertRules?: Array<Record<string, unknown>>;
  webhookUrl?: string;
  /** Further observability settings (history, ...). */
  observability?: Record<string, unknown>;
  /** Further configuration keys (dataTypes, migration, ...). */
  overrides?: Record<string, unknown>;
  spares?: number;
}

export function startAdminFixture(o: AdminFixtureOptions = {}): Promise<ProxyFixture> {
  const observability = o.alertRules
    ? {
        healthIntervalMs: 200,
        ...o.observability,
        alerts: {
          evaluateIntervalMs: 200,
          ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}),
          rules: o.alertRules,
        },
      }
    : o.observability;
  return startProxyFixture({
    shards: 2,
    replicas: 1,
    ...(o.spares ? { spares: o.spares } : {}),
    overrides: { admin: { token: ADMIN_TOKEN }, ...(observability ? { observability } : {}), ...o.overrides },
  });
}

/** The admin API's base URL of a fixture. */
export const adminBase = (fx: ProxyFixture) => `http://127.0.0.1:${fx.proxy.admin!.port}`;

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
