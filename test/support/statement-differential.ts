// One test per statement of a differential suite: the statement runs on the unsharded reference
// database, then through shardgate, and the two answers must agree (by deep equality unless the
// suite says how to compare them). Shared by the planner and cross-shard-join suites.
import { expect, it } from 'vitest';

/** Where a statement of a differential test runs. */
export type Side = 'reference' | 'proxied';

export function itAnswersLikeReference<A>(
  statements: readonly string[],
  answer: (sql: string, on: Side) => Promise<A>,
  expectSame: (got: A, want: A, sql: string) => void = (got, want) => expect(got).toEqual(want),
): void {
  for (const sql of statements) {
    it(sql, async () => {
      const want = await answer(sql, 'reference');
      const got = await answer(sql, 'proxied');
      expectSame(got, want, sql);
    });
  }
}
