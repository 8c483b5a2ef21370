// The primary process's part of the fence between workers (worker-fence.ts): it opens one round at
// a time, tells every other live worker to hold, tells the controller once all of them acked, and
// decides each round exactly once: the controller's commit (only while the round is open and
// undecided) or an abort (the controller's, a member's past its slack, or a worker that exited
// before acknowledging, or the controller exiting). Every worker of the round hears the decision.
import type { SwitchEntry } from './control-plane.js';
import type { FenceMessage } from './worker-fence.js';

interface Round {
  id: string;
  controller: number;
  members: Set<number>;
  acked: Set<number>;
}

export class WorkerFenceArbiter {
  /** The instance's topology version: switches committed through this primary. */
  private version = 0;
  private open: Round | null = null;

  constructor(
    /** The live workers by index (a worker that exited is gone from it). */
    private readonly live: () => number[],
    private readonly sendTo: (worker: number, msg: FenceMessage) => void,
    private readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
  ) {}

  onMessage(msg: FenceMessage): void {
    switch (msg.type) {
      case 'fence-begin': {
        if (this.open) {
          this.sendTo(msg.from, {
            type: 'fence-begun',
            round: msg.round,
            members: [],
            version: this.version,
            error: `another cutover (${this.open.id}) holds the workers`,
          });
          return;
        }
        const members = this.live().filter((w) => w !== msg.from);
        this.open = { id: msg.round, controller: msg.from, members: new Set(members), acked: new Set() };
        this.log.info({ round: msg.round, migration: msg.migrationId, members }, 'workers cutover hold');
        const { from: _from, type: _type, ...hold } = msg;
        for (const w of members) this.sendTo(w, { ...hold, type: 'fence-hold' });
        this.sendTo(msg.from, { type: 'fence-begun', round: msg.round, members, version: this.version });
        this.ackedAll();
        return;
      }
      case 'fence-ack': {
        const r = this.round(msg.round);
        if (!r?.members.has(msg.from)) return;
        r.acked.add(msg.from);
        this.ackedAll();
        return;
      }
      case 'fence-commit': {
        const r = this.round(msg.round);
        // Only the controller commits, and only once every member acknowledged.
        if (!r || msg.from !== r.controller || r.acked.size < r.members.size) {
          if (r) this.decide(r, null, 'commit before every worker acknowledged');
          else
            this.sendTo(msg.from, {
              type: 'fence-decided',
              round: msg.round,
              entry: null,
              reason: 'the round was already decided',
            });
          return;
        }
        this.version = msg.entry.version;
        this.decide(r, msg.entry);
        return;
      }
      case 'fence-abort': {
        const r = this.round(msg.round);
        if (r) this.decide(r, null, msg.reason);
        return;
      }
      default:
    }
  }

  /** A worker exited: a round waiting for it (or run by it) is aborted. */
  onExit(worker: number): void {
    const r = this.open;
    if (!r) return;
    if (worker === r.controller) this.decide(r, null, `the controller (worker ${worker}) exited`);
    else if (r.members.has(worker) && !r.acked.has(worker))
      this.decide(r, null, `worker ${worker} exited before acknowledging the hold`);
    else if (r.members.delete(worker)) r.acked.delete(worker);
  }

  private round(id: string): Round | null {
    return this.open?.id === id ? this.open : null;
  }

  private ackedAll(): void {
    const r = this.open;
    if (r && r.acked.size === r.members.size) this.sendTo(r.controller, { type: 'fence-acked', round: r.id });
  }

  private decide(r: Round, entry: SwitchEntry | null, reason?: string): void {
    this.open = null;
    const msg: FenceMessage = { type: 'fence-decided', round: r.id, entry, ...(reason ? { reason } : {}) };
    for (const w of [r.controller, ...r.members]) this.sendTo(w, msg);
    if (entry) this.log.info({ round: r.id, version: entry.version }, 'workers switched');
    else this.log.warn({ round: r.id, reason }, 'workers cutover aborted');
  }
}
