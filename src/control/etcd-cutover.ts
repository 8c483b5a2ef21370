// The fenced cutover on etcd (docs/control-plane.md, "Fenced cutover across instances"), both
// sides: the controller's round (hold, wait for every live member's ack, commit v+1 or abort) and
// every member's part (watch the hold, hold writes through its own gate, ack under its lease,
// release after the decision, catch up after a lapse). The decision is one compare-and-swap on
// `cutover/hold` against the hold's revision: the controller's commit and a member's abort past
// the deadline cannot both win, and a controller whose lease ended (the key went with it) cannot
// commit at all.
import type { Lease, Namespace, Watcher } from 'etcd3';
import { AckWatch, MEMBERS_PREFIX } from './ack-watch.js';
import type {
  CutoverFence,
  CutoverMember,
  FenceRound,
  HoldDecision,
  HoldRelease,
  SwitchEntry,
} from './control-plane.js';
import {
  ackKey,
  CUTOVER_PREFIX,
  HOLD_KEY,
  type HoldRecord,
  PRUNED_KEY,
  type PrunedRecord,
  parseJson,
  TOPOLOGY_PREFIX,
  topologyKey,
} from './cutover-keys.js';
import { decideWithinMs } from './hold-bound.js';
import { openWatch } from './watch-from.js';

