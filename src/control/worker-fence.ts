// The fenced cutover between the worker processes of one instance (`workers > 1`, embedded control
// plane; docs/control-plane.md, "Workers"). The worker running the migration (the controller,
// worker 0: it has the admin API) asks the primary process to open a round; the primary tells
// every other live worker to hold the range, collects their acks, and is the one place a round is
// decided (switch or abort), as `cutover/hold`'s compare-and-swap is on etcd
// (worker-fence-arbiter.ts). Each worker holds with its own gate through the member logic of
// cutover-member.ts and releases only after the decision reached it.
import type { CutoverFence, CutoverMember, FenceRound, HoldDecision, SwitchEntry } from './control-plane.js';
import { decideWithinMs } from './hold-bound.js';

export interface HoldSpec {
  migrationId: string;
  shards: string[];
  graceMs: number;
  deadlineMs: number;
}

/** Messages between the workers and the primary; `round` is `<controller>:<n>`. */
export type FenceMessage =
  | ({ type: 'fence-begin'; from: number; round: string } & HoldSpec)
  | { type: 'fence-begun'; round: string; members: number[]; version: number; error?: string }
  | ({ type: 'fence-hold'; round: string } & HoldSpec)
  | { type: 'fence-ack'; from: number; round: string }
  | { type: 'fence-acked'; round: string }
  | { type: 'fence-commit'; from: number; round: string; entry: SwitchEntry }
  | { type: 'fence-abort'; from: number; round: string; reason: string }
  | { type: 'fence-decided'; round: string; entry: SwitchEntry | null; reason?: string };

export const isFenceMessage = (m: unknown): m is FenceMessage =>
  typeof (m as FenceMessage)?.type === 'string' &&
  (m as FenceMessage).type.startsWith('fence-') &&
  typeof (m as FenceMessage).round === 'string';

interface Waiting {
  begun?: (m: Extract<FenceMessage, { type: 'fence-begun' }>) => void;
  acked?: () => void;
  decided?: (m: Extract<FenceMessage, { type: 'fence-decided' }>) => void;
}

interface Held {
  decide(entry: SwitchEntry | null): void;
  timer: NodeJS.Timeout;
}

/** One worker's side: the controller's fence (`begin`) and the member's holds, over `send`. */
export class WorkerFence implements CutoverFence {
  private next = 1;
  private readonly waiting = new Map<string, Waiting>();
  private readonly held = new Map<string, Held>();
  /** Holds run one after another: a new one waits for the release of the last. */
  private holding: Promise<void> = Promise.resolve();

  constructor(
    private readonly self: number,
    /** The member id of worker i (`<instance>` for 0, `<instance>.w<i>` for the others). */
    private readonly idOf: (worker: number) => string,
    private readonly member: CutoverMember,
    private readonly send: (msg: FenceMessage) => void,
    private readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
  ) {}

