// The two-phase commit tests of both protocols move money between accounts on different shards
// and compare balances before and after, read on each account's own server.

/**
 * For a test file's `accounts` (read when called: a beforeAll fills them), `balancesOf` reads the
 * balances of some (one after the other) and `pairOf` takes two by index with their balances now.
 */
export function accountPairs<A>(accounts: () => readonly A[], balanceOn: (account: A) => Promise<number>) {
  const balancesOf = async (...of: A[]): Promise<number[]> => {
    const balances: number[] = [];
    for (const a of of) balances.push(await balanceOn(a));
    return balances;
  };
  const pairOf = async (ai: number, bi: number): Promise<{ a: A; b: A; before: number[] }> => {
    const [a, b] = [accounts()[ai]!, accounts()[bi]!];
    return { a, b, before: await balancesOf(a, b) };
  };
  return { balancesOf, pairOf };
}
