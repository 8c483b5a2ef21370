// The IPC ends of the fence between the workers of one instance (src/control/worker-fence.ts):
// the arbiter in the primary process, and each worker's channel to it.
import type { Worker } from 'node:cluster';
import type { CutoverMember } from '../control/control-plane.js';
import { type FenceMessage, isFenceMessage, WorkerFence } from '../control/worker-fence.js';
import { WorkerFenceArbiter } from '../control/worker-fence-arbiter.js';

type Log = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

/**
 * In the primary: decides the workers' cutover rounds; a worker's exit (told through onExit)
 * counts as not acknowledging. `forks` is read live: a restarted worker is a member of later rounds.
 */
export function workerFenceArbiter(
  forks: ReadonlyMap<number, Worker>,
  log: Log,
): { onMessage(msg: unknown): void; onFork(worker: Worker): void; onExit(worker: number): void } {
  // A worker is a member once it listens: by then its fence channel is attached (a hold sent
  // before its IPC listener exists would be lost, and a restarted worker would never ack).
  const serving = new WeakSet<Worker>();
  const arbiter = new WorkerFenceArbiter(
    () => [...forks].filter(([, w]) => serving.has(w) && w.isConnected() && !w.isDead()).map(([i]) => i),
    (i, msg) => {
      const w = forks.get(i);
      if (w?.isConnected()) w.send(msg);
    },
    log,
  );
  return {
    onMessage(msg) {
      if (isFenceMessage(msg)) arbiter.onMessage(msg);
    },
    onFork: (worker) => worker.once('listening', () => serving.add(worker)),
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