/** How often an ack held back by a lease in doubt is tried again. */
const ACK_RETRY_MS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CutoverHost {
  ns: Namespace;
  selfId(): string;
  /** The lease this member is registered under, or null while it has none. */
  lease(): Lease | null;
  /** False once this member cannot prove its lease is still alive (see EtcdControl.checkFresh). */
  fresh(): boolean;
  onVersion(version: number): void;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

interface Joined {
  rev: string;
  version: number;
  decided: boolean;
  /** This member's writes on the hold's shards have drained (it acknowledged, or tried to). */
  drained: boolean;
  /** This member's own deadline fired first: whatever decides the hold now, that ended it. */
  ownDeadline: boolean;
  decide(entry: SwitchEntry | null, by: HoldRelease): void;
}

export class EtcdCutover implements CutoverFence {
  /** The highest shared topology version applied here. */
  version = 0;
  private watcher: Watcher | null = null;
  private joined: Joined | null = null;
  private closed = false;
  /** Migrations this process is committing: their switch is applied by the migration, not the watch. */
  readonly committing = new Set<string>();
  /** Holds run one after another: a new one waits for the release of the last. */
  private holding: Promise<void> = Promise.resolve();
  /** The revision of the newest `cutover/hold` record taken in, from the watch or a catch-up read. */
  private holdRevision = 0n;

  constructor(
    private readonly host: CutoverHost,
    private readonly member: CutoverMember,
  ) {}

  /**
   * Reads the cutover keys at one revision: applies every switch not applied yet, joins an open
   * hold; the first call then watches from the next revision. Before serving, and again whenever
   * this member's lease was in doubt.
   */
  async catchUp(): Promise<void> {
    const { ns } = this.host;
    const res = await ns.getAll().prefix(CUTOVER_PREFIX).exec();
    const entries: SwitchEntry[] = [];
    let hold: { rec: HoldRecord; rev: string } | null = null;
    let pruned: PrunedRecord | null = null;
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      if (key === PRUNED_KEY) pruned = parseJson<PrunedRecord>(kv.value.toString());
      else if (key.startsWith(TOPOLOGY_PREFIX)) {
        const e = parseJson<SwitchEntry>(kv.value.toString());
        if (e) entries.push(e);
      } else if (key === HOLD_KEY) {
        const rec = parseJson<HoldRecord>(kv.value.toString());
        if (rec) hold = { rec, rev: String(kv.mod_revision) };
      }
    }
    if (pruned) this.checkPruned(pruned);
    for (const e of entries.sort((a, b) => a.version - b.version)) this.applyEntry(e);
    if (hold) this.onHold(hold.rec, hold.rev);
    if (this.watcher) return;
    // Listening before the watch is created (watch-from.ts): a hold or a switch stored between this
    // read and the watch's creation comes right behind the created response.
    this.watcher = await openWatch(
      ns
        .watch()
        .prefix(CUTOVER_PREFIX)
        .startRevision(String(BigInt(res.header.revision) + 1n)),
      (watcher) => {
        watcher.on('put', (kv) => {
          const key = kv.key.toString();
          if (key.startsWith(TOPOLOGY_PREFIX)) {
            const e = parseJson<SwitchEntry>(kv.value.toString());
            if (e) this.applyEntry(e);
          } else if (key === HOLD_KEY) {
            const rec = parseJson<HoldRecord>(kv.value.toString());
            if (rec) this.onHold(rec, String(kv.mod_revision));
          }
        });
        watcher.on('delete', (kv) => {
          // The controller's lease ended with the hold open: the topology says whether it had committed.
          const joined = this.joined;
          if (kv.key.toString() === HOLD_KEY && joined && !joined.decided)
            void this.resolveFromTopology(joined, 'controller gone');
        });
        watcher.on('error', (err) => this.host.log.warn({ err: err.message }, 'cutover watch error'));
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watcher?.cancel().catch(() => undefined);
  }

  /**
   * The switches pruned below `pruned.below` cannot be replayed: this process must have each of
   * them in force already (its state files), or it would route the moved ranges by an old
   * topology. Throws then: the start fails, or a member back from a lapse stays fenced.
   */
  private checkPruned(pruned: PrunedRecord): void {
    if (this.version >= pruned.below - 1) return;
    const missing = Object.entries(pruned.switched).filter(([migrationId, kind]) =>
      this.member.wouldApply({ migrationId, kind }),
    );
    if (missing.length > 0)
      throw new Error(
        `the shared topology's switches below version ${pruned.below} were pruned and this instance lacks ${missing.map(([id, kind]) => `${kind} ${id}`).join(', ')}; start it with the migration state files of an instance that has them (migration.stateDir)`,
      );
    this.version = pruned.below - 1;
  }

  /**
   * Deletes the switches no member can still need: below the previous version and below every
   * live member's applied version (a member that has not reported one counts as 0, so nothing
   * goes while it joins). What went is recorded in `cutover/pruned`, in the same transaction.
   */
  async prune(): Promise<number> {
    const { ns } = this.host;
    const [members, stored, prunedText] = await Promise.all([
      ns.getAll().prefix(MEMBERS_PREFIX).strings(),
      ns.getAll().prefix(TOPOLOGY_PREFIX).strings(),
      ns.get(PRUNED_KEY).string(),
    ]);
    let keepFrom = this.version - 1;
    for (const text of Object.values(members))
      keepFrom = Math.min(keepFrom, parseJson<{ clusterVersion?: number }>(text)?.clusterVersion ?? 0);
    const old = Object.values(stored)
      .map((text) => parseJson<SwitchEntry>(text))
      .filter((e): e is SwitchEntry => e !== null && e.version < keepFrom)
      .sort((a, b) => a.version - b.version);
    if (old.length === 0) return 0;
    const pruned = (prunedText ? parseJson<PrunedRecord>(prunedText) : null) ?? { below: 0, switched: {} };
    for (const e of old) pruned.switched[e.migrationId] = e.kind;
    pruned.below = Math.max(pruned.below, keepFrom);
    // Another controller pruning at the same moment: one transaction wins, the other prunes nothing.
    const guard = prunedText
      ? ns.if(PRUNED_KEY, 'Value', '==', prunedText)
      : ns.if(PRUNED_KEY, 'Create', '==', 0);
    const r = await guard
      .then(
        ns.put(PRUNED_KEY).value(JSON.stringify(pruned)),
        ...old.map((e) => ns.delete().key(topologyKey(e.version))),
      )
      .commit();
    return r.succeeded ? old.length : 0;
  }

  private applyEntry(e: SwitchEntry): void {
    if (this.committing.has(e.migrationId)) return;
    // Applied already: a catch-up read answered after the watch had delivered newer switches must
    // not apply an older one again (a switch after its rollback would undo the rollback).
    if (e.version <= this.version) return;
    try {
      this.member.apply(e);
    } catch (err) {
      this.host.log.warn(
        { version: e.version, err: err instanceof Error ? err.message : String(err) },
        'shared topology switch not applied',
      );
    }
    if (e.version > this.version) {
      this.version = e.version;
      this.host.onVersion(e.version);
    }
  }

  private onHold(rec: HoldRecord, rev: string): void {
    // A catch-up read may be answered after the watch delivered a newer record: an older one is
    // stale (joined again, it would take the open hold for decided and hold a decided one again).
    if (BigInt(rev) < this.holdRevision) return;
    this.holdRevision = BigInt(rev);
    if (rec.state === 'hold') {
      if (rec.controller !== this.host.selfId()) this.join(rec, rev);
      return;
    }
    if (rec.state === 'switch' && rec.entry) this.applyEntry(rec.entry);
    const joined = this.joined;
    if (joined && joined.rev === rec.holdRevision)
      joined.decide(rec.state === 'switch' ? (rec.entry ?? null) : null, rec.state);
  }

  private join(rec: HoldRecord, rev: string): void {
    const previous = this.joined;
    if (previous?.rev === rev) {
      // Read again by a catch-up (the lease was in doubt, or this member registered again): an ack
      // stored under a lease that ended went with it, and the controller still waits for one.
      if (!previous.decided && previous.drained) void this.ack(rev);
      return;
    }
    // A newer hold means the previous one was decided, whether or not this member saw it.
    if (previous && !previous.decided) void this.resolveFromTopology(previous, 'controller gone');
    let resolve!: (d: HoldDecision) => void;
    const decided = new Promise<HoldDecision>((r) => {
      resolve = r;
    });
    // This member's own deadline, from when it started holding: it does not wait to hear the
    // controller's abort (one watch event late) or its lease end (seconds) to release.
    const timer = setTimeout(
      () => void this.decideAtOwnDeadline(rec, joined),
      decideWithinMs(rec.deadlineMs),
    );
    const joined: Joined = {
      rev,
      version: rec.version,
      decided: false,
      drained: false,
      ownDeadline: false,
      decide: (entry, by) => {
        if (joined.decided) return;
        joined.decided = true;
        clearTimeout(timer);
        resolve({ entry, by: joined.ownDeadline ? 'own deadline' : by });
      },
    };
    this.joined = joined;
    this.holding = this.holding.then(() =>
      this.member
        .hold(
          rec.shards,
          { migrationId: rec.migrationId, graceMs: rec.graceMs, deadlineMs: rec.deadlineMs },
          () => {
            joined.drained = true;
            return this.ack(rev);
          },
          decided,
        )
        .catch((err: unknown) =>
          this.host.log.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'cutover hold failed',
          ),
        ),
    );
  }

  /** Never throws: an ack that cannot be stored leaves the controller to time out and abort. */
  private async ack(rev: string): Promise<void> {
    // Never acknowledge on a lease in doubt; but a keepalive late for a moment (under load) must
    // not lose the ack either: the fence-and-catch-up cycle that acks again runs only when the
    // freshness check sees the doubt, and it may not. Try again while this hold is still open.
    let lease = this.host.lease();
    let warned = false;
    while (!lease || !this.host.fresh()) {
      if (!warned) this.host.log.warn({ hold: rev }, 'cutover hold not acknowledged yet: no live lease');
      warned = true;
      const joined = this.joined;
      if (this.closed || joined?.rev !== rev || joined.decided) return;
      await sleep(ACK_RETRY_MS);
      lease = this.host.lease();
    }
    try {
      await lease.put(ackKey(this.host.selfId())).value(JSON.stringify({ hold: rev }));
    } catch (err) {
      this.host.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'cutover ack failed');
    }
  }

  /**
   * This member's deadline passed with the hold undecided: it decides the hold itself, an abort by
   * the same compare-and-swap as the controller's commit, so once it wins no switch can follow
   * (the commit needs the hold's revision unchanged). Lost, the hold was decided already: the
   * same transaction reads switch v+1, present exactly when it committed. Either way one round
   * trip, and the member releases on its answer (never before: it never guesses).
   */
  private async decideAtOwnDeadline(rec: HoldRecord, joined: Joined): Promise<void> {
    const { ns } = this.host;
    joined.ownDeadline = true;
    const abort: HoldRecord = {
      ...rec,
      state: 'abort',
      holdRevision: joined.rev,
      reason: `member ${this.host.selfId()} reached its own deadline (${rec.deadlineMs} ms from its hold) undecided`,
    };
    while (!joined.decided) {
      try {
        const r = await ns
          .if(HOLD_KEY, 'Mod', '==', joined.rev)
          .then(ns.put(HOLD_KEY).value(JSON.stringify(abort)))
          .else(ns.get(topologyKey(joined.version + 1)))
          .commit();
        if (r.succeeded) return joined.decide(null, 'own deadline');
        const kv = r.responses[0]?.response_range?.kvs[0];
        return joined.decide(kv ? parseJson<SwitchEntry>(kv.value.toString()) : null, 'own deadline');
      } catch {
        await sleep(ACK_RETRY_MS); // etcd unreachable: the hold stays until the decision can be read
      }
    }
  }

  /** A decided hold whose decision this member missed: switch v+1 exists exactly when it committed. */
  private async resolveFromTopology(joined: Joined, by: HoldRelease): Promise<void> {
    while (!joined.decided) {
      try {
        const text = await this.host.ns.get(topologyKey(joined.version + 1)).string();
        joined.decide(text ? parseJson<SwitchEntry>(text) : null, by);
        return;
      } catch {
        await sleep(200);
      }
    }
  }

  // ---- the controller --------------------------------------------------------------------------

  async begin(hold: {
    migrationId: string;
    shards: string[];
    graceMs: number;
    deadlineMs: number;
  }): Promise<FenceRound> {
    const { ns } = this.host;
    const lease = this.host.lease();
    if (!lease || !this.host.fresh())
      throw new Error(
        'this instance cannot prove its control-plane lease is alive; retry once it reaches etcd',
      );
    const leaseId = await lease.grant();
    const current = await ns.get(HOLD_KEY).exec();
    const kv = current.kvs[0];
    const existing = kv ? parseJson<HoldRecord>(kv.value.toString()) : null;
    if (existing?.state === 'hold')
      throw new Error(`a cutover is open: migration ${existing.migrationId} on ${existing.controller}`);
    const stored = await ns.getAll().prefix(TOPOLOGY_PREFIX).keys();
    const latest = stored.reduce((n, k) => Math.max(n, Number(k.slice(TOPOLOGY_PREFIX.length))), 0);
    if (latest !== this.version)
      throw new Error(`this instance applied topology version ${this.version}, the shared one is ${latest}`);
    const record: HoldRecord = { state: 'hold', ...hold, version: latest, controller: this.host.selfId() };
    const guard = kv
      ? ns.if(HOLD_KEY, 'Mod', '==', String(kv.mod_revision))
      : ns.if(HOLD_KEY, 'Create', '==', 0);
    const put = await guard.then(ns.put(HOLD_KEY).value(JSON.stringify(record)).lease(leaseId)).commit();
    if (!put.succeeded) throw new Error('another instance began a cutover at the same moment');
    const holdRev = String(put.header.revision);
    let acks: AckWatch;
    try {
      // Read after the hold: a member registering later reads the hold before it serves.
      acks = await AckWatch.open(ns, holdRev, this.host.selfId());
    } catch (err) {
      // The hold is published and every member holds writes for it: abort it now rather than let
      // them hold until its deadline (the same compare-and-swap as any abort).
      const reason = `the controller could not start the round: ${err instanceof Error ? err.message : String(err)}`;
      await abortHold(this.host, record, holdRev, reason);
      throw err;
    }
    return new EtcdRound(this.host, this.member, record, holdRev, acks, this.committing, (v) => {
      this.version = Math.max(this.version, v);
      this.host.onVersion(this.version);
      // After the commit, off the block's path: a failed prune is retried after the next switch.
      void this.prune().catch((err: unknown) =>
        this.host.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'old cutover/topology versions not pruned',
        ),
      );
    });
  }
}

