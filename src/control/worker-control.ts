// The control plane of one worker process of an instance without etcd (`workers > 1`): the rules
// are the primary's (worker-rules-relay.ts), reached over IPC. start() joins and applies the
// overlay the primary holds before any client is accepted; publishRule() goes through the primary
// to every worker and resolves once it came back here, applied. As for the embedded plane, the
// members are this process (the other workers answer the cluster view through worker-view.ts) and
// cutovers are fenced by the worker fence, not here.
import type { RuleChange } from '../admin/api-rules.js';
import type { ControlPlane, MemberInfo } from './control-plane.js';
import { isRulesMessage, type RulesMessage } from './worker-rules-relay.js';

/** How long a worker waits for the primary's overlay at start, and for its own change to come back. */
const PRIMARY_WAIT_MS = 10_000;

export interface WorkerChannel {
  send(msg: RulesMessage): void;
  onMessage(listener: (msg: unknown) => void): void;
  offMessage(listener: (msg: unknown) => void): void;
}

type Log = { warn(obj: object, msg: string): void };

export class WorkerControl implements ControlPlane {
  readonly kind = 'embedded' as const;
  readonly fence = null;
  private self: MemberInfo | null = null;
  private apply: ((change: RuleChange) => void) | null = null;
  private next = 1;
  private readonly waiting = new Map<number, (err?: Error) => void>();
  private readonly listener = (msg: unknown) => this.onMessage(msg);
  /** Until the overlay arrived and was applied: resolves start(). */
  private joined: (() => void) | null = null;

  constructor(
    private readonly worker: number,
    private readonly channel: WorkerChannel,
    private readonly log: Log,
  ) {}

  async start(self: MemberInfo, apply: (change: RuleChange) => void): Promise<void> {
    this.self = { ...self };
    this.apply = apply;
    this.channel.onMessage(this.listener);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.joined = null;
        reject(
          new Error(`the primary process sent no rules within ${PRIMARY_WAIT_MS} ms; restart shardgate`),
        );
      }, PRIMARY_WAIT_MS);
      this.joined = () => {
        clearTimeout(timer);
        resolve();
      };
      this.channel.send({ type: 'rules-join', from: this.worker });
    });
  }

  publishRule(change: RuleChange): Promise<void> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the primary process did not relay it within ${PRIMARY_WAIT_MS} ms; retry`));
      }, PRIMARY_WAIT_MS);
      timer.unref();
      this.waiting.set(id, (err) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        if (err) reject(err);
        else resolve();
      });
      this.channel.send({ type: 'rules-publish', from: this.worker, id, change });
    });
  }

  async updateSelf(patch: Partial<Omit<MemberInfo, 'id'>>): Promise<void> {
    if (this.self) Object.assign(this.self, patch);
  }

  async members(): Promise<MemberInfo[]> {
    return this.self ? [{ ...this.self }] : [];
  }

  async close(): Promise<void> {
    this.channel.offMessage(this.listener);
  }

  private onMessage(msg: unknown): void {
    if (!isRulesMessage(msg)) return;
    if (msg.type === 'rules-state') {
      // Applied here, not after start()'s await: a change right behind it must apply after it.
      for (const change of msg.changes) this.applyOne(change);
      this.joined?.();
      this.joined = null;
    } else if (msg.type === 'rules-change') {
      const err = this.applyOne(msg.change);
      // The publisher hears its own worker's failure (as EmbeddedControl passes it on).
      if (msg.origin.worker === this.worker) this.waiting.get(msg.origin.id)?.(err ?? undefined);
    }
  }

  /** The error when this worker could not apply it (the others' outcome is theirs). */
  private applyOne(change: RuleChange): Error | null {
    try {
      this.apply?.(change);
      return null;
    } catch (err) {
      // A rule this worker cannot apply must not stop the rest (as on etcd).
      this.log.warn(
        { change, err: err instanceof Error ? err.message : String(err) },
        'worker rules: rule not applied',
      );
      return err instanceof Error ? err : new Error(String(err));
    }
  }
}
