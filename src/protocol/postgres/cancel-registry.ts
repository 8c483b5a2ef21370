// BackendKeyData is issued by shardgate, never the server's: a CancelRequest from a client names
// our (processId, secretKey), and we cancel whatever that session runs on its servers. With
// several worker processes, the top bits of the process id name the worker that owns the
// session, so a cancel arriving at another worker is relayed to the right one. A cancel the owning
// worker does not hold may belong to another instance of the deployment: it is handed to
// `forward` (every other member is asked; the one with the matching key cancels). A cancel that
// came from another instance is never forwarded again, so none travels in a loop. Every process
// counts its process ids from a random start, so instances seldom issue the same ones; when they
// do, a local session whose secret key does not match is no reason to stop: the cancel goes on
// to the other instances like one no session here holds.
import { randomInt } from 'node:crypto';
import type { CancelRegistry, CancelTarget } from './services.js';

const WORKER_BITS = 6;
const LOCAL_BITS = 31 - WORKER_BITS;

export class LocalCancelRegistry implements CancelRegistry {
  private readonly sessions = new Map<number, { secretKey: number; target: CancelTarget }>();
  /** Random, so two instances (each counting from here) seldom issue the same process ids. */
  private next = randomInt(1, 1 << LOCAL_BITS);

  constructor(
    private readonly workerIndex = 0,
    /** Relays a cancel for a session of another worker (cluster mode); fromPeer travels along. */
    private readonly relay?: (
      workerIndex: number,
      processId: number,
      secretKey: number,
      fromPeer: boolean,
    ) => void,
    /** Hands a cancel no session here matches to the other instances (control plane members). */
    private readonly forward?: (processId: number, secretKey: number) => void,
  ) {}

  register(target: CancelTarget): { processId: number; secretKey: number } {
    let local = this.next;
    do {
      local = (local % ((1 << LOCAL_BITS) - 1)) + 1;
    } while (this.sessions.has(this.compose(local)));
    this.next = local + 1;
    const processId = this.compose(local);
    const secretKey = randomInt(1, 2 ** 31 - 1);
    this.sessions.set(processId, { secretKey, target });
    return { processId, secretKey };
  }

  /**
   * Registers under a key the client already knows: in session pooling, the backend's own
   * (pid, key), so pg_terminate_backend(pid) and pg_stat_activity match what the driver was told.
   * Only in a single process (a real pid carries no worker bits) and when the pid is free here.
   */
  registerAs(processId: number, secretKey: number, target: CancelTarget): boolean {
    if (this.relay || processId <= 0 || this.sessions.has(processId)) return false;
    this.sessions.set(processId, { secretKey, target });
    return true;
  }

  private compose(local: number): number {
    return ((this.workerIndex & ((1 << WORKER_BITS) - 1)) << LOCAL_BITS) | local;
  }

  unregister(processId: number): void {
    this.sessions.delete(processId);
  }

  /** A CancelRequest a client sent to this process. */
  cancel(processId: number, secretKey: number): void {
    this.route(processId, secretKey, false);
  }

  /** A cancel another instance forwarded: served here or by the owning worker, never forwarded again. */
  cancelForwarded(processId: number, secretKey: number): void {
    this.route(processId, secretKey, true);
  }

  private route(processId: number, secretKey: number, fromPeer: boolean): void {
    const owner = processId >>> LOCAL_BITS;
    if (owner !== this.workerIndex && this.relay) {
      this.relay(owner, processId, secretKey, fromPeer);
      return;
    }
    this.cancelOwned(processId, secretKey, fromPeer);
  }

  /**
   * In the worker the key names: cancels the session when the key matches; any other key (no
   * session, or a session of this process id with another secret key) may be another instance's
   * session, so it goes to the other instances unless it came from one (there a wrong key is
   * ignored, as PostgreSQL does).
   */
  cancelOwned(processId: number, secretKey: number, fromPeer: boolean): void {
    const entry = this.sessions.get(processId);
    if (entry?.secretKey === secretKey) {
      entry.target.cancel();
      return;
    }
    if (!fromPeer && processId > 0 && secretKey > 0) this.forward?.(processId, secretKey);
  }
}
