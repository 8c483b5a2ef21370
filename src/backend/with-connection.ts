// Borrowing one pooled connection for a few statements, for either protocol's pool.

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
