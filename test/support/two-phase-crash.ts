// The crash tests of two-phase commit on both protocols: a `shardgate start` child process armed
// to SIGKILL itself at a failpoint during a transfer, then another started to recover, which the
// operator may also drive with `shardgate txn`. The children run recovery every 300 ms.
import { afterAll, expect } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { type StartedProcess, startShardgateProcess } from './start-process.js';
import { txnCli } from './txn-cli.js';
import { waitFor } from './wait-for.js';

export interface CrashingProxyCase<C, A> {
  /** The admin token of the child processes. */
  token: string;
  /** The config the children's is made of: theirs adds the token and recovery every 300 ms. */
  base(): ShardgateConfig;
  connect(p: StartedProcess): Promise<C>;
  transfer(c: C, from: A, to: A, amount: number): Promise<unknown>;
  /** Lets go of a client whose proxy died. */
  drop(c: C): unknown;
  /** The balances of these accounts, read on their own servers. */
  balancesOf(...accounts: A[]): Promise<number[]>;
  /** Shardgate's transactions left prepared on any primary. */
  preparedAnywhere(): Promise<string[]>;
}

/** Two accounts on different shards and their balances before the transfer. */
export interface TransferPair<A> {
  a: A;
  b: A;
  before: number[];
}

/** How the crashed transfer of 7 ends: undone on both shards, or done on both. */
type Outcome = 'rolled back' | 'committed';

const balancesAfter = (before: number[], outcome: Outcome) =>
  outcome === 'committed' ? [before[0]! - 7, before[1]! + 7] : before;

/** For the enclosing describe: child proxies, the last one started stopped after its tests. */
export function crashingProxies<C, A>(t: CrashingProxyCase<C, A>) {
  let proc: StartedProcess | null = null;

  afterAll(async () => {
    await proc?.stop();
  });

  async function start(failpoint?: string, minAgeMs = 300): Promise<StartedProcess> {
    const base = t.base();
    proc = await startShardgateProcess(
      {
        ...base,
        admin: { ...base.admin, token: t.token },
        transactions: { ...base.transactions, recoveryIntervalMs: 300, recoveryMinAgeMs: minAgeMs },
      },
      60_000,
      failpoint ? { SHARDGATE_FAILPOINT: failpoint } : {},
    );
    return proc;
  }

  /** A transfer of 7 through a child proxy armed to SIGKILL itself at `failpoint`. */
  async function crashDuringTransfer(failpoint: string, from: A, to: A): Promise<void> {
    const p = await start(failpoint);
    const c = await t.connect(p);
    await expect(t.transfer(c, from, to, 7)).rejects.toThrow();
    await waitFor('the proxy to die', async () => p.exited() !== null, 30_000, 100);
    expect(p.exited()).toBe('SIGKILL');
    await t.drop(c);
  }

  /**
   * `crashDuringTransfer` of the pair (`afterCrash` checks what the dead proxy left), then a proxy
   * restarted whose recovery leaves nothing prepared: the transfer is then undone on both shards,
   * or done on both. Returns that proxy, for the caller's own checks and to stop.
   */
  async function recoverAfterCrash(
    { a, b, before }: TransferPair<A>,
    failpoint: string,
    outcome: Outcome,
    afterCrash: () => Promise<void>,
  ): Promise<StartedProcess> {
    await crashDuringTransfer(failpoint, a, b);
    await afterCrash();
    const p = await start();
    await waitFor('recovery', async () => (await t.preparedAnywhere()).length === 0, 30_000, 100);
    expect(await t.balancesOf(a, b)).toEqual(balancesAfter(before, outcome));
    return p;
  }

  const txn = (p: StartedProcess, ...args: string[]) => txnCli(p.adminPort, t.token, ...args);

  /**
   * `crashDuringTransfer` of the pair, then a proxy restarted whose recovery leaves transactions
   * younger than `minAgeMs` alone: what the crash left in doubt is the operator's (`txn`).
   */
  async function crashLeftToOperator(pair: TransferPair<A>, failpoint: string, minAgeMs: number) {
    await crashDuringTransfer(failpoint, pair.a, pair.b);
    return start(undefined, minAgeMs);
  }

  /** `shardgate txn resolve` ends `gid` as `outcome` says, on both shards, and nothing is left in doubt. */
  async function expectResolved(
    p: StartedProcess,
    gid: string,
    { a, b, before }: TransferPair<A>,
    outcome: Outcome,
  ): Promise<void> {
    const resolved = await txn(p, 'resolve', gid);
    expect(resolved.code).toBe(0);
    expect(resolved.out).toContain(outcome);
    expect(await t.preparedAnywhere()).toEqual([]);
    expect(await t.balancesOf(a, b)).toEqual(balancesAfter(before, outcome));
    expect((await txn(p, 'list')).out).toContain('nothing in doubt');
  }

  return { start, crashDuringTransfer, recoverAfterCrash, crashLeftToOperator, expectResolved, txn };
}
