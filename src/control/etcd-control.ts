// The control plane on etcd. Client: the `etcd3` npm package (Microsoft's, the most used Node
// etcd v3 client): gRPC with failover across endpoints, leases with automatic keepalive and a
// `lost` event, and watches that resume from their last revision after a reconnect, which is
// exactly what a shared rule overlay and a lease-bound member registry need. (The v2-API clients
// cannot watch v3 keys; the JSON gateway would mean writing the watch resumption ourselves.)
//
// Keys under `<namespace>/`: `rules/<kind>/<name>` (rule-keys.ts) and `members/<id>` (a
// MemberInfo, bound to this process's lease: it disappears when the process dies or is cut off),
// and `cutover/*` (cutover-keys.ts, the fenced cutover of etcd-cutover.ts).
import { Etcd3, type Lease, type Namespace, type Watcher } from 'etcd3';
import type { RuleChange } from '../admin/api-rules.js';
import { MEMBERS_PREFIX } from './ack-watch.js';
import type {
  ControlPlane,
  CutoverFence,
  CutoverMember,
  EtcdControlTarget,
  MemberInfo,
} from './control-plane.js';
import { EtcdCutover } from './etcd-cutover.js';
import { RULES_PREFIX, ruleFromKeyValue, ruleKeyValue } from './rule-keys.js';
import { openWatch } from './watch-from.js';

/**
 * A member counts its lease as alive until this share of the TTL has passed since it sent its last
 * acknowledged keepalive: etcd ends the lease no earlier than the TTL after receiving it, so the
 * member fences itself before the others may take it for gone (F3 in docs/control-plane.md).
 */
const FRESH_SHARE_OF_TTL = 2 / 3;
/**
 * Kept between the end of the fence's write grace and the earliest end of the lease: the abort of
 * a write past the grace (a cancel to its server) must land before the others may switch without
 * this member.
 */
const FENCE_ABORT_MARGIN_MS = 250;
const FRESH_CHECK_MS = 50;
/** How long publishRule waits for its own change to come back through the watch. */
const APPLY_WAIT_MS = 5_000;

export interface ControlLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class EtcdControl implements ControlPlane {
  readonly kind = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private watcher: Watcher | null = null;
  private lease: Lease | null = null;
  private registering: Promise<void> | null = null;
  private self: MemberInfo | null = null;
  private apply: ((change: RuleChange) => void) | null = null;
  /** The newest revision of the rules this process has applied. */
  private appliedRevision = 0n;
  private readonly revisionWaiters = new Set<() => void>();
  private closed = false;
  private cutover: EtcdCutover | null = null;
  /** When the keepalive last acknowledged was sent (or the lease requested). */
  private lastAliveAt = 0;
  private freshTimer: NodeJS.Timeout | null = null;
  /** Set while this member is fenced: releases the fence once caught up. */
  private unfence: (() => void) | null = null;
  private catchingUp = false;
  private selfWrites: Promise<void> = Promise.resolve();

  get fence(): CutoverFence | null {
    return this.cutover;
  }

  constructor(
    target: EtcdControlTarget,
    private readonly log: ControlLog,
    /** Seconds a member stays registered after its last keepalive. */
    private readonly leaseTtlSec = 3,
  ) {
    this.client = new Etcd3({ hosts: target.endpoints.map((e) => `http://${e}`), dialTimeout: 2_000 });
    this.ns = this.client.namespace(`${target.namespace}/`);
  }

