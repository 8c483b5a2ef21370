// Shardgate's MySQL connection ids (what the handshake gives the client; KILL takes them). Each
// is unique within an instance and names the worker that holds the session: bit 30 set (away from
// the servers' own thread ids, which KILL also takes), the worker index in the next 7 bits, then
// 22 bits counted from a random start per process, so two instances seldom issue the same id.
// The same layout idea as the PostgreSQL side's process ids (cancel-registry.ts).
import { randomInt } from 'node:crypto';

const BASE = 2 ** 30;
const WORKER_BITS = 7;
const LOCAL_SPAN = 2 ** 22;

export class ConnectionIds {
  private next = randomInt(1, LOCAL_SPAN);

  constructor(
    private readonly workerIndex = 0,
    /** How many workers this instance runs. */
    readonly workerCount = 1,
  ) {
    if (workerIndex < 0 || workerIndex >= 2 ** WORKER_BITS)
      throw new Error(`worker index ${workerIndex} does not fit a MySQL connection id`);
  }

  /** A fresh id, none of `inUse` (after a wrap of the counter). */
  allocate(inUse: { has(id: number): boolean }): number {
    for (;;) {
      const id = BASE + this.workerIndex * LOCAL_SPAN + this.next;
      this.next = (this.next % (LOCAL_SPAN - 1)) + 1;
      if (!inUse.has(id)) return id;
    }
  }

  /** The worker an id of this layout names, or null for any other number (a server's thread id). */
  static workerOf(id: number): number | null {
    if (!Number.isInteger(id) || id < BASE || id >= BASE + 2 ** WORKER_BITS * LOCAL_SPAN) return null;
    return Math.floor((id - BASE) / LOCAL_SPAN);
  }

  get worker(): number {
    return this.workerIndex;
  }
}

/** For sessions built without one (tests, a single process): worker 0. */
export const defaultConnectionIds = new ConnectionIds(0);
