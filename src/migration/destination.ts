// A server the data plane writes to (a split target, or the source for the reverse capture): one
// lazily opened connection that is thrown away when it breaks, and a retry loop that waits, with
// capped backoff, for an unreachable server to come back, reporting the pause.
import type pg from 'pg';
import { describeError, isUnreachable, openClient } from './pg-connect.js';
import { type BackoffSettings, backoffDelay, DEFAULT_BACKOFF, sleep } from './retry.js';
import type { ServerAddress } from './types.js';

export class Destination {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;

  constructor(
    readonly server: ServerAddress,
    private readonly purpose: string,
  ) {}

  get name(): string {
    return this.server.name;
  }

  /** The open connection, connecting first when there is none. */
  async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    this.connecting ??= openClient(this.server, this.purpose).finally(() => void (this.connecting = null));
    this.client = await this.connecting;
    return this.client;
  }

  /** Runs fn inside BEGIN/COMMIT; on failure rolls back (or drops a broken connection) and rethrows. */
  async transaction<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.connection();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (isUnreachable(err)) this.discard();
      else await client.query('ROLLBACK').catch(() => this.discard());
      throw err;
    }
  }

  /** Forgets a connection that broke (its server transaction, if any, is gone with it). */
  discard(): void {
    const old = this.client;
    this.client = null;
    void old?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    const old = this.client;
    this.client = null;
    await old?.end().catch(() => undefined);
  }
}

export interface RetryHooks {
  signal?: AbortSignal;
  backoff?: BackoffSettings;
  /** Called before each wait with a reason such as "connect ECONNREFUSED 127.0.0.1:5432". */
  onPause?: (reason: string) => void;
  /** Called once the operation succeeds after at least one pause. */
  onResume?: () => void;
}

/**
 * Runs op until it succeeds. While the server is unreachable (down, restarting, connection
 * broken) it waits and retries; any other error is thrown. Returns undefined when the signal
 * aborts first.
 */
export async function untilReachable<T>(
  destination: Destination,
  op: () => Promise<T>,
  hooks: RetryHooks = {},
): Promise<{ value: T } | undefined> {
  let attempt = 0;
  for (;;) {
    if (hooks.signal?.aborted) return undefined;
    try {
      const value = await op();
      if (attempt > 0) hooks.onResume?.();
      return { value };
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      destination.discard();
      hooks.onPause?.(describeError(err));
      await sleep(backoffDelay(attempt++, hooks.backoff ?? DEFAULT_BACKOFF), hooks.signal);
    }
  }
}
