import { describe, expect, it } from 'vitest';
import { ShardgateError } from '../../src/errors.js';
import { applyContextSetting } from '../../src/protocol/session-context.js';
import { defaultSessionContext } from '../../src/router/inputs.js';

const services = { topology: { shardNames: () => ['s0', 's1'] } };

function apply(name: string, value: string | null) {
  const context = defaultSessionContext();
  context.consistency = 'eventual';
  context.role = 'replica';
  context.shard = 's1';
  applyContextSetting(context, name, value, services);
  return context;
}

function refusal(name: string, value: string): ShardgateError {
  try {
    apply(name, value);
  } catch (err) {
    expect(err).toBeInstanceOf(ShardgateError);
    return err as ShardgateError;
  }
  throw new Error(`${name} = ${value} was accepted`);
}

describe('shardgate.* session settings', () => {
  it('takes consistency levels and roles in any case', () => {
    expect(apply('shardgate.consistency', 'Strong').consistency).toBe('strong');
    expect(apply('consistency', "'bounded'").consistency).toBe('bounded');
    expect(apply('shardgate.role', 'PRIMARY').role).toBe('primary');
    expect(apply('shardgate.shard', 's0').shard).toBe('s0');
  });

  it('resets consistency, role and shard with no value, an empty one or DEFAULT in any case', () => {
    for (const value of [null, '', 'default', 'DEFAULT', 'Default']) {
      const context = apply('consistency', value);
      expect(context.consistency).toBeNull();
      expect(apply('role', value).role).toBeNull();
      expect(apply('shard', value).shard).toBeNull();
    }
  });

  it('refuses a value outside the list, saying what is expected', () => {
    const level = refusal('shardgate.consistency', 'eventually');
    expect(level.code).toBe('INVALID_HINT');
    expect(level.message).toContain('shardgate.consistency');
    expect(level.message).toContain('expected one of weak, eventual, bounded, read_your_writes, strong');
    const role = refusal('role', 'standby');
    expect(role.code).toBe('INVALID_HINT');
    expect(role.message).toContain('shardgate.role');
    expect(role.message).toContain('expected primary or replica');
    expect(refusal('shard', 's9').code).toBe('UNKNOWN_SHARD');
  });
});
