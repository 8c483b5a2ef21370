// The IPC ends of the fence between the workers of one instance (src/control/worker-fence.ts):
// the arbiter in the primary process, and each worker's channel to it.
import type { Worker } from 'node:cluster';
import type { CutoverMember } from '../control/control-plane.js';
import { type FenceMessage, isFenceMessage, WorkerFence } from '../control/worker-fence.js';
import { WorkerFenceArbiter } from '../control/worker-fence-arbiter.js';

/** A worker's word that its fence listener exists (no round: not a FenceMessage). */
interface FenceJoin {
  type: 'fence-join';
  worker: number;
}
const isFenceJoin = (m: unknown): m is FenceJoin =>
  (m as FenceJoin)?.type === 'fence-join' && typeof (m as FenceJoin).worker === 'number';

type Log = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

/**
 * In the primary: decides the workers' cutover rounds; a worker's exit (told through onExit)
 * counts as not acknowledging. `forks` is read live: a restarted worker is a member of later rounds.
 */
export function workerFenceArbiter(
  forks: ReadonlyMap<number, Worker>,
  log: Log,
): { onMessage(msg: unknown): void; onExit(worker: number): void } {
  // A worker is a member once it says it joined: it does so as soon as its fence listener exists
  // and before it reads the migration state, so a round that commits after that read counts on
  // its ack, and a hold sent to it is never lost (a freshly forked or restarted worker).
  const joined = new WeakSet<Worker>();
  const arbiter = new WorkerFenceArbiter(
    () => [...forks].filter(([, w]) => joined.has(w) && w.isConnected() && !w.isDead()).map(([i]) => i),
    (i, msg) => {
      const w = forks.get(i);
      if (w?.isConnected()) w.send(msg);
    },
    log,
  );
  return {
    onMessage(msg) {
      if (isFenceJoin(msg)) {
        const w = forks.get(msg.worker);
        if (w) joined.add(w);
      } else if (isFenceMessage(msg)) arbiter.onMessage(msg);
    },
    onExit: (worker) => arbiter.onExit(worker),
  };
}

/**
 * In a worker: listens for fence messages from now on (queued until the proxy built its cutover
 * member), and hands startProxy the fence over that member.
 */
export function workerFenceChannel(
  self: number,
  instanceId: string | undefined,
  log: Log,
): { attach(member: CutoverMember): WorkerFence } {
  const queued: FenceMessage[] = [];
  let fence: WorkerFence | null = null;
  process.on('message', (msg: unknown) => {
    if (!isFenceMessage(msg)) return;
    if (fence) fence.onMessage(msg);
    else queued.push(msg);
  });
  process.on('disconnect', () => fence?.disconnected());
  // From now on a hold reaches this worker (queued until attach): it may count as a member.
  process.send?.({ type: 'fence-join', worker: self } satisfies FenceJoin);
  const base = instanceId ?? `worker-${process.ppid}`;
  return {
    attach(member) {
      fence = new WorkerFence(
        self,
        (i) => (i === 0 ? base : `${base}.w${i}`),
        member,
        (msg) => process.send?.(msg),
        log,
      );
      for (const msg of queued.splice(0)) fence.onMessage(msg);
      return fence;
    },
  };
}
