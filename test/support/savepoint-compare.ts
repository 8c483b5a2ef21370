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
  /** A user owned by each of s0, s1, s2. */
  users: [number, number, number];
  /** A connection through shardgate. */
  proxy(): Promise<C>;
  /** A connection straight to a server, in the database that holds `balances` and `sp_ref`. */
  direct(server: string): Promise<C>;
  end(c: C): Promise<void>;
  /** Runs one statement: its rows (every value as text, in column order) and the rows it changed. */
  exec(c: C, sql: string, params?: unknown[]): Promise<{ rows: string[][]; affected: number }>;
  /** Runs one step of a scenario (`{t}` is the table): `ok ...`, or throws the driver's error. */
  step(c: C, step: Step, table: string): Promise<string>;
  /** The code of a driver's error (SQLSTATE or errno). */
  codeOf(err: unknown): string;
  /** The statements, in the protocol's dialect. */
  sql: {
    /** The placeholders of the `i`th row (0-based) of a VALUES list of (id, user_id, 100). */
    row(i: number): string;
    /** [id, user_id, balance] of the ids in one array parameter, by id. */
    rowsOf(table: string): string;
    /** The ids in `balances` of the ids in one array parameter, by id. */
    ids: string;
    /** Shardgate's prepared transactions on a server; the last column names each. */
    prepared: string;
    /** Creates `sp_ref`, of the shape of `balances`, on the server it runs on. */
    createReference: string;
    /** user_id and balance (as text, in that order) of a row of `balances`. */
    userAndBalance(id: number, user: number): string;
    /** The count of rows of `balances` with an id and user, as one column. */
    countOf(id: number, user: number): string;
  };
}

/** A scenario step adding `delta` to the balance of one row of `{t}`. */
export const updateStep = (id: number, user: number, delta: number) =>
  `UPDATE {t} SET balance = balance + ${delta} WHERE id = ${id} AND user_id = ${user}`;

/** What a compared scenario must end with, besides both sides agreeing. */
interface Expected {
  /** The error outcomes through shardgate, in order (not checked when absent). */
  errors?: string[];
  /** The final balances through shardgate, by id. */
  balances: string[];
}

