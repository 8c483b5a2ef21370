// Applies one shared rule to this process's topology, whichever instance made it. Idempotent: a
// rule already in force changes nothing (no new topology version), so the instance that made a
// change and then sees it come back through the watch does not rebuild twice.
import { applyRuleChange, type RuleChange } from '../admin/api-rules.js';
import type { RuntimeTopology } from '../backend/pg-topology.js';
import { ruleInForce } from './rule-keys.js';

/** True when the rule changed something here. Throws when the rule names what this config lacks. */
export function applyRuleLocally(topology: RuntimeTopology, change: RuleChange): boolean {
  if (change.action === 'drain' || change.action === 'undrain') {
    const drained = change.action === 'drain';
    const server = topology.server(change.server);
    if (!server) throw new Error(`unknown server "${change.server}"`);
    if (server.view.drained === drained) return false;
    topology.setDrained(change.server, drained);
    return true;
  }
  if (ruleInForce(topology.currentConfig, change)) return false;
  topology.rebuild(applyRuleChange(topology.currentConfig, change, topology));
  return true;
}
