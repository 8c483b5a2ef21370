// A loopback HTTP server standing in for an alerting webhook: it keeps every batch of alerts the
// proxy posts, so a test can count the events of one kind.
import http from 'node:http';

export interface AlertEvent {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface AlertWebhook {
  /** The URL to give observability.alerts.webhookUrl. */
  url: string;
  /** Every event received, in order. */
  events: AlertEvent[];
  /** Each request body as received (one batch of events). */
  bodies: unknown[];
  close(): void;
}

export async function startAlertWebhook(): Promise<AlertWebhook> {
  const events: AlertEvent[] = [];
  const bodies: unknown[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const parsed = JSON.parse(body) as unknown;
      bodies.push(parsed);
      if (Array.isArray(parsed)) events.push(...(parsed as AlertEvent[]));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/alerts`, events, bodies, close: () => server.close() };
}
