// A money transfer as an application writes it, between two rows of `balances` (sharded by
// user_id): both updates in one transaction, which spans shards when the users do. Used by the
// transfer bench scenario and the two-phase commit tests.
import type pg from 'pg';

export interface Account {
  id: number;
  user: number;
}

/** Moves `amount` from one account to the other in one transaction; on failure rolls back and rethrows. */
export async function transferBalance(
  c: pg.Client,
  from: Account,
  to: Account,
  amount: number,
): Promise<void> {
  try {
    await c.query('BEGIN');
    await c.query('UPDATE balances SET balance = balance - $1 WHERE id = $2 AND user_id = $3', [
      amount,
      from.id,
      from.user,
    ]);
    await c.query('UPDATE balances SET balance = balance + $1 WHERE id = $2 AND user_id = $3', [
      amount,
      to.id,
      to.user,
    ]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
