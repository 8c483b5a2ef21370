// The control plane's pure parts: every rule kind survives the trip through its etcd key and value,
// keys of another version are skipped (null), ruleInForce tells a no-op from a change, and
// --control URLs are checked before anything starts.
import { describe, expect, it } from 'vitest';
import type { RuleChange } from '../../src/admin/api-rules.js';
import { parseControlUrl } from '../../src/control/control-plane.js';
import { ruleFromKeyValue, ruleInForce, ruleKeyValue } from '../../src/control/rule-keys.js';
import { demoConfig } from '../support/topology-fixture.js';

const CHANGES: RuleChange[] = [
  { action: 'set-level', dataType: 'user_account', level: 'eventual', persist: false },
  { action: 'set-floor', dataType: 'payment_info', floor: 'strong', persist: false },
  { action: 'set-floor', dataType: 'payment_info', floor: 'none', persist: false },
  { action: 'read-only', shard: 's0', persist: false },
  { action: 'read-write', shard: 's0', persist: false },
  { action: 'set-pool-size', shard: 's1', size: 7, persist: false },
  { action: 'drain', server: 's0-replica1', persist: false },
  { action: 'undrain', server: 's0-replica1', persist: false },
  { action: 'set-level', dataType: 'odd/name with spaces', level: 'weak', persist: false },
];

describe('rule keys', () => {
  it.each(CHANGES.map((c) => [c.action, c] as const))('%s round-trips through its key', (_, change) => {
    const { key, value } = ruleKeyValue(change);
    expect(key.startsWith('rules/')).toBe(true);
    expect(key.split('/')).toHaveLength(3);
    expect(ruleFromKeyValue(key, value)).toEqual(change);
  });

  it('a rule and its opposite share one key, so the newest revision is the rule in force', () => {
    expect(ruleKeyValue(CHANGES[3]!).key).toBe(ruleKeyValue(CHANGES[4]!).key);
    expect(ruleKeyValue(CHANGES[6]!).key).toBe(ruleKeyValue(CHANGES[7]!).key);
  });

  it('skips keys and values it does not know instead of guessing', () => {
    expect(ruleFromKeyValue('rules/level/user_account', 'very-strong')).toBeNull();
    expect(ruleFromKeyValue('rules/color/s0', 'blue')).toBeNull();
    expect(ruleFromKeyValue('rules/pool-size/s0', '0')).toBeNull();
    expect(ruleFromKeyValue('rules/pool-size/s0', '2.5')).toBeNull();
    expect(ruleFromKeyValue('rules/drain/x', 'yes')).toBeNull();
    expect(ruleFromKeyValue('rules/level/a/b', 'weak')).toBeNull();
    expect(ruleFromKeyValue('rules/level/%E0%A4%A', 'weak')).toBeNull();
    expect(ruleFromKeyValue('members/x', 'weak')).toBeNull();
  });

  it('ruleInForce is true only when the config already has the setting', () => {
    const config = demoConfig();
    const level = config.dataTypes.user_account?.level;
    expect(level).toBeDefined();
    expect(
      ruleInForce(config, { action: 'set-level', dataType: 'user_account', level: level!, persist: false }),
    ).toBe(true);
    const other = level === 'weak' ? 'strong' : 'weak';
    expect(
      ruleInForce(config, { action: 'set-level', dataType: 'user_account', level: other, persist: false }),
    ).toBe(false);
    expect(ruleInForce(config, { action: 'read-write', shard: 's0', persist: false })).toBe(true);
    expect(ruleInForce(config, { action: 'read-only', shard: 's0', persist: false })).toBe(false);
  });
});

describe('--control URL', () => {
  it('takes one or more host:port endpoints and an optional namespace', () => {
    expect(parseControlUrl('etcd://127.0.0.1:2379')).toEqual({
      endpoints: ['127.0.0.1:2379'],
      namespace: 'shardgate',
    });
    expect(parseControlUrl('etcd://a:1,b.example:2,[::1]:3/prod-eu')).toEqual({
      endpoints: ['a:1', 'b.example:2', '[::1]:3'],
      namespace: 'prod-eu',
    });
  });

  it.each([
    'http://127.0.0.1:2379',
    'etcd://',
    'etcd://127.0.0.1',
    'etcd://127.0.0.1:0',
    'etcd://127.0.0.1:99999',
    'etcd://a:1,:2',
    'etcd://a:1/name/more',
  ])('refuses %s with a message naming the form', (url) => {
    expect(() => parseControlUrl(url)).toThrow(/etcd:\/\/host:port|is not host:port/);
  });
});
