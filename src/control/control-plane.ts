// The control plane: the state every shardgate instance of one deployment shares (routing rules,
// data-type levels, drains) and the registry of live members. Two implementations:
// EmbeddedControl (one instance, today's local state; no etcd needed) and EtcdControl
// (`shardgate start --control etcd://host:port[,host:port][/namespace]`). docs/control-plane.md.
import type { RuleChange } from '../admin/api-rules.js';
import type { SplitPlan } from '../migration/plan.js';

export interface MemberInfo {
  /** Unique per process: `--instance-id` (default host-pid), plus `.w<i>` for workers past the first. */
  id: string;
  /** The admin API's address (http://host:port), or null for a worker without one. */
  admin: string | null;
  /** shardgate's version. */
  version: string;
  /** This process's topology version (bumped by every applied rule change and switch). */
  topologyVersion: number;
  startedAt: string;
  /** The shared topology version (switches applied) this member routes by; etcd only. */
  clusterVersion?: number;
}

/** One switch of the shared topology (version v+1 of docs/control-plane.md, "Fenced cutover"). */
export interface SwitchEntry {
  version: number;
  migrationId: string;
  /** A split/move/merge switching to its targets, or a rollback returning to its sources. */
  kind: 'switch' | 'rollback';
  plan: SplitPlan;
  /** read_your_writes positions: each shard that took keys, at its LSN of the switch. */
  positions: Record<string, string>;
}

/**
 * What ended a member's hold: the controller's decision heard first (`switch`, `abort`), the
 * member's own deadline (it decided by compare-and-swap, or learned the decision that way), or
 * the hold's record gone with the controller's lease (`controller gone`).
 */
export type HoldRelease = 'switch' | 'abort' | 'own deadline' | 'controller gone';

export interface HoldDecision {
  /** The switch to apply before releasing, or null (abort: nothing changes). */
  entry: SwitchEntry | null;
  by: HoldRelease;
}

/** What a member does when another instance's cutover holds writes (src/control/cutover-member.ts). */
export interface CutoverMember {
  /**
   * Holds writes on `shards` (new ones wait, in-flight ones drain under `graceMs` and are then
   * aborted with 40001), calls `drained` once none is in flight, and releases when `decided`
   * resolves (the hold's own deadline `deadlineMs` is kept by whoever resolves it).
   */
  hold(
    shards: string[],
    o: { migrationId: string; graceMs: number; deadlineMs: number },
    drained: () => Promise<void>,
    decided: Promise<HoldDecision>,
  ): Promise<void>;
  /** Applies a switch this process has not applied yet (idempotent: an applied one is skipped). */
  apply(entry: SwitchEntry): void;
  /** True when the switch (migration, kind) is not in force in this process's topology. */
  wouldApply(entry: Pick<SwitchEntry, 'migrationId' | 'kind'>): boolean;
  /** The controller applied `entry` itself (its copy from the watch must not apply again). */
  markApplied(entry: SwitchEntry): void;
  /**
   * Lease stale: holds every write until `until` resolves (caught up with the shared version);
   * writes in flight end within `maxGraceMs` at most (what is left of the lease).
   */
  fenceAll(until: Promise<void>, maxGraceMs: number): void;
}

/** The controller's side of one fenced cutover (docs/control-plane.md). */
export interface FenceRound {
  /** The shared topology version the hold was published at. */
  readonly version: number;
  /** The members that must acknowledge (read right after the hold was published). */
  readonly members: readonly string[];
  /** Resolves once every live member acknowledged the hold; rejects after `withinMs`. */
  acknowledged(withinMs: number): Promise<void>;
  /** The commit point: publishes version+1 if the hold is still this round's; throws (nothing changed) if not. */
  commit(entry: Omit<SwitchEntry, 'version'>): Promise<void>;
  /** Publishes the abort (members release against `version`); never throws. */
  abort(reason: string): Promise<void>;
}

export interface CutoverFence {
  /** Publishes "hold writes for `shards` at the current version"; throws when another hold is open. */
  begin(hold: {
    migrationId: string;
    shards: string[];
    graceMs: number;
    deadlineMs: number;
  }): Promise<FenceRound>;
}

export interface ControlPlane {
  readonly kind: 'embedded' | 'etcd';
  /**
   * Applies the shared rules to this process through `apply` (now, and on every later change from
   * any instance), and registers `self` as a live member.
   */
  start(self: MemberInfo, apply: (change: RuleChange) => void, cutover?: CutoverMember): Promise<void>;
  /** Cutovers fenced across instances; null for the embedded plane (one process: the local gate is the fence). */
  readonly fence: CutoverFence | null;
  /** Makes a validated rule change shared; resolves once this process has applied it. */
  publishRule(change: RuleChange): Promise<void>;
  /** Updates what this member tells the others; resolves once stored (failures are logged, not thrown). */
  updateSelf(patch: Partial<Omit<MemberInfo, 'id'>>): Promise<void>;
  /** The live members, this one included, sorted by id. */
  members(): Promise<MemberInfo[]>;
  close(): Promise<void>;
}

export interface EtcdControlTarget {
  endpoints: string[];
  /** Key prefix of this deployment, so several deployments can share one etcd. */
  namespace: string;
}

/** Parses `etcd://host:port[,host:port...][/namespace]`; throws a message saying what is wrong. */
export function parseControlUrl(url: string): EtcdControlTarget {
  const m = /^etcd:\/\/([^/]+)(?:\/([A-Za-z0-9_-]+))?\/?$/.exec(url.trim());
  if (!m?.[1]) throw new Error(`--control "${url}": expected etcd://host:port[,host:port...][/namespace]`);
  const endpoints = m[1].split(',').map((e) => e.trim());
  for (const e of endpoints) {
    const hp = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(e);
    if (!hp || Number(hp[2]) < 1 || Number(hp[2]) > 65_535)
      throw new Error(`--control "${url}": "${e}" is not host:port`);
  }
  return { endpoints, namespace: m[2] ?? 'shardgate' };
}