  async begin(hold: HoldSpec): Promise<FenceRound> {
    const round = `${this.self}:${this.next++}`;
    const waiting: Waiting = {};
    this.waiting.set(round, waiting);
    let acked = false;
    let decided: Extract<FenceMessage, { type: 'fence-decided' }> | null = null;
    const ackWaiters: Array<() => void> = [];
    const decideWaiters: Array<() => void> = [];
    waiting.acked = () => {
      acked = true;
      for (const w of ackWaiters.splice(0)) w();
    };
    waiting.decided = (m) => {
      decided = m;
      this.waiting.delete(round);
      for (const w of [...ackWaiters.splice(0), ...decideWaiters.splice(0)]) w();
    };
    const begun = await new Promise<Extract<FenceMessage, { type: 'fence-begun' }>>((resolve, reject) => {
      // The primary answers at once; no answer within the deadline means no hold was opened here.
      const timer = setTimeout(() => {
        this.waiting.delete(round);
        // The primary may have opened the round after all: close it, or the others hold on.
        this.send({
          type: 'fence-abort',
          from: this.self,
          round,
          reason: 'the controller gave up on the hold',
        });
        reject(new Error(`the primary process did not answer within ${hold.deadlineMs} ms`));
      }, hold.deadlineMs);
      waiting.begun = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.send({ type: 'fence-begin', from: this.self, round, ...hold });
    });
    if (begun.error) {
      this.waiting.delete(round);
      throw new Error(begun.error);
    }
    const version = begun.version;
    const members = begun.members.map(this.idOf);
    const send = this.send;
    const self = this.self;
    return {
      version,
      members,
      acknowledged(withinMs: number): Promise<void> {
        return new Promise((resolve, reject) => {
          const check = () => {
            const d = decided as Extract<FenceMessage, { type: 'fence-decided' }> | null;
            if (d && !d.entry) {
              clearTimeout(timer);
              reject(new Error(d.reason ?? 'the cutover was aborted'));
            } else if (acked) {
              clearTimeout(timer);
              resolve();
            }
          };
          const timer = setTimeout(
            () =>
              reject(new Error(`not every worker acknowledged the hold within ${Math.round(withinMs)} ms`)),
            withinMs,
          );
          ackWaiters.push(check);
          check();
        });
      },
      commit(entry: Omit<SwitchEntry, 'version'>): Promise<void> {
        return new Promise((resolve, reject) => {
          const settle = () => {
            const d = decided as Extract<FenceMessage, { type: 'fence-decided' }> | null;
            if (!d) return;
            if (d.entry) resolve();
            else reject(new Error(`not switched: ${d.reason ?? 'the cutover was aborted'}`));
          };
          decideWaiters.push(settle);
          if (decided) settle();
          else send({ type: 'fence-commit', from: self, round, entry: { ...entry, version: version + 1 } });
        });
      },
      async abort(reason: string): Promise<void> {
        if (!decided) send({ type: 'fence-abort', from: self, round, reason });
      },
    };
  }

  /** A message from the primary: an answer to this worker's round, or a hold for another's. */
  onMessage(msg: FenceMessage): void {
    switch (msg.type) {
      case 'fence-begun':
        this.waiting.get(msg.round)?.begun?.(msg);
        return;
      case 'fence-acked':
        this.waiting.get(msg.round)?.acked?.();
        return;
      case 'fence-decided':
        this.waiting.get(msg.round)?.decided?.(msg);
        this.held.get(msg.round)?.decide(msg.entry);
        return;
      case 'fence-hold':
        this.hold(msg);
        return;
      default:
    }
  }

  /** The primary is gone (this process ends with it): release every hold against the old version. */
  disconnected(): void {
    for (const h of this.held.values()) h.decide(null);
  }

  private hold(msg: Extract<FenceMessage, { type: 'fence-hold' }>): void {
    let decide!: (entry: SwitchEntry | null) => void;
    // Asked for the abort itself (its own deadline): the release reason its hold report gives.
    let ownDeadline = false;
    const decided = new Promise<HoldDecision>((r) => {
      decide = (entry) => r({ entry, by: entry ? 'switch' : ownDeadline ? 'own deadline' : 'abort' });
    });
    // The controller or the primary decides; at the bound's decision time (hold-bound.ts, as etcd
    // members do) this member asks for the abort itself. The primary decides that too, so it
    // cannot cross a commit: the hold stays within the bound whatever the controller does.
    const decideMs = decideWithinMs(msg.deadlineMs);
    const timer = setTimeout(() => {
      ownDeadline = true;
      this.send({
        type: 'fence-abort',
        from: this.self,
        round: msg.round,
        reason: `worker ${this.self} saw no decision within ${decideMs} ms`,
      });
    }, decideMs);
    timer.unref();
    this.held.set(msg.round, {
      timer,
      decide: (entry) => {
        clearTimeout(timer);
        this.held.delete(msg.round);
        decide(entry);
      },
    });
    const run = async () => {
      this.log.info(
        { round: msg.round, shards: msg.shards, worker: this.self },
        'worker holds for a cutover',
      );
      await this.member.hold(
        msg.shards,
        { migrationId: msg.migrationId, graceMs: msg.graceMs, deadlineMs: msg.deadlineMs },
        async () => this.send({ type: 'fence-ack', from: this.self, round: msg.round }),
        decided,
      );
    };
    this.holding = this.holding.then(run).catch((err: unknown) => {
      this.log.warn(
        { round: msg.round, err: err instanceof Error ? err.message : String(err) },
        'worker cutover hold failed',
      );
    });
  }
}
