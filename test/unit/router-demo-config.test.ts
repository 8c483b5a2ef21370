// config/shardgate.yaml is the demo topology: parseConfig must accept it as written.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { DEMO_CONFIG_PATH } from '../support/topology-fixture.js';

describe('config/shardgate.yaml', () => {
  const config = parseConfig(parse(readFileSync(DEMO_CONFIG_PATH, 'utf8')), DEMO_CONFIG_PATH);

  it('is accepted by parseConfig', () => {
    expect(config.listen.postgres).toEqual({ host: '127.0.0.1', port: 6432 });
    expect(config.listen.admin).toEqual({ host: '127.0.0.1', port: 9930 });
    expect(config.listen.mysql).toEqual({ host: '127.0.0.1', port: 6033 });
    expect(config.users).toMatchObject([{ name: 'app', password: 'app', auth: 'scram-sha-256' }]);
    expect(config.pool.mode).toBe('transaction');
  });

  it('has two shards with one replica each', () => {
    expect(
      config.shards.map((s) => [s.name, s.keyRange, s.primary.port, s.replicas.map((r) => r.port)]),
    ).toEqual([
      ['s0', '-80', 5433, [5434]],
      ['s1', '80-', 5435, [5436]],
    ]);
  });

  it('maps every demo table to its data type and level', () => {
    const levels = Object.fromEntries(
      Object.values(config.dataTypes).flatMap((d) => d.tables.map((t) => [t, d.level])),
    );
    expect(levels).toEqual({
      users: 'strong',
      payments: 'strong',
      balances: 'strong',
      posts: 'read_your_writes',
      comments: 'read_your_writes',
      likes: 'eventual',
      recommendations: 'eventual',
      trending_topics: 'eventual',
      analytics_events: 'eventual',
      sessions: 'eventual',
      temp_data: 'weak',
    });
    for (const [name, table] of Object.entries(config.tables)) {
      if (name === 'trending_topics') expect(table.reference).toBe(true);
      else expect(table.shardKey).toBe('user_id');
    }
  });
});

describe('tables.<name>.home', () => {
  const raw = () => parse(readFileSync(DEMO_CONFIG_PATH, 'utf8')) as { tables: Record<string, unknown> };

  it('places an unsharded table on a named shard', () => {
    const r = raw();
    r.tables.audit_log = { home: 's1' };
    expect(parseConfig(r).tables.audit_log!.home).toBe('s1');
  });

  it('refuses an unknown shard, and a home on a sharded or reference table', () => {
    const unknown = raw();
    unknown.tables.audit_log = { home: 's9' };
    expect(() => parseConfig(unknown)).toThrow(/tables\.audit_log\.home: unknown shard "s9"/);
    const sharded = raw();
    sharded.tables.audit_log = { shardKey: 'user_id', home: 's1' };
    expect(() => parseConfig(sharded)).toThrow(/only an unsharded table/);
  });
});
