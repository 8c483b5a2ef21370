// A money transfer as an application writes it, between two rows of `balances` (sharded by
// user_id): both updates in one transaction, which spans shards when the users do. Used by the
// transfer bench scenario and the two-phase commit tests of both protocols.
import type mysql from 'mysql2/promise';
import type pg from 'pg';

export interface Account {
  id: number;
  user: number;
}

/** Runs one statement with its parameters (the driver's own placeholders). */
type Run = (sql: string, params?: unknown[]) => Promise<unknown>;

/** The transfer's statements, with `mark(n)` the driver's n-th placeholder. */
async function transferWith(
  run: Run,
  mark: (n: number) => string,
  from: Account,
  to: Account,
  amount: number,
): Promise<void> {
  const update = (sign: string) =>
    `UPDATE balances SET balance = balance ${sign} ${mark(1)} WHERE id = ${mark(2)} AND user_id = ${mark(3)}`;
  try {
    await run('BEGIN');
    await run(update('-'), [amount, from.id, from.user]);
    await run(update('+'), [amount, to.id, to.user]);
    await run('COMMIT');
  } catch (err) {
    await run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Moves `amount` from one account to the other in one transaction; on failure rolls back and rethrows. */
export function transferBalance(c: pg.Client, from: Account, to: Account, amount: number): Promise<void> {
  return transferWith(
    (sql, params) => c.query(sql, params),
    (n) => `$${n}`,
    from,
    to,
    amount,
  );
}

/** The same through a MySQL connection (mysql2; parameters as prepared statements). */
export function transferBalanceMysql(
  c: mysql.Connection,
  from: Account,
  to: Account,
  amount: number,
): Promise<void> {
  const run: Run = (sql, params) =>
    params ? c.execute(sql, params as Array<string | number>) : c.query(sql);
  return transferWith(run, () => '?', from, to, amount);
}