export function savepointCompare<C, Step>(side: () => SavepointSide<C, Step>, firstId: number) {
  let nextId = firstId;
  const fresh = () => nextId++;

  async function onServer<T>(server: string, use: (c: C) => Promise<T>): Promise<T> {
    const c = await side().direct(server);
    try {
      return await use(c);
    } finally {
      await side().end(c);
    }
  }

  async function preparedAnywhere(): Promise<string[]> {
    const out: string[] = [];
    for (const server of side().servers) {
      const { rows } = await onServer(server, (c) => side().exec(c, side().sql.prepared));
      out.push(...rows.map((row) => row.at(-1)!));
    }
    return out;
  }

  const idsOn = (server: string, ids: number[]) =>
    onServer(server, async (c) => (await side().exec(c, side().sql.ids, [ids])).rows.map((row) => row[0]!));
  const rowsOf = async (c: C, table: string, ids: number[]) =>
    (await side().exec(c, side().sql.rowsOf(table), [ids])).rows;

  /** `sp_ref` on s0, where `compare` runs the unsharded side. */
  const createReference = () =>
    onServer(side().servers[0]!, (c) => side().exec(c, side().sql.createReference));

  async function insert(c: C, table: string, rows: Array<[number, number]>): Promise<void> {
    const s = side();
    const values = rows.map((_, i) => s.sql.row(i)).join(', ');
    await s.exec(c, `INSERT INTO ${table} (id, user_id, balance) VALUES ${values}`, rows.flat());
  }

  /** Each step's outcome: `ok ...`, or `error <code>`. */
  async function run(c: C, table: string, steps: Step[]): Promise<string[]> {
    const s = side();
    const out: string[] = [];
    for (const step of steps) {
      try {
        out.push(await s.step(c, step, table));
      } catch (err) {
        out.push(`error ${s.codeOf(err)}`);
      }
    }
    return out;
  }

  /**
   * Rows `ids[i]` for users[owners[i]] with balance 100 on both sides, then the scenario on both;
   * returns the outcomes and final rows of each side.
   */
  async function compare(owners: number[], scenario: (ids: number[], u: [number, number, number]) => Step[]) {
    const s = side();
    const ids = owners.map(() => fresh());
    const proxy = await s.proxy();
    const ref = await s.direct(s.servers[0]!);
    for (const [i, id] of ids.entries()) {
      const row: [number, number] = [id, s.users[owners[i]!]!];
      await insert(proxy, 'balances', [row]);
      await insert(ref, 'sp_ref', [row]);
    }
    const steps = scenario(ids, s.users);
    const viaProxy = await run(proxy, 'balances', steps);
    const direct = await run(ref, 'sp_ref', steps);
    // Both sessions are out of any transaction (a scenario ends with COMMIT or ROLLBACK).
    const result = {
      outcomes: { viaProxy, direct },
      rows: { viaProxy: await rowsOf(proxy, 'balances', ids), direct: await rowsOf(ref, 'sp_ref', ids) },
      ids,
    };
    await s.end(proxy);
    await s.end(ref);
    return result;
  }

  /**
   * `compare`, then: the same outcome per statement and the same rows on both sides, the errors
   * and balances expected, and no prepared transaction left on any server.
   */
  async function expectLikeUnsharded(
    owners: number[],
    scenario: (ids: number[], u: [number, number, number]) => Step[],
    expected: Expected,
  ) {
    const r = await compare(owners, scenario);
    expect(r.outcomes.viaProxy).toEqual(r.outcomes.direct);
    if (expected.errors)
      expect(r.outcomes.viaProxy.filter((o) => o.startsWith('error'))).toEqual(expected.errors);
    expect(r.rows.viaProxy).toEqual(r.rows.direct);
    expect(r.rows.viaProxy.map((row) => row[2])).toEqual(expected.balances);
    expect(await preparedAnywhere()).toEqual([]);
    return r;
  }

  /**
   * A transaction on two shards (a row of users[1] and one of users[2], each updated once) on a
   * connection through shardgate; returns the two ids.
   */
  async function spanningTransaction(c: C): Promise<[number, number]> {
    const s = side();
    const [a, b] = [fresh(), fresh()];
    await insert(c, 'balances', [
      [a, s.users[1]],
      [b, s.users[2]],
    ]);
    await s.exec(c, 'BEGIN');
    await s.exec(c, updateStep(a, s.users[1], 1).replace('{t}', 'balances'));
    await s.exec(c, updateStep(b, s.users[2], 1).replace('{t}', 'balances'));
    return [a, b];
  }

  /**
   * A row of users[1] moved to users[2] inside a savepoint (a DELETE on s1 and an INSERT on s2)
   * is back on s1 alone after ROLLBACK TO; moved again and committed, it is on s2 alone.
   */
  async function shardKeyMoveUndone(): Promise<void> {
    const s = side();
    const users = s.users;
    const [s0, s1, s2] = s.servers;
    const ids = [fresh(), fresh()];
    const c = await s.proxy();
    await insert(c, 'balances', [
      [ids[0]!, users[1]],
      [ids[1]!, users[0]],
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
    const back = await s.exec(c, s.sql.userAndBalance(ids[0]!, users[1]));
    expect(back.rows).toEqual([[String(users[1]), '100.00']]);
    const gone = await s.exec(c, s.sql.countOf(ids[0]!, users[2]));
    expect(gone.rows).toEqual([['0']]);
    // Moved again and kept this time.
    await s.exec(
      c,
      `UPDATE balances SET user_id = ${users[2]} WHERE id = ${ids[0]} AND user_id = ${users[1]}`,
    );
    await s.exec(c, 'COMMIT');
    await s.end(c);
    expect(await idsOn(s1!, ids)).toEqual([]);
    expect(await idsOn(s2!, ids)).toEqual([String(ids[0])]);
    expect(await idsOn(s0!, ids)).toEqual([String(ids[1])]);
    expect(await preparedAnywhere()).toEqual([]);
  }

  return { compare, expectLikeUnsharded, spanningTransaction, shardKeyMoveUndone, rowsOf, createReference };
}

/** The steps of the nested-savepoints scenario that each dialect spells its own way. */
export interface NestedSteps {
  setInner: string;
  backToInner: string;
  backToOuter: string;
  /** RELEASE of the outer savepoint, and what follows before COMMIT. */
  release: string[];
}

/**
 * Nested savepoints over two shards: rollback to the inner, then to the outer, RELEASE, COMMIT.
 * `sel` reads the balance of a row of `{t}`.
 */
export const nestedSavepoints =
  (sel: (id: number, user: number) => string, steps: NestedSteps) =>
  ([a, b]: number[], u: [number, number, number]) => [
    'BEGIN',
    updateStep(a!, u[1], 1),
    'SAVEPOINT outer_sp',
    updateStep(b!, u[2], 10),
    steps.setInner,
    updateStep(a!, u[1], 100),
    updateStep(b!, u[2], 1000),
    sel(b!, u[2]),
    steps.backToInner,
    sel(a!, u[1]),
    sel(b!, u[2]),
    updateStep(a!, u[1], 5),
    steps.backToOuter,
    sel(a!, u[1]),
    sel(b!, u[2]),
    updateStep(b!, u[2], 3),
    ...steps.release,
    'COMMIT',
  ];

/** The start of a scenario whose transaction is on the shards of `a` (users[1]) and `b` (users[2]). */
export const onBothShards = (a: number, b: number, u: [number, number, number]) => [
  'BEGIN',
  updateStep(a, u[1], 1),
  updateStep(b, u[2], 2),
];
