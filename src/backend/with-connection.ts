// Borrowing one pooled connection for a few statements, for either protocol's pool, or using a
// connection of one's own (migration, the local launchers) and closing it after.

/** What withConnection needs of a pool (Pool of either protocol). */
interface Lender<C, F> {
  acquire(flavour: F): Promise<C>;
  release(conn: C): void;
  discard(conn: C): void;
}

/** Runs `fn` on a connection of `pool` (checked out as `flavour`); a connection that failed is not reused. */
export async function withConnection<C, F, T>(
  pool: Lender<C, F>,
  flavour: F,
  fn: (conn: C) => Promise<T>,
): Promise<T> {
  const conn = await pool.acquire(flavour);
  try {
    const out = await fn(conn);
    pool.release(conn);
    return out;
  } catch (err) {
    pool.discard(conn);
    throw err;
  }
}

/** Runs `fn` on `conn` and always closes it after; a failed close is let go (fn's outcome counts). */
export async function closeAfter<C extends { end(): Promise<unknown> }, T>(
  conn: C,
  fn: (conn: C) => Promise<T>,
): Promise<T> {
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => undefined);
  }
}
