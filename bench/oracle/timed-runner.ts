// The per-statement time limit of one side of the oracle. The server's own limit (MariaDB
// max_statement_time, PostgreSQL statement_timeout) ends most runaway statements with an error;
// a client-side bound a little later covers a server that ignores it (MariaDB 10.11.19 loops on
// `a INTERSECT ALL b EXCEPT ALL c` even on tiny tables and ignores both max_statement_time and KILL
// QUERY): the connection is destroyed and a new one opened, so the run goes on with the next
// statement (the server's thread spins on until the server stops).
import type { Outcome, RunOutcome, StatementRunner } from './outcome.js';

export const DEFAULT_STATEMENT_TIMEOUT_MS = 20_000;

/** The client of one side, replaced when the client-side bound gives up on it. */
export interface SideConnection<C> {
  current(): C;
  /** Destroys the current client (the server may still run its statement) and opens a new one. */
  reconnect(): Promise<C>;
}

export interface TimedSide<C extends object> {
  connection: SideConnection<C>;
  limitMs: number;
  /** Sets the server's own limit on a new client; null where there is none to set (shardgate). */
  serverLimit: ((client: C, limitMs: number) => Promise<unknown>) | null;
  run(client: C, sql: string): Promise<Outcome>;
  /** The error code the server's own limit ends a statement with (1969, 57014). */
  serverTimeoutCode: string;
}

/** When the client stops waiting: the limit plus a grace for the server's own limit to act. */
export function clientBoundMs(limitMs: number): number {
  return limitMs + Math.max(1_000, Math.round(limitMs / 2));
}

export function timedRunner<C extends object>(side: TimedSide<C>): StatementRunner {
  const limited = new WeakSet<C>();
  return async (sql: string): Promise<RunOutcome> => {
    const client = side.connection.current();
    if (side.serverLimit && !limited.has(client)) {
      await side.serverLimit(client, side.limitMs);
      limited.add(client);
    }
    const bound = clientBoundMs(side.limitMs);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), bound);
    });
    try {
      // The race keeps a handler on the statement, so its rejection after destroy() is not unhandled.
      const outcome = await Promise.race([side.run(client, sql), expired]);
      if (outcome === 'expired') {
        await side.connection.reconnect();
        return {
          kind: 'timeout',
          limitMs: side.limitMs,
          how: `no answer after ${bound} ms: the connection was closed and reopened`,
        };
      }
      if (outcome.kind === 'error' && outcome.code === side.serverTimeoutCode)
        return {
          kind: 'timeout',
          limitMs: side.limitMs,
          how: `server error ${outcome.code}: ${outcome.message}`,
        };
      return outcome;
    } finally {
      clearTimeout(timer);
    }
  };
}
