// The source write mix of the capture benchmarks (capture-apply.ts, mysql-capture-apply.ts) on
// their posts table: each transaction inserts a row and updates one of `hot` hot rows (ids 1 to
// hot), and every third one deletes the row the one before it inserted.

/** The hot rows, as VALUES tuples of posts (id, user_id, title, body). */
export function hotRowValues(hot: number): string[] {
  return [...Array(hot).keys()].map((i) => `(${i + 1}, ${i + 1}, 'hot', 'body')`);
}

/**
 * Runs the mix through `query`; `param(n)` spells the n-th (1-based) statement parameter ($1 for
 * PostgreSQL, ? for MySQL). Returns the row changes made.
 */
export async function writeHotKeyMix(
  query: (sql: string, params?: unknown[]) => Promise<unknown>,
  o: { transactions: number; hot: number; param: (n: number) => string },
): Promise<number> {
  const p = o.param;
  let changes = 0;
  for (let n = 0; n < o.transactions; n++) {
    const id = 1_000_000 + n;
    await query('BEGIN');
    await query(`INSERT INTO posts VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`, [
      id,
      (n * 7) % 997,
      `t${n}`,
      'x',
    ]);
    await query(`UPDATE posts SET title = ${p(1)} WHERE id = ${p(2)}`, [`hot ${n}`, (n % o.hot) + 1]);
    changes += 2;
    if (n % 3 === 2) {
      await query(`DELETE FROM posts WHERE id = ${p(1)}`, [id - 1]);
      changes++;
    }
    await query('COMMIT');
  }
  return changes;
}
