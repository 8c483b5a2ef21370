// A shard name in both `shards` and `mysqlShards` is refused at load: the migration planner would
// read it as one side or the other depending on the code path.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const config = (mysqlName: string) => ({
  users: [{ name: 'app', password: 'app' }],
  shards: [{ name: 's0', keyRange: '-', primary: { host: '127.0.0.1', port: 6001 } }],
  mysqlShards: [{ name: mysqlName, keyRange: '-', primary: { host: '127.0.0.1', port: 6002 } }],
});

describe('shard names across shards and mysqlShards', () => {
  it('refuses one name on both sides', () => {
    let err: unknown;
    try {
      parseConfig(config('s0'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'mysqlShards.0.name: "s0" is also a shard under shards; give each shard one name',
    ]);
  });
  it('accepts distinct names', () => {
    expect(parseConfig(config('my0')).mysqlShards[0]!.name).toBe('my0');
  });
});
