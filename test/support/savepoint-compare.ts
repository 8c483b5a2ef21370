// The savepoint suites of both front ends (pg-savepoints, mysql-savepoints) run the same checks:
// a scenario statement by statement through shardgate on `balances` and straight on one server on
// `sp_ref` (the unsharded answer), then the rows of both, then no prepared transaction left; and a
// shard-key move undone by ROLLBACK TO. What differs per protocol (driver, placeholders, casts,
// how a prepared transaction is listed) is a `SavepointSide`.
import { expect } from 'vitest';

/** One protocol's way to talk to the proxy and the servers; `C` is its driver's connection. */
export interface SavepointSide<C, Step> {
  /** The primaries of the three shards (s0, s1, s2). */
  servers: string[];
  /** A connection through shardgate. */
  proxy(): Promise<C>;
  /** A connection straight to a server, in the database that holds `balances` and `sp_ref`. */
  direct(server: string): Promise<C>;
  end(c: C): Promise<void>;
  /** Inserts rows (id, user_id, balance 100) into `table`. */
  insert(c: C, table: string, rows: Array<[number, number]>): Promise<void>;
  /** Runs each step (`{t}` is the table): `ok ...` or `error <code>` per step. */
  run(c: C, table: string, steps: Step[]): Promise<string[]>;
  /** [id, user_id, balance] of `ids` in `table`, by id. */
  rowsOf(c: C, table: string, ids: number[]): Promise<string[][]>;
  /** Ids of `ids` in `balances` on one server. */
  idsOn(server: string, ids: number[]): Promise<string[]>;
  /** Shardgate's prepared transactions on one server. */
  prepared(server: string): Promise<string[]>;
  /** Runs one statement: its rows (every value as text) and the count of rows it changed. */
  exec(c: C, sql: string): Promise<{ rows: string[][]; affected: number }>;
  /** The statement reading user_id and balance (as text, in that order) of a row of `balances`. */
  userAndBalance(id: number, user: number): string;
  /** The statement counting the rows of `balances` with an id and user, as one column. */
  countOf(id: number, user: number): string;
}

export function savepointCompare<C, Step>(side: () => SavepointSide<C, Step>, firstId: number) {
  let nextId = firstId;
  const fresh = () => nextId++;

  async function preparedAnywhere(): Promise<string[]> {
    const out: string[] = [];
    for (const server of side().servers) out.push(...(await side().prepared(server)));
    return out;
  }

  /**
   * Rows `ids[i]` for users[owners[i]] with balance 100 on both sides, then the scenario on both;
   * returns the outcomes and final rows of each side.
   */
  async function compare<U extends number[]>(
    users: U,
    owners: number[],
    scenario: (ids: number[], u: U) => Step[],
  ) {
    const s = side();
    const ids = owners.map(() => fresh());
    const proxy = await s.proxy();
    const ref = await s.direct(s.servers[0]!);
    for (const [i, id] of ids.entries()) {
      const row: [number, number] = [id, users[owners[i]!]!];
      await s.insert(proxy, 'balances', [row]);
      await s.insert(ref, 'sp_ref', [row]);
    }
    const steps = scenario(ids, users);
    const viaProxy = await s.run(proxy, 'balances', steps);
    const direct = await s.run(ref, 'sp_ref', steps);
    // Both sessions are out of any transaction (a scenario ends with COMMIT or ROLLBACK).
    const result = {
      outcomes: { viaProxy, direct },
      rows: { viaProxy: await s.rowsOf(proxy, 'balances', ids), direct: await s.rowsOf(ref, 'sp_ref', ids) },
      ids,
    };
    await s.end(proxy);
    await s.end(ref);
    return result;
  }

  /**
   * A row of users[1] moved to users[2] inside a savepoint (a DELETE on s1 and an INSERT on s2)
   * is back on s1 alone after ROLLBACK TO; moved again and committed, it is on s2 alone.
   */
  async function shardKeyMoveUndone(users: number[]): Promise<void> {
    const s = side();
    const [s0, s1, s2] = s.servers;
    const ids = [fresh(), fresh()];
    const c = await s.proxy();
    await s.insert(c, 'balances', [
      [ids[0]!, users[1]!],
      [ids[1]!, users[0]!],
    ]);
    await s.exec(c, 'BEGIN');
    await s.exec(
      c,
      `UPDATE balances SET balance = balance + 1 WHERE id = ${ids[1]} AND user_id = ${users[0]}`,
    );
    await s.exec(c, 'SAVEPOINT before_move');
    const moved = await s.exec(
      c,
      `UPDATE balances SET user_id = ${users[2]}, balance = 5 WHERE id = ${ids[0]} AND user_id = ${users[1]}`,
    );
    expect(moved.affected).toBe(1);
    await s.exec(c, 'ROLLBACK TO SAVEPOINT before_move');
    const back = await s.exec(c, s.userAndBalance(ids[0]!, users[1]!));
    expect(back.rows).toEqual([[String(users[1]), '100.00']]);
    const gone = await s.exec(c, s.countOf(ids[0]!, users[2]!));
    expect(gone.rows).toEqual([['0']]);
    // Moved again and kept this time.
    await s.exec(
      c,
      `UPDATE balances SET user_id = ${users[2]} WHERE id = ${ids[0]} AND user_id = ${users[1]}`,
    );
    await s.exec(c, 'COMMIT');
    await s.end(c);
    expect(await s.idsOn(s1!, ids)).toEqual([]);
    expect(await s.idsOn(s2!, ids)).toEqual([String(ids[0])]);
    expect(await s.idsOn(s0!, ids)).toEqual([String(ids[1])]);
    expect(await preparedAnywhere()).toEqual([]);
  }

  return { compare, preparedAnywhere, shardKeyMoveUndone, fresh };
}
