// The primary process's worker processes (`workers > 1`): forks them, and restarts one that exits
// while shardgate is not shutting down (same index, same environment), after a back-off that
// doubles with each crash in a row, so a worker that cannot start does not spin the machine.
// The restarted worker joins the rules relay and the worker fence like the first one did.
import cluster, { type Worker } from 'node:cluster';

const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
/** A worker that ran this long before exiting counts as a first crash again. */
const STABLE_MS = 60_000;

/** The wait before the restart after `crashesInRow` exits in a row (1 s, 2 s, 4 s ... 30 s). */
export function restartDelayMs(crashesInRow: number): number {
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, crashesInRow - 1));
}

type Log = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

export interface WorkerSupervisor {
  /** Shutting down: no exit restarts a worker from now on; signals every worker. */
  stop(signal: NodeJS.Signals): void;
}

export function superviseWorkers(
  /** Filled here: the live worker of each index (a restarted one replaces its entry). */
  forks: Map<number, Worker>,
  count: number,
  envOf: (index: number) => Record<string, string>,
  /** Called for each worker forked (the first ones and every restart), before it can send. */
  wire: (index: number, worker: Worker) => void,
  /** Called when a worker exited (before any restart). */
  exited: (index: number) => void,
  log: Log,
): WorkerSupervisor {
  const crashes = new Map<number, number>();
  const timers = new Set<NodeJS.Timeout>();
  let stopping = false;
  const fork = (i: number) => {
    const startedAt = Date.now();
    const worker = cluster.fork(envOf(i));
    forks.set(i, worker);
    wire(i, worker);
    // A send to a worker that just died must not end the primary.
    worker.on('error', (err: Error) => log.warn({ worker: i, err: err.message }, 'worker IPC error'));
    worker.on('online', () => log.info({ worker: i, pid: worker.process.pid }, 'worker process started'));
    worker.on('exit', (code: number | null, signal: string | null) => {
      exited(i);
      if (stopping) return;
      const inRow = Date.now() - startedAt >= STABLE_MS ? 1 : (crashes.get(i) ?? 0) + 1;
      crashes.set(i, inRow);
      const delayMs = restartDelayMs(inRow);
      log.warn(
        { worker: i, pid: worker.process.pid, code, signal, crashesInRow: inRow, restartInMs: delayMs },
        'worker process exited unexpectedly: restarting it',
      );
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopping) fork(i);
      }, delayMs);
      timers.add(timer);
    });
  };
  for (let i = 0; i < count; i++) fork(i);
  return {
    stop(signal) {
      stopping = true;
      for (const t of timers) clearTimeout(t);
      for (const w of forks.values()) if (!w.isDead()) w.kill(signal);
    },
  };
}
