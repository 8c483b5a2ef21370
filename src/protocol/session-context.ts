// shardgate.* session settings: the routing context a client sets by startup option, by
// `SET shardgate.<name> = ...` (answered by the proxy, never forwarded), or by a comment hint.
import { CONSISTENCY_LEVELS } from '../config/schema.js';
import { ShardgateError } from '../errors.js';
import type { SessionContext } from '../router/inputs.js';

export const CONTEXT_SETTINGS = [
  'vip',
  'realtime',
  'battery_saving',
  'consistency',
  'shard',
  'role',
  'cross_shard',
] as const;

function parseBool(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'true', 'yes', '1', 't', 'y'].includes(v)) return true;
  if (['off', 'false', 'no', '0', 'f', 'n'].includes(v)) return false;
  throw new ShardgateError('INVALID_HINT', {
    name: `shardgate.${name}`,
    value,
    detail: 'expected on or off',
  });
}

/** No value, an empty one or `default` (any case, as SQL's DEFAULT): the setting goes back to its default. */
const isUnset = (value: string | null): value is null =>
  value === null || value === '' || value.toLowerCase() === 'default';

/** `value`, lowercased, when it is one of `allowed`; else INVALID_HINT saying what is expected. */
function oneOf<T extends string>(name: string, value: string, allowed: readonly T[], expected: string): T {
  const v = value.toLowerCase() as T;
  if (!allowed.includes(v))
    throw new ShardgateError('INVALID_HINT', {
      name: `shardgate.${name}`,
      value,
      detail: `expected ${expected}`,
    });
  return v;
}

const ROLES = ['primary', 'replica'] as const;

/** Applies one setting; `value` null resets it. Throws INVALID_HINT on a bad name or value. */
export function applyContextSetting(
  context: SessionContext,
  rawName: string,
  rawValue: string | null,
  services: { topology: { shardNames(): string[] } },
): void {
  const name = rawName.toLowerCase().replace(/^shardgate\./, '');
  const value = rawValue === null ? null : rawValue.replace(/^'(.*)'$/, '$1');
  switch (name) {
    case 'vip':
      context.vip = value === null ? false : parseBool(name, value);
      return;
    case 'realtime':
      context.realtime = value === null ? false : parseBool(name, value);
      return;
    case 'battery_saving':
    case 'batterysaving':
      context.batterySaving = value === null ? false : parseBool(name, value);
      return;
    case 'consistency':
      context.consistency = isUnset(value)
        ? null
        : oneOf(name, value, CONSISTENCY_LEVELS, `one of ${CONSISTENCY_LEVELS.join(', ')}`);
      return;
    case 'shard': {
      if (isUnset(value)) {
        context.shard = null;
        return;
      }
      const known = services.topology.shardNames();
      if (!known.includes(value))
        throw new ShardgateError('UNKNOWN_SHARD', { shard: value, known: known.join(', ') });
      context.shard = value;
      return;
    }
    case 'role':
      context.role = isUnset(value) ? null : oneOf(name, value, ROLES, 'primary or replica');
      return;
    case 'cross_shard': {
      // Stricter only: a session may keep its transactions on one shard, never allow more.
      const v = value?.toLowerCase() ?? 'default';
      // refuse > two_phase > compensate: two_phase turns a data type's compensate into two-phase commit.
      if (v !== 'refuse' && v !== 'two_phase' && v !== 'default' && v !== '')
        throw new ShardgateError('INVALID_HINT', {
          name: 'shardgate.cross_shard',
          value: value ?? '',
          detail: 'expected refuse, two_phase or default (the data types and transactions.crossShard decide)',
        });
      context.crossShardRefused = v === 'refuse';
      context.crossShardTwoPhase = v === 'two_phase';
      return;
    }
    default:
      throw new ShardgateError('INVALID_HINT', {
        name: `shardgate.${name}`,
        value: rawValue ?? '',
        detail: `unknown setting; known: ${CONTEXT_SETTINGS.map((s) => `shardgate.${s}`).join(', ')}`,
      });
  }
}

export function contextSettingValue(context: SessionContext, rawName: string): string {
  const name = rawName.toLowerCase().replace(/^shardgate\./, '');
  switch (name) {
    case 'vip':
      return context.vip ? 'on' : 'off';
    case 'realtime':
      return context.realtime ? 'on' : 'off';
    case 'battery_saving':
    case 'batterysaving':
      return context.batterySaving ? 'on' : 'off';
    case 'consistency':
      return context.consistency ?? 'default';
    case 'shard':
      return context.shard ?? 'default';
    case 'role':
      return context.role ?? 'default';
    case 'cross_shard':
      return context.crossShardRefused ? 'refuse' : context.crossShardTwoPhase ? 'two_phase' : 'default';
    default:
      throw new ShardgateError('INVALID_HINT', {
        name: `shardgate.${name}`,
        value: '',
        detail: 'unknown setting',
      });
  }
}