class EtcdRound implements FenceRound {
  readonly version: number;

  constructor(
    private readonly host: CutoverHost,
    private readonly member: CutoverMember,
    private readonly record: HoldRecord,
    private readonly holdRev: string,
    private readonly acks: AckWatch,
    private readonly committing: Set<string>,
    private readonly onVersion: (v: number) => void,
  ) {
    this.version = record.version;
    this.members = acks.expected;
  }

  readonly members: readonly string[];

  async acknowledged(withinMs: number): Promise<void> {
    try {
      await this.acks.acknowledged(withinMs);
    } finally {
      await this.acks.close();
    }
  }

  async commit(draft: Omit<SwitchEntry, 'version'>): Promise<void> {
    const entry: SwitchEntry = { ...draft, version: this.version + 1 };
    const decision: HoldRecord = { ...this.record, state: 'switch', holdRevision: this.holdRev, entry };
    this.committing.add(entry.migrationId);
    try {
      await this.commitOnce(entry, decision);
      this.member.markApplied(entry);
    } finally {
      this.committing.delete(entry.migrationId);
    }
    this.onVersion(entry.version);
  }

  private async commitOnce(entry: SwitchEntry, decision: HoldRecord): Promise<void> {
    const { ns } = this.host;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await ns
          .if(HOLD_KEY, 'Mod', '==', this.holdRev)
          .and(topologyKey(entry.version), 'Create', '==', 0)
          .then(
            ns.put(topologyKey(entry.version)).value(JSON.stringify(entry)),
            ns.put(HOLD_KEY).value(JSON.stringify(decision)),
          )
          .commit();
        if (r.succeeded) return;
        throw new Error(
          'the hold was decided without this instance (a member aborted it past the deadline, or this lease ended)',
        );
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('the hold was decided')) throw err;
        // The outcome of a failed request is unknown: read what etcd holds before deciding.
        if (await this.committed(entry.version)) return;
        if (attempt >= 20) throw err;
        await sleep(50);
      }
    }
  }

  /**
   * True when switch `version` is this migration's: the commit writes it with the decision in one
   * transaction, and only this round could write it for this migration at this version.
   */
  private async committed(version: number): Promise<boolean> {
    for (;;) {
      try {
        const stored = await this.host.ns.get(topologyKey(version)).string();
        return (stored ? parseJson<SwitchEntry>(stored) : null)?.migrationId === this.record.migrationId;
      } catch {
        await sleep(100);
      }
    }
  }

  async abort(reason: string): Promise<void> {
    await this.acks.close();
    await abortHold(this.host, this.record, this.holdRev, reason);
  }
}

/** Decides the hold `holdRev` as aborted (compare-and-swap); never throws: members abort past the deadline. */
async function abortHold(
  host: CutoverHost,
  hold: HoldRecord,
  holdRev: string,
  reason: string,
): Promise<void> {
  const { ns } = host;
  const record: HoldRecord = { ...hold, state: 'abort', holdRevision: holdRev, reason };
  await ns
    .if(HOLD_KEY, 'Mod', '==', holdRev)
    .then(ns.put(HOLD_KEY).value(JSON.stringify(record)))
    .commit()
    .catch((err: Error) =>
      host.log.warn({ err: err.message }, 'cutover abort not stored; members abort past the deadline'),
    );
}
