// The two-phase tests of both protocols: a client that leaves while its cross-shard COMMIT waits
// between prepare and the decision. The commit must still finish on every shard, and no server
// connection may stay held for the client that left.
import { expect } from 'vitest';
import type { ShardgateConfig } from '../../src/config/schema.js';
import type { ProxyHandle } from '../../src/proxy.js';
import { type FaultFront, startTwinProxy } from './fault-helpers.js';

/** What the scenario asks of a client of either driver. */
interface Client {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

export interface ClientGoneCase<C extends Client, D extends Client, A> {
  front: FaultFront;
  fixture: { proxy: ProxyHandle; config: ShardgateConfig };
  /** Transaction pooling pins the session first (`pin`); session pooling runs on a twin proxy. */
  mode: 'transaction' | 'session';
  pin: string;
  /** Two accounts on different shards; the transaction begins on the one carrying the decision. */
  accounts: [A, A];
  connect(port: number): Promise<C>;
  setBalance(c: C, a: A, to: string): Promise<unknown>;
  transfer(c: C, from: A, to: A, amount: number): Promise<unknown>;
  balancesOf(a: A, b: A): Promise<number[]>;
  preparedAnywhere(): Promise<string[]>;
  /** A connection to the server holding the decision table. */
  decisionServer(): Promise<D>;
  /** Locks the decision table (on `d`) until `unlockDecisions`. */
  lockDecisions(d: D): Promise<void>;
  unlockDecisions(d: D): Promise<void>;
  /** Whether the decision's INSERT waits on that lock (read on another connection, `d`). */
  decisionWaiting(d: D): Promise<boolean>;
  /** Closes the client's socket without a word to the proxy. */
  drop(c: C): void;
  waitFor(what: string, check: () => Promise<boolean>): Promise<void>;
}

/** The front's port, its server connections in use and its client sessions. */
function frontCounts(proxy: ProxyHandle, front: FaultFront) {
  const side = front === 'mysql' ? proxy.mysql! : proxy.postgres;
  const pools = () =>
    front === 'mysql'
      ? proxy.mysql!.topology.allServers().flatMap((s) => s.pools.all())
      : proxy.topology.allServers().flatMap((s) => s.pools.all());
  return {
    port: side.port,
    active: () => pools().reduce((n, p) => n + p.stats().active, 0),
    sessions: () => side.listener.sessions.size,
  };
}

export async function expectCommitFinishesWithoutClient<C extends Client, D extends Client, A>(
  t: ClientGoneCase<C, D, A>,
): Promise<void> {
  // Session pooling runs on a second in-process proxy over the same servers.
  const own =
    t.mode === 'session'
      ? await startTwinProxy(t.fixture.config, t.front, { pool: { mode: 'session' } })
      : null;
  const { port, active, sessions } = frontCounts(own ?? t.fixture.proxy, t.front);
  const [a, b] = t.accounts;
  const opened: D[] = [];
  try {
    const c = await t.connect(port);
    // The decision table exists (a transfer that needs a decision writes it).
    await t.transfer(c, a, b, 1);
    await c.end();
    await t.waitFor('idle pools', async () => active() === 0);
    const before = await t.balancesOf(a, b);
    const sessionsBefore = sessions();
    const gone = await t.connect(port);
    if (t.mode === 'transaction') await gone.query(t.pin);
    await gone.query('BEGIN');
    await t.setBalance(gone, a, 'balance - 3');
    await t.setBalance(gone, b, 'balance + 3');
    // The decision waits on a lock: the client leaves between prepare and the decision.
    const lock = await t.decisionServer();
    opened.push(lock);
    await t.lockDecisions(lock);
    void gone.query('COMMIT').catch(() => undefined);
    const watch = await t.decisionServer();
    opened.push(watch);
    await t.waitFor('the decision waiting on the lock', () => t.decisionWaiting(watch));
    t.drop(gone);
    await t.waitFor('the proxy saw the client leave', async () => sessions() === sessionsBefore);
    await t.unlockDecisions(lock);
    // Decided commit, finished on both shards; nothing held for the client that left.
    await t.waitFor('both shards committed', async () => (await t.preparedAnywhere()).length === 0);
    expect(await t.balancesOf(a, b)).toEqual([before[0]! - 3, before[1]! + 3]);
    await t.waitFor('every server connection back in its pool', async () => active() === 0);
  } finally {
    // A failed run must not leave the lock held for the tests after it.
    await Promise.all(opened.map((d) => d.end().catch(() => undefined)));
    await own?.close();
  }
}
