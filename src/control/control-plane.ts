// The control plane: the state every shardgate instance of one deployment shares (routing rules,
// data-type levels, drains) and the registry of live members. Two implementations:
// EmbeddedControl (one instance, today's local state; no etcd needed) and EtcdControl
// (`shardgate start --control etcd://host:port[,host:port][/namespace]`). docs/control-plane.md.
import type { RuleChange } from '../admin/api-rules.js';

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
}

export interface ControlPlane {
  readonly kind: 'embedded' | 'etcd';
  /**
   * Applies the shared rules to this process through `apply` (now, and on every later change from
   * any instance), and registers `self` as a live member.
   */
  start(self: MemberInfo, apply: (change: RuleChange) => void): Promise<void>;
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