  async start(self: MemberInfo, apply: (change: RuleChange) => void, member?: CutoverMember): Promise<void> {
    this.self = { ...self };
    this.apply = apply;
    // Read the overlay at one revision, apply it, then watch from the next revision: nothing is
    // missed between the read and the watch, nothing applied twice out of order.
    const current = await this.ns.getAll().prefix(RULES_PREFIX).exec();
    for (const kv of current.kvs)
      this.applyKv(kv.key.toString(), kv.value.toString(), BigInt(kv.mod_revision));
    const revision = BigInt(current.header.revision);
    if (revision > this.appliedRevision) this.appliedRevision = revision;
    // Listening before the watch is created (watch-from.ts): a rule stored between the read and the
    // watch's creation comes right behind the created response.
    this.watcher = await openWatch(
      this.ns
        .watch()
        .prefix(RULES_PREFIX)
        .startRevision(String(revision + 1n)),
      (watcher) => {
        watcher.on('put', (kv) =>
          this.applyKv(kv.key.toString(), kv.value.toString(), BigInt(kv.mod_revision)),
        );
        watcher.on('disconnected', (err) =>
          this.log.warn({ err: err.message }, 'control plane watch disconnected'),
        );
        watcher.on('connected', () => this.log.info({}, 'control plane watch connected'));
        watcher.on('error', (err) => this.log.warn({ err: err.message }, 'control plane watch error'));
      },
    );
    await this.register();
    if (!member) return;
    // Registered first, then read: a controller that did not count this member among those to
    // acknowledge published its hold before this read, which therefore sees it (and holds).
    this.cutover = new EtcdCutover(
      {
        ns: this.ns,
        selfId: () => this.self?.id ?? 'unknown',
        lease: () => this.lease,
        fresh: () => this.isFresh(),
        onVersion: (v) => void this.updateSelf({ clusterVersion: v }),
        log: this.log,
      },
      member,
    );
    await this.cutover.catchUp();
    this.freshTimer = setInterval(() => this.checkFresh(member), FRESH_CHECK_MS);
    this.freshTimer.unref();
  }

  private isFresh(): boolean {
    return (
      this.lease !== null && Date.now() - this.lastAliveAt < this.leaseTtlSec * 1000 * FRESH_SHARE_OF_TTL
    );
  }

  /**
   * Fences every write once the lease is in doubt (this member may be gone for the others, who may
   * then switch without it), and lifts the fence only after reading the cutover state again.
   */
  private checkFresh(member: CutoverMember): void {
    if (this.closed) return;
    const fresh = this.isFresh();
    if (!fresh && !this.unfence) {
      this.log.warn(
        { id: this.self?.id, sinceKeepaliveMs: Date.now() - this.lastAliveAt },
        'control plane lease in doubt: writes held until this instance has caught up',
      );
      // The fence starts (about) 2/3 of the TTL after the last acknowledged keepalive was sent;
      // etcd may end the lease (and a controller then switch without this member) from the full
      // TTL on. A write in flight must have ended by then, so its grace is at most what is left of
      // the TTL (about a third), less a margin for the abort, whatever inflightGraceMs says (F3).
      const leaseLeftMs = this.leaseTtlSec * 1000 - (Date.now() - this.lastAliveAt);
      member.fenceAll(
        new Promise<void>((resolve) => {
          this.unfence = resolve;
        }),
        Math.max(0, leaseLeftMs - FENCE_ABORT_MARGIN_MS),
      );
    } else if (fresh && this.unfence && !this.catchingUp && this.cutover) {
      this.catchingUp = true;
      this.cutover
        .catchUp()
        .then(
          () => {
            this.unfence?.();
            this.unfence = null;
            this.log.info(
              { id: this.self?.id, clusterVersion: this.cutover?.version },
              'control plane caught up: writes flow again',
            );
          },
          (err: Error) =>
            this.log.warn({ err: err.message }, 'control plane catch-up failed; writes stay held'),
        )
        .finally(() => {
          this.catchingUp = false;
        });
    }
  }

  private applyKv(key: string, value: string, revision: bigint): void {
    const change = ruleFromKeyValue(key, value);
    if (!change) this.log.warn({ key }, 'control plane: unknown rule key skipped');
    else {
      try {
        this.apply?.(change);
      } catch (err) {
        // A rule this instance cannot apply (e.g. a data type its config lacks) must not stop the rest.
        this.log.warn(
          { key, err: err instanceof Error ? err.message : String(err) },
          'control plane: rule not applied',
        );
      }
    }
    if (revision > this.appliedRevision) this.appliedRevision = revision;
    for (const wake of this.revisionWaiters) wake();
  }

