// Planning a merge (pure): sources in key order, only neighbours merge, only into a free spare,
// what each source carries, and the config after the switch and after a rollback.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ShardgateError } from '../../src/errors.js';
import { carriedTables } from '../../src/migration/plan.js';
import { planMerge } from '../../src/migration/plan-merge.js';
import { configAfterMerge, configBeforeMerge } from '../../src/migration/switch-config.js';

const config = parseConfig({
  users: [{ name: 'app', password: 'app' }],
  shards: [
    { name: 's0', keyRange: '-40', primary: { host: '127.0.0.1', port: 6001 } },
    { name: 's1', keyRange: '40-80', primary: { host: '127.0.0.1', port: 6002 } },
    { name: 's2', keyRange: '80-', primary: { host: '127.0.0.1', port: 6003 } },
  ],
  routing: { defaultShard: 's1' },
  tables: {
    likes: { shardKey: 'user_id' },
    topics: { reference: true },
    audit: { home: 's2' },
  },
  migration: { spares: [{ name: 'spare1', host: '127.0.0.1', port: 6010 }] },
});

const request = (shards: [string, string], into = 'spare1') => ({
  shards,
  into,
  verify: 'full' as const,
  sizes: new Map([
    ['s1', new Map([['likes', { rows: 10, bytes: 100 }]])],
    ['s2', new Map([['likes', { rows: 5, bytes: 50 }]])],
  ]),
  sourceTables: new Map([
    ['s1', ['likes', 'topics', 'settings']],
    ['s2', ['likes', 'topics', 'audit']],
  ]),
  inMaintenanceWindow: false,
});

describe('planMerge', () => {
  it('orders the sources by key range and names the merged shard', () => {
    const plan = planMerge(config, request(['s2', 's1']));
    expect(plan.operation).toBe('merge');
    expect(plan.merge!.sources.map((s) => [s.shard, s.range])).toEqual([
      ['s1', '40-80'],
      ['s2', '80-'],
    ]);
    expect(plan.targets.map((t) => [t.shard, t.server.name, t.range])).toEqual([['s1_s2', 'spare1', '40-']]);
    expect(plan.at).toBe('80');
    // A sharded table's size is both sources'; every table appears once.
    expect(plan.tables.find((t) => t.name === 'likes')).toMatchObject({ rows: 15, bytes: 150 });
    expect(plan.tables.map((t) => t.name).sort()).toEqual(['audit', 'likes', 'settings', 'topics']);
    expect(plan.merge!.defaultShard).toBe('s1');
    expect(plan.merge!.homes).toEqual({ audit: 's2' });
  });

  it('carries the reference table from the first source only, unsharded tables from their home', () => {
    const plan = planMerge(config, request(['s1', 's2']));
    expect(carriedTables(plan, 0).map((t) => t.name)).toEqual(['likes', 'topics', 'settings']);
    expect(carriedTables(plan, 1).map((t) => t.name)).toEqual(['likes', 'audit']);
  });

  it('refuses shards that are not neighbours, the same shard twice, and a server in use', () => {
    const refused = (shards: [string, string], into?: string) => {
      try {
        planMerge(config, request(shards, into));
      } catch (err) {
        expect(err).toBeInstanceOf(ShardgateError);
        return (err as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refused(['s0', 's2'])).toMatch(/adjacent/);
    expect(refused(['s1', 's1'])).toMatch(/two different shards/);
    expect(refused(['s1', 's9'])).toMatch(/no shard "s9"/);
    expect(refused(['s1', 's2'], 's0-primary')).toMatch(/migration\.spares/);
  });

  it('switches to one shard and back to both, with the default shard and homes restored', () => {
    const plan = planMerge(config, request(['s1', 's2']));
    const after = configAfterMerge(config, plan);
    expect(after.shards.map((s) => [s.name, s.keyRange, s.primary.port])).toEqual([
      ['s0', '-40', 6001],
      ['s1_s2', '40-', 6010],
    ]);
    expect(after.routing.defaultShard).toBe('s1_s2');
    expect(after.tables.audit?.home).toBe('s1_s2');
    const back = configBeforeMerge(after, plan);
    expect(back.shards).toEqual(config.shards);
    expect(back.routing.defaultShard).toBe('s1');
    expect(back.tables).toEqual(config.tables);
  });
});
