// Plain connections of the data plane to one server: every value comes back as PostgreSQL's text
// (re-sent as text, it round-trips exactly: no Date or float conversion on the way), every session
// prints values the same way (so row::text checksums agree between servers), and a dead server
// never crashes the process with an unhandled 'error' event.
import pg from 'pg';
import { pgClientSsl } from '../backend/backend-tls.js';
import { closeAfter } from '../backend/with-connection.js';
import { backendPassword, backendTlsFor } from './credentials.js';
import type { ServerAddress } from './types.js';

const keepText = (value: string) => value;

/** Type parsers that leave every column as text. */
export const TEXT_TYPES = { getTypeParser: () => keepText } as unknown as pg.CustomTypesConfig;

/** Startup options: identical output formats on every server and session. */
export const SESSION_OPTIONS =
  '-c DateStyle=ISO -c IntervalStyle=postgres -c TimeZone=UTC -c extra_float_digits=1 -c bytea_output=hex';

export function clientConfig(server: ServerAddress, purpose: string): pg.ClientConfig {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    database: server.database,
    password: backendPassword(server.user),
    application_name: `shardgate-${purpose}`,
    connectionTimeoutMillis: 5_000,
    options: SESSION_OPTIONS,
    types: TEXT_TYPES,
    ssl: pgClientSsl(backendTlsFor(server.name), server.host),
  };
}

/** Connects; the client swallows asynchronous 'error' events (the next query fails instead). */
export async function openClient(server: ServerAddress, purpose: string): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(server, purpose));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/** Runs fn on a fresh connection and always closes it. */
export async function withClient<T>(
  server: ServerAddress,
  purpose: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  return closeAfter(await openClient(server, purpose), fn);
}

const UNREACHABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNREACHABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
]);

/**
 * True when the server is down, restarting or the connection broke (worth retrying), false for
 * an error of the statement itself (a constraint, a missing table: retrying cannot help).
 */
export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || UNREACHABLE_SQLSTATES.has(code) || UNREACHABLE_ERRNOS.has(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /connection terminated|connection timeout|not queryable|server closed the connection|terminating connection|the database system is (starting up|shutting down|in recovery)/i.test(
    message,
  );
}

/** One-line reason for a status text. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}