  /** Grants a lease and puts this member under it; again whenever the lease is lost. */
  private async register(): Promise<void> {
    const requestedAt = Date.now();
    const lease = this.ns.lease(this.leaseTtlSec);
    // Responses on one keepalive stream come in order: each one answers the oldest fire pending.
    const fired: number[] = [];
    lease.on('keepaliveEstablished', () => {
      fired.length = 0;
    });
    lease.on('keepaliveFired', () => {
      fired.push(Date.now());
    });
    lease.on('keepaliveSucceeded', () => {
      const sentAt = fired.shift();
      if (this.lease === lease && sentAt !== undefined) this.lastAliveAt = Math.max(this.lastAliveAt, sentAt);
    });
    lease.on('lost', (err) => {
      if (this.closed || this.lease !== lease) return;
      this.log.warn({ err: err.message }, 'control plane lease lost; registering again');
      this.lease = null;
      void this.registerUntilDone();
    });
    try {
      await lease.put(this.memberKey()).value(JSON.stringify(this.self));
      this.lease = lease;
      this.lastAliveAt = Math.max(this.lastAliveAt, requestedAt);
    } catch (err) {
      // A failed put also makes etcd3 emit 'lost' on this lease; only this lease is dropped here,
      // never one a later attempt has granted, and it is revoked so no orphan keeps a key alive.
      if (this.lease === lease) this.lease = null;
      void lease.revoke().catch(() => undefined);
      throw err;
    }
  }

  /** One registration loop at a time: a 'lost' event during a retry joins the running loop. */
  private registerUntilDone(): Promise<void> {
    this.registering ??= this.registerLoop().finally(() => {
      this.registering = null;
    });
    return this.registering;
  }

  private async registerLoop(): Promise<void> {
    while (!this.closed && !this.lease) {
      try {
        await this.register();
        this.log.info({ id: this.self?.id }, 'control plane member registered again');
        return;
      } catch (err) {
        this.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'control plane: register failed',
        );
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private memberKey(): string {
    return `${MEMBERS_PREFIX}${encodeURIComponent(this.self?.id ?? 'unknown')}`;
  }

  async publishRule(change: RuleChange): Promise<void> {
    const { key, value } = ruleKeyValue(change);
    const put = await this.ns.put(key).value(value).exec();
    await this.waitApplied(BigInt(put.header.revision));
  }

  private waitApplied(revision: bigint): Promise<void> {
    if (this.appliedRevision >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        if (this.appliedRevision < revision) return;
        clearTimeout(timer);
        this.revisionWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.revisionWaiters.delete(done);
        reject(
          new Error(
            `the change is stored in etcd but did not come back through the watch within ${APPLY_WAIT_MS} ms; it applies when the watch reconnects`,
          ),
        );
      }, APPLY_WAIT_MS);
      this.revisionWaiters.add(done);
    });
  }

  async updateSelf(patch: Partial<Omit<MemberInfo, 'id'>>): Promise<void> {
    if (!this.self) return;
    Object.assign(this.self, patch);
    // One put at a time, each with the record as it is when sent: two concurrent puts may land in
    // either order, and an older record landing last would hide a newer field (a switch's version).
    this.selfWrites = this.selfWrites.then(() => this.putSelf());
    return this.selfWrites;
  }

  private async putSelf(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.closed) return; // registering again writes the updated value
    await lease
      .put(this.memberKey())
      .value(JSON.stringify(this.self))
      .then(
        () => undefined,
        (err: Error) => this.log.warn({ err: err.message }, 'control plane: member update failed'),
      );
  }

  async members(): Promise<MemberInfo[]> {
    const values = await this.ns.getAll().prefix(MEMBERS_PREFIX).strings();
    const out: MemberInfo[] = [];
    for (const text of Object.values(values)) {
      try {
        out.push(JSON.parse(text) as MemberInfo);
      } catch {
        // a value another version wrote: not a member this one can show
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.freshTimer) clearInterval(this.freshTimer);
    this.unfence?.();
    await this.cutover?.close();
    await this.watcher?.cancel().catch(() => undefined);
    // Revoking removes this member at once (not after the TTL).
    await this.lease?.revoke().catch(() => undefined);
    this.client.close();
  }
}
