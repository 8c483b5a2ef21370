// Routing rules as keys of the shared control plane: one key per rule, its value the rule's
// current setting, so the stored state is the overlay every instance applies over its config file
// (a late joiner reads the keys; a change is one put). Undrain and read-write are puts of 'false',
// never deletes, so the latest revision of a key is always the rule in force. Pure.
import type { RuleChange } from '../admin/api-rules.js';
import { CONSISTENCY_LEVELS, type ConsistencyLevel, type ShardgateConfig } from '../config/schema.js';

export const RULES_PREFIX = 'rules/';

export function ruleKeyValue(change: RuleChange): { key: string; value: string } {
  switch (change.action) {
    case 'set-level':
      return { key: key('level', change.dataType), value: change.level };
    case 'set-floor':
      return { key: key('floor', change.dataType), value: change.floor };
    case 'read-only':
    case 'read-write':
      return { key: key('read-only', change.shard), value: String(change.action === 'read-only') };
    case 'set-pool-size':
      return { key: key('pool-size', change.shard), value: String(change.size) };
    case 'drain':
    case 'undrain':
      return { key: key('drain', change.server), value: String(change.action === 'drain') };
  }
}

/** The rule a stored key holds, or null for a key this version does not know (logged, skipped). */
export function ruleFromKeyValue(fullKey: string, value: string): RuleChange | null {
  if (!fullKey.startsWith(RULES_PREFIX)) return null;
  const [kind, encoded, ...rest] = fullKey.slice(RULES_PREFIX.length).split('/');
  if (!kind || encoded === undefined || rest.length > 0) return null;
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    return null;
  }
  const persist = false;
  switch (kind) {
    case 'level':
      return isLevel(value) ? { action: 'set-level', dataType: name, level: value, persist } : null;
    case 'floor':
      return isLevel(value) || value === 'none'
        ? { action: 'set-floor', dataType: name, floor: value, persist }
        : null;
    case 'read-only':
      return value === 'true' || value === 'false'
        ? { action: value === 'true' ? 'read-only' : 'read-write', shard: name, persist }
        : null;
    case 'pool-size': {
      const size = Number(value);
      return Number.isInteger(size) && size >= 1 && size <= 10_000
        ? { action: 'set-pool-size', shard: name, size, persist }
        : null;
    }
    case 'drain':
      return value === 'true' || value === 'false'
        ? { action: value === 'true' ? 'drain' : 'undrain', server: name, persist }
        : null;
    default:
      return null;
  }
}

/** True when `config` already has what `change` sets (applying it again would change nothing). */
export function ruleInForce(config: ShardgateConfig, change: RuleChange): boolean {
  switch (change.action) {
    case 'set-level':
      return config.dataTypes[change.dataType]?.level === change.level;
    case 'set-floor':
      return (config.dataTypes[change.dataType]?.floor ?? 'none') === change.floor;
    case 'read-only':
    case 'read-write':
      return (
        Boolean(config.shards.find((s) => s.name === change.shard)?.readOnly) ===
        (change.action === 'read-only')
      );
    case 'set-pool-size':
      return config.shards.find((s) => s.name === change.shard)?.poolSize === change.size;
    case 'drain':
    case 'undrain':
      return false; // drains live in the topology, not the config: see applyRuleLocally
  }
}

function key(kind: string, name: string): string {
  return `${RULES_PREFIX}${kind}/${encodeURIComponent(name)}`;
}

function isLevel(v: string): v is ConsistencyLevel {
  return (CONSISTENCY_LEVELS as readonly string[]).includes(v);
}
