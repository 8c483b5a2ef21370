// Where a MySQL KILL goes (kill-router.ts) and how it travels between workers (cli/worker-relay.ts):
// the owner worker by the id's worker bits, every worker for a server thread id, the other
// instances only after that and never again for a KILL that came from one; the holder's answer
// comes back, and a worker that is gone or silent is said so. PostgreSQL cancels take the same
// relay (no answer).
import type { Worker } from 'node:cluster';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { routeRelayMessages, workerRelay } from '../../src/cli/worker-relay.js';
import { silentLogger } from '../../src/log.js';
import { ConnectionIds } from '../../src/protocol/mysql/connection-ids.js';
import {
  combineOutcomes,
  type KillOrder,
  type KillOutcome,
  KillRouter,
  killOwned,
  UNKNOWN,
} from '../../src/protocol/mysql/kill-router.js';
import type { KillTarget } from '../../src/protocol/mysql/services.js';

function session(connectionId: number, user: string, threads: Record<string, number> = {}) {
  const done: string[] = [];
  const target: KillTarget = {
    connectionId,
    user,
    backendThreads: () => new Map(Object.entries(threads)),
    killQuery: () => done.push('query'),
    killConnection: () => done.push('connection'),
  };
  return { target, done };
}

const idOf = (worker: number, local: number) => 2 ** 30 + worker * 2 ** 22 + local;

describe('killOwned', () => {
  it('kills a session of the same user by connection id or server thread id, else says why not', () => {
    const s = session(idOf(1, 5), 'app', { 's0-primary': 77 });
    const sessions = new Map([[s.target.connectionId, s.target]]);
    expect(killOwned(sessions, { id: idOf(1, 5), query: true, user: 'other' })).toEqual({ kind: 'denied' });
    expect(s.done).toEqual([]);
    expect(killOwned(sessions, { id: idOf(1, 5), query: true, user: 'app' })).toEqual({ kind: 'killed' });
    expect(killOwned(sessions, { id: 77, query: false, user: 'app' })).toEqual({ kind: 'killed' });
    expect(s.done).toEqual(['query', 'connection']);
    expect(killOwned(sessions, { id: idOf(1, 6), query: false, user: 'app' })).toEqual(UNKNOWN);
  });
});

describe('combineOutcomes', () => {
  it('killed, then denied, then the unreached members, else unknown', () => {
    const unreached: KillOutcome = { kind: 'unreached', members: ['B'] };
    expect(combineOutcomes([UNKNOWN, unreached, { kind: 'killed' }])).toEqual({ kind: 'killed' });
    expect(combineOutcomes([unreached, { kind: 'denied' }])).toEqual({ kind: 'denied' });
    expect(combineOutcomes([UNKNOWN, unreached, { kind: 'unreached', members: ['C'] }])).toEqual({
      kind: 'unreached',
      members: ['B', 'C'],
    });
    expect(combineOutcomes([])).toEqual(UNKNOWN);
  });
});

describe('KillRouter', () => {
  const order = (id: number): KillOrder => ({ id, query: true, user: 'app' });

  function router(self: number, answers: Record<number, KillOutcome>, forward?: KillOutcome) {
    const asked: Array<number | 'instances'> = [];
    const r = new KillRouter(
      new Map(),
      new ConnectionIds(self, 3),
      async (worker) => {
        asked.push(worker);
        return answers[worker] ?? UNKNOWN;
      },
      forward
        ? async () => {
            asked.push('instances');
            return forward;
          }
        : undefined,
    );
    return { r, asked };
  }

  it('asks only the worker a connection id names, and the instances only when it does not hold it', async () => {
    const held = router(0, { 2: { kind: 'killed' } }, UNKNOWN);
    expect(await held.r.elsewhere(order(idOf(2, 9)))).toEqual({ kind: 'killed' });
    expect(held.asked).toEqual([2]);
    const gone = router(0, {}, { kind: 'denied' });
    expect(await gone.r.elsewhere(order(idOf(1, 9)))).toEqual({ kind: 'denied' });
    expect(gone.asked).toEqual([1, 'instances']);
    // Its own index, or one this instance lacks: only another instance can hold it.
    const own = router(1, {}, UNKNOWN);
    expect(await own.r.elsewhere(order(idOf(1, 9)))).toEqual(UNKNOWN);
    expect(await own.r.elsewhere(order(idOf(5, 9)))).toEqual(UNKNOWN);
    expect(own.asked).toEqual(['instances', 'instances']);
  });

  it('asks every other worker for a server thread id', async () => {
    const { r, asked } = router(1, { 2: { kind: 'killed' } }, UNKNOWN);
    expect(await r.elsewhere(order(4242))).toEqual({ kind: 'killed' });
    expect(asked.sort()).toEqual([0, 2]);
  });

  it('never forwards a KILL that came from another instance, and serves its own sessions first', async () => {
    const { r, asked } = router(0, {}, { kind: 'killed' });
    expect(await r.forwarded(order(idOf(1, 9)))).toEqual(UNKNOWN);
    expect(asked).toEqual([1]);
    const s = session(idOf(0, 3), 'app');
    const local = new KillRouter(new Map([[s.target.connectionId, s.target]]), new ConnectionIds(0, 2));
    expect(await local.forwarded(order(idOf(0, 3)))).toEqual({ kind: 'killed' });
    expect(s.done).toEqual(['query']);
  });

  it('says which processes did not answer when none killed it', async () => {
    const { r } = router(
      0,
      { 1: { kind: 'unreached', members: ['worker 1'] } },
      { kind: 'unreached', members: ['B'] },
    );
    expect(await r.elsewhere(order(idOf(1, 9)))).toEqual({ kind: 'unreached', members: ['worker 1', 'B'] });
  });
});

