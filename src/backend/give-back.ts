// How a server binding hands its connection back to the pool, for both protocols: never while a
// stop (CancelRequest, KILL QUERY) is still on its way, since it would land on the next checkout's
// statement; wiped first when the session left state behind; dropped when the wipe fails.
import type { StopSignalHold } from './stop-signal-hold.js';

/** The part of a pool that takes a connection back. */
export interface ConnectionReturn<C> {
  release(conn: C): void;
  discard(conn: C): void;
}

/**
 * Returns `conn` to `pool`. `wipe` (null: nothing to wipe) resets the session state another client
 * must not see; the connection goes back only after it succeeds, and is discarded when it throws.
 */
export function giveBack<C extends { readonly stops: StopSignalHold }>(
  pool: ConnectionReturn<C>,
  conn: C,
  wipe: (() => Promise<void>) | null,
): void {
  const stopping = conn.stops.inFlight;
  if (stopping) {
    // inFlight never rejects; the catch covers a wipe or release that throws.
    stopping.then(() => returnNow(pool, conn, wipe)).catch(() => pool.discard(conn));
    return;
  }
  // A release that throws after the wipe drops the connection, as one that throws after a stop.
  returnNow(pool, conn, wipe)?.catch(() => pool.discard(conn));
}

function returnNow<C>(
  pool: ConnectionReturn<C>,
  conn: C,
  wipe: (() => Promise<void>) | null,
): Promise<void> | undefined {
  if (wipe === null) {
    pool.release(conn);
    return undefined;
  }
  return wipe().then(
    () => pool.release(conn),
    () => pool.discard(conn),
  );
}
