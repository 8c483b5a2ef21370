// The embedded control plane: one shardgate instance, no etcd. Rules apply in this process only
// (persisted to the config file when asked, as always); the member list is this process.
import type { RuleChange } from '../admin/api-rules.js';
import type { ControlPlane, MemberInfo } from './control-plane.js';

export class EmbeddedControl implements ControlPlane {
  readonly kind = 'embedded' as const;
  readonly fence = null;
  private self: MemberInfo | null = null;
  private apply: ((change: RuleChange) => void) | null = null;

  async start(self: MemberInfo, apply: (change: RuleChange) => void): Promise<void> {
    this.self = { ...self };
    this.apply = apply;
  }

  async publishRule(change: RuleChange): Promise<void> {
    this.apply?.(change);
  }

  async updateSelf(patch: Partial<Omit<MemberInfo, 'id'>>): Promise<void> {
    if (this.self) Object.assign(this.self, patch);
  }

  async members(): Promise<MemberInfo[]> {
    return this.self ? [{ ...this.self }] : [];
  }

  async close(): Promise<void> {}
}
