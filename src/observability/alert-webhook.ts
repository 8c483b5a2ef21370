// Posts alerts to a webhook in the Alertmanager v2 /api/v2/alerts shape. One background worker
// drains a bounded queue in order (so a resolve never overtakes its firing), each POST with a
// timeout and retries with exponential backoff. Firing alerts are re-sent every
// resendIntervalMs with endsAt in the future, as Prometheus does, so Alertmanager keeps them
// active while shardgate runs and lets them expire if it stops.
import type { AlertEvent } from './alerts.js';

export interface WebhookOptions {
  url: string;
  /** Per attempt (default 5 s). */
  timeoutMs?: number;
  /** Extra attempts after the first (default 3). */
  retries?: number;
  /** First backoff, doubled per retry (default 500 ms). */
  backoffMs?: number;
  /** Re-send still-firing alerts this often (default 60 s; 0 disables). */
  resendIntervalMs?: number;
  /** Batches kept while the webhook is slow or down; older ones are dropped (default 100). */
  maxQueue?: number;
  headers?: Record<string, string>;
  /** Called when a batch is given up after all retries (or dropped from a full queue). */
  onError?: (err: Error) => void;
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL: string;
}

/** Converts events to the Alertmanager v2 alert objects. */
export function toAlertmanager(
  events: readonly AlertEvent[],
  generatorURL: string,
  firingEndsAt: number | null,
): AlertmanagerAlert[] {
  return events.map((e) => {
    const labels: Record<string, string> = {
      alertname: e.alertname,
      severity: e.severity,
      shard: e.shard,
      metric: e.metric,
      service: 'shardgate',
    };
    if (e.replica) labels.replica = e.replica;
    if (e.protocol) labels.protocol = e.protocol;
    const annotations: Record<string, string> = { summary: e.summary, description: e.description };
    if (e.recommendation) annotations.recommendation = e.recommendation;
    const alert: AlertmanagerAlert = {
      labels,
      annotations,
      startsAt: new Date(e.startsAt).toISOString(),
      generatorURL,
    };
    const ends = e.status === 'resolved' ? e.endsAt : firingEndsAt;
    if (ends !== null) alert.endsAt = new Date(ends).toISOString();
    return alert;
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class AlertDelivery {
  private readonly queue: AlertmanagerAlert[][] = [];
  private worker: Promise<void> | null = null;
  private lastResend: number;

  constructor(
    private readonly options: WebhookOptions,
    private readonly now: () => number,
    private readonly generatorURL: string,
  ) {
    this.lastResend = now();
  }

  /** Queues the new events, plus a re-send of all firing alerts when one is due. Never blocks. */
  enqueue(events: readonly AlertEvent[], firing: readonly AlertEvent[]): void {
    const now = this.now();
    const resendMs = this.options.resendIntervalMs ?? 60_000;
    const endsAt = resendMs > 0 ? now + 4 * resendMs : null;
    let batch = toAlertmanager(events, this.generatorURL, endsAt);
    if (resendMs > 0 && now - this.lastResend >= resendMs) {
      this.lastResend = now;
      const fresh = new Set(
        events
          .filter((e) => e.status === 'firing')
          .map((e) => `${e.alertname}|${e.protocol ?? ''}|${e.shard}|${e.replica}`),
      );
      const again = firing.filter(
        (e) => !fresh.has(`${e.alertname}|${e.protocol ?? ''}|${e.shard}|${e.replica}`),
      );
      batch = batch.concat(toAlertmanager(again, this.generatorURL, endsAt));
    }
    if (batch.length === 0) return;
    this.queue.push(batch);
    const max = this.options.maxQueue ?? 100;
    while (this.queue.length > max) {
      this.queue.shift();
      this.options.onError?.(new Error('alert webhook queue full: oldest batch dropped'));
    }
    this.worker ??= this.drain().finally(() => {
      this.worker = null;
    });
  }

  async flush(): Promise<void> {
    while (this.worker) await this.worker;
  }

  private async drain(): Promise<void> {
    for (let batch = this.queue.shift(); batch; batch = this.queue.shift()) {
      try {
        await this.post(batch);
      } catch (err) {
        this.options.onError?.(err as Error);
      }
    }
  }

  private async post(batch: AlertmanagerAlert[]): Promise<void> {
    const retries = this.options.retries ?? 3;
    let backoff = this.options.backoffMs ?? 500;
    let lastError: Error = new Error('not sent');
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const res = await fetch(this.options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.options.headers },
          body: JSON.stringify(batch),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        lastError = new Error(`alert webhook answered HTTP ${res.status}`);
        // 4xx other than 429 will not get better by retrying.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) break;
      } catch (err) {
        lastError = new Error(`alert webhook unreachable: ${(err as Error).message}`);
      }
      if (attempt < retries) {
        await sleep(backoff);
        backoff *= 2;
      }
    }
    throw lastError;
  }
}
