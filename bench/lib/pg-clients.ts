// Client sessions for workload generators: `pg` connections to an endpoint, opened together and
// always closed, with bounded connect and statement times so a stuck server cannot hang a run.
import pg from 'pg';
import type { PgEndpoint } from './target.js';

export interface ClientOptions {
  /** Startup options, e.g. "-c shardgate.vip=on". */
  options?: string;
  /** Per-statement timeout enforced by the driver (ms). */
  queryTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export async function openClient(endpoint: PgEndpoint, o: ClientOptions = {}): Promise<pg.Client> {
  const client = new pg.Client({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    database: endpoint.database,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 10_000,
    query_timeout: o.queryTimeoutMs ?? 30_000,
    ...(o.options ? { options: o.options } : {}),
  });
  // A dropped connection surfaces on the next query; an 'error' event must not crash the run.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Opens `n` sessions; if one fails, closes the others and rethrows. */
export async function openClients(
  endpoint: PgEndpoint,
  n: number,
  o: ClientOptions = {},
): Promise<pg.Client[]> {
  const settled = await Promise.allSettled(Array.from({ length: n }, () => openClient(endpoint, o)));
  const clients = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await closeClients(clients);
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return clients;
}

export async function closeClients(clients: readonly pg.Client[]): Promise<void> {
  await Promise.all(
    clients.map((c) =>
      Promise.race([c.end().catch(() => undefined), new Promise<void>((r) => setTimeout(r, 2_000).unref())]),
    ),
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
