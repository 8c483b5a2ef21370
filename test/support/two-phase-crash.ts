// The crash tests of two-phase commit on both protocols: a `shardgate start` child process armed
// to SIGKILL itself at a failpoint during a transfer, then another started to recover, which the
// operator may also drive with `shardgate txn`.
import { afterAll, expect } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import { type StartedProcess, startShardgateProcess } from './start-process.js';
import { txnCli } from './txn-cli.js';
import { waitFor } from './wait-for.js';

export interface CrashingProxyCase<C, A> {
  /** The admin token of the child processes. */
  token: string;
  /** A child's config: recovery every 300 ms, of transactions older than `minAgeMs`. */
  config(minAgeMs: number): ShardgateConfig;
  connect(p: StartedProcess): Promise<C>;
  transfer(c: C, from: A, to: A, amount: number): Promise<unknown>;
  /** Lets go of a client whose proxy died. */
  drop(c: C): unknown;
}

/** For the enclosing describe: child proxies, the last one started stopped after its tests. */
export function crashingProxies<C, A>(t: CrashingProxyCase<C, A>) {
  let proc: StartedProcess | null = null;

  afterAll(async () => {
    await proc?.stop();
  });

  async function start(failpoint?: string, minAgeMs = 300): Promise<StartedProcess> {
    const config = t.config(minAgeMs);
    proc = await startShardgateProcess(
      { ...config, admin: { ...config.admin, token: t.token } },
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

  const txn = (p: StartedProcess, ...args: string[]) => txnCli(p.adminPort, t.token, ...args);

  return { start, crashDuringTransfer, txn };
}
