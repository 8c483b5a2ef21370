// The shared rules between the worker processes of one instance without etcd (`workers > 1`,
// embedded control plane). The primary process holds the rule overlay (the latest setting of each
// rule key, as etcd would: rule-keys.ts) and relays every change to every worker that joined, in
// one order; a worker that joins (at start, or restarted after a crash) gets the overlay first.
// Persisted rules (persist: true) are in the config file as well, which a restarted worker reads.
import type { RuleChange } from '../admin/api-rules.js';
import { ruleKeyValue } from './rule-keys.js';

/** Messages between the workers (worker-control.ts) and the primary. */
export type RulesMessage =
  | { type: 'rules-join'; from: number }
  | { type: 'rules-publish'; from: number; id: number; change: RuleChange }
  | { type: 'rules-state'; changes: RuleChange[] }
  | { type: 'rules-change'; change: RuleChange; origin: { worker: number; id: number } };

export const isRulesMessage = (m: unknown): m is RulesMessage =>
  typeof (m as RulesMessage)?.type === 'string' && (m as RulesMessage).type.startsWith('rules-');

export class WorkerRulesRelay {
  /** Rule key → the latest change of that key (persist dropped: the file is the publisher's to write). */
  private readonly overlay = new Map<string, RuleChange>();
  /** Workers that joined (got the overlay) and so get every later change. */
  private readonly joined = new Set<number>();

  constructor(private readonly sendTo: (worker: number, msg: RulesMessage) => void) {}

  onMessage(msg: RulesMessage): void {
    if (msg.type === 'rules-join') {
      this.joined.add(msg.from);
      this.sendTo(msg.from, { type: 'rules-state', changes: [...this.overlay.values()] });
    } else if (msg.type === 'rules-publish') {
      const change = { ...msg.change, persist: false };
      this.overlay.set(ruleKeyValue(change).key, change);
      const out: RulesMessage = { type: 'rules-change', change, origin: { worker: msg.from, id: msg.id } };
      // The publisher too, even if it has not joined: it waits for its own change to come back.
      for (const w of new Set([...this.joined, msg.from])) this.sendTo(w, out);
    }
  }

  /** A worker exited: its successor joins again (and gets the overlay then). */
  onExit(worker: number): void {
    this.joined.delete(worker);
  }
}
