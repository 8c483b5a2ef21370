// The controller's view of the acknowledgements of one hold (docs/control-plane.md, "Fenced
// cutover", step 3): the members read right after the hold, then one watch on `cutover/acks/` from
// the hold's revision (no ack of this hold can be older) and one on `members/` from the read's
// revision, so an ack is seen as it lands (no polling) and a member whose lease ends stops being
// waited for. The round resolves the moment the last live member's ack arrives. A watch that
// ends with an error (etcd cancels it, e.g. its start revision was compacted) fails the round at
// once, as the deadline would: the cutover aborts and releases the hold.
import type { IKeyValue, Namespace } from 'etcd3';
import { ACKS_PREFIX, memberFromAckKey, parseJson } from './cutover-keys.js';
import { openWatch } from './watch-from.js';

export const MEMBERS_PREFIX = 'members/';

const memberOf = (key: string) => decodeURIComponent(key.slice(MEMBERS_PREFIX.length));

/** What AckWatch uses of an etcd3 Watcher (an EventEmitter; tests pass their own). */
export interface WatchStream {
  on(event: 'put' | 'delete', listener: (kv: IKeyValue) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  cancel(): Promise<void>;
}

export class AckWatch {
  private readonly acked = new Set<string>();
  private readonly live: Set<string>;
  private watchers: WatchStream[] = [];
  private changed: () => void = () => undefined;
  /** Why a watch ended, once one has: every round fails with it from then on. */
  private broken: Error | null = null;
  private failed: (err: Error) => void = () => undefined;

  private constructor(
    /** The members that must acknowledge (every member but the controller, at the hold). */
    readonly expected: string[],
  ) {
    this.live = new Set(expected);
  }

  /** Reads the members after the hold at `holdRev` and watches acks and membership from there. */
  static async open(ns: Namespace, holdRev: string, selfId: string): Promise<AckWatch> {
    const read = await ns.getAll().prefix(MEMBERS_PREFIX).exec();
    const expected = read.kvs.map((kv) => memberOf(kv.key.toString())).filter((id) => id !== selfId);
    const w = new AckWatch(expected);
    // Listening from the moment each watch is created (watch-from.ts): an ack stored before the
    // watch was (a quick member) comes right behind its created response and must not be missed.
    const opened = await Promise.allSettled([
      openWatch(
        ns
          .watch()
          .prefix(ACKS_PREFIX)
          .startRevision(String(BigInt(holdRev) + 1n)),
        (s) => w.watchAcks(holdRev, s),
      ),
      openWatch(
        ns
          .watch()
          .prefix(MEMBERS_PREFIX)
          .startRevision(String(BigInt(read.header.revision) + 1n)),
        (s) => w.watchMembers(s),
      ),
    ]);
    w.watchers = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      await w.close();
      throw failed.reason;
    }
    return w;
  }

  /** Listens to the acks and members watches (exported for tests with their own streams). */
  static watching(expected: string[], holdRev: string, acks: WatchStream, members: WatchStream): AckWatch {
    const w = new AckWatch(expected);
    w.watchers = [acks, members];
    w.watchAcks(holdRev, acks);
    w.watchMembers(members);
    return w;
  }

  private watchAcks(holdRev: string, acks: WatchStream): void {
    acks.on('put', (kv) => {
      const id = memberFromAckKey(kv.key.toString());
      if (id && parseJson<{ hold: string }>(kv.value.toString())?.hold === holdRev)
        this.update(() => this.acked.add(id));
    });
    // An ack stored under a lease that ended went with it: the member acknowledges again once it
    // has registered again (its catch-up), and is waited for meanwhile if it is live.
    acks.on('delete', (kv) => {
      const id = memberFromAckKey(kv.key.toString());
      if (id) this.update(() => this.acked.delete(id));
    });
    this.failOnError('acknowledgements', acks);
  }

  private watchMembers(members: WatchStream): void {
    members.on('put', (kv) => this.update(() => this.live.add(memberOf(kv.key.toString()))));
    // A member whose lease ended is no longer waited for: it fenced itself before that (F3).
    members.on('delete', (kv) => this.update(() => this.live.delete(memberOf(kv.key.toString()))));
    this.failOnError('members', members);
  }

  private failOnError(name: string, stream: WatchStream): void {
    stream.on('error', (err: Error) => {
      this.broken ??= new Error(`the watch on ${name} ended: ${err.message}`);
      this.failed(this.broken);
    });
  }

  /** The expected members still live that have not acknowledged the hold. */
  missing(): string[] {
    return this.expected.filter((id) => this.live.has(id) && !this.acked.has(id));
  }

  /** Resolves once no live expected member is missing; rejects after `withinMs`. */
  acknowledged(withinMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.broken) {
        reject(this.broken);
        return;
      }
      const timer = setTimeout(() => {
        this.changed = () => undefined;
        this.failed = () => undefined;
        reject(
          new Error(`no acknowledgement of the hold from ${this.missing().join(', ')} within ${withinMs} ms`),
        );
      }, withinMs);
      const settle = () => {
        clearTimeout(timer);
        this.changed = () => undefined;
        this.failed = () => undefined;
      };
      this.changed = () => {
        if (this.missing().length > 0) return;
        settle();
        resolve();
      };
      this.failed = (err) => {
        settle();
        reject(err);
      };
      this.changed();
    });
  }

  async close(): Promise<void> {
    const watchers = this.watchers;
    this.watchers = [];
    await Promise.all(watchers.map((w) => w.cancel().catch(() => undefined)));
  }

  private update(change: () => void): void {
    change();
    this.changed();
  }
}