describe('worker relay through the primary', () => {
  afterEach(() => vi.useRealTimers());

  /** Two workers' relays and a primary between them; worker 1 holds `held`. */
  function wire(held: KillTarget, connected = true) {
    const forks = new Map<number, Worker>();
    const relays = [0, 1].map((i) =>
      workerRelay(i, (msg) => routeRelayMessages(forks, forks.get(i)!, msg, silentLogger())),
    );
    const sessions = [new Map<number, KillTarget>(), new Map([[held.connectionId, held]])];
    for (const i of [0, 1])
      forks.set(i, {
        isConnected: () => connected || i === 0,
        // The primary's send: the worker handles it on a later turn, as over IPC.
        send: (msg: unknown) =>
          setImmediate(() =>
            relays[i]!.onMessage(msg, {
              cancel: () => undefined,
              kill: (o) => killOwned(sessions[i]!, o),
            }),
          ),
      } as unknown as Worker);
    return relays;
  }

  it("carries a KILL to the owner and its answer back; a gone worker's sessions are unknown", async () => {
    const s = session(idOf(1, 4), 'app');
    const relays = wire(s.target);
    expect(await relays[0]!.relayKill(1, { id: idOf(1, 4), query: false, user: 'other' })).toEqual({
      kind: 'denied',
    });
    expect(await relays[0]!.relayKill(1, { id: idOf(1, 4), query: false, user: 'app' })).toEqual({
      kind: 'killed',
    });
    expect(s.done).toEqual(['connection']);
    const gone = wire(session(idOf(1, 4), 'app').target, false);
    expect(await gone[0]!.relayKill(1, { id: idOf(1, 4), query: false, user: 'app' })).toEqual(UNKNOWN);
  });

  it('reports a worker that does not answer as unreached', async () => {
    vi.useFakeTimers();
    const silent = workerRelay(0, () => undefined);
    const pending = silent.relayKill(1, { id: idOf(1, 4), query: true, user: 'app' });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await pending).toEqual({ kind: 'unreached', members: ['worker 1'] });
  });

  it('passes a PostgreSQL cancel to its worker; one naming no worker back to its sender unless from a peer', () => {
    const got: Array<[number, unknown]> = [];
    const fork = (i: number) =>
      ({ isConnected: () => true, send: (m: unknown) => got.push([i, m]) }) as unknown as Worker;
    const forks = new Map([
      [0, fork(0)],
      [1, fork(1)],
    ]);
    const cancel = (worker: number, fromPeer: boolean) => ({
      type: 'cancel',
      worker,
      processId: 9,
      secretKey: 8,
      fromPeer,
    });
    routeRelayMessages(forks, forks.get(0)!, cancel(1, false), silentLogger());
    routeRelayMessages(forks, forks.get(1)!, cancel(5, false), silentLogger());
    routeRelayMessages(forks, forks.get(1)!, cancel(5, true), silentLogger());
    expect(got).toEqual([
      [1, cancel(1, false)],
      [1, cancel(5, false)],
    ]);
  });
});
