// A split of a MySQL shard of mysqlShards (the MySQL front end's routing) plans as MySQL: its
// servers reached as backend.mysqlUser, the halves named after it. A MySQL shard listed under
// `shards` and a table move onto a MySQL shard are refused with a coded error that points to the
// docs instead of being planned as PostgreSQL; the same request on a PostgreSQL shard plans.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ShardgateError } from '../../src/errors.js';
import { planMove, planSplit } from '../../src/migration/plan.js';

const config = parseConfig({
  users: [{ name: 'app', password: 'app' }],
  shards: [
    { name: 'p0', keyRange: '-80', primary: { host: '127.0.0.1', port: 6001 } },
    { name: 'm0', keyRange: '80-', protocol: 'mysql', primary: { host: '127.0.0.1', port: 6002 } },
  ],
  mysqlShards: [
    { name: 'my0', keyRange: '-80', primary: { host: '127.0.0.1', port: 6003 } },
    { name: 'my1', keyRange: '80-', primary: { host: '127.0.0.1', port: 6004 } },
  ],
  backend: { mysqlUser: 'splitter', mysqlDatabase: 'appdb' },
  routing: { defaultShard: 'p0' },
  tables: { likes: { shardKey: 'user_id' }, audit: { home: 'p0' }, notes: { home: 'my1' } },
  migration: {
    spares: [
      { name: 'spare1', host: '127.0.0.1', port: 6010 },
      { name: 'spare2', host: '127.0.0.1', port: 6011 },
    ],
  },
});

const split = (shard: string, at: string) =>
  planSplit(config, {
    shard,
    at,
    atChosenBy: 'operator',
    targets: ['spare1', 'spare2'],
    verify: 'full',
    sizes: new Map(),
    inMaintenanceWindow: false,
  });

function refusal(run: () => unknown): ShardgateError {
  try {
    run();
  } catch (err) {
    if (err instanceof ShardgateError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('planning a migration of a MySQL shard', () => {
  it('refuses a split with MIGRATION_INVALID naming the protocol and the docs', () => {
    const err = refusal(() => split('m0', 'c0'));
    expect(err.code).toBe('MIGRATION_INVALID');
    expect(err.message).toMatch(
      /shard m0 is mysql but listed under shards; .*mysqlShards.*docs\/cutover\.md/,
    );
    expect(split('p0', '40').sourceShard).toBe('p0');
    expect(split('p0', '40').protocol).toBeUndefined();
  });

  it('plans a split of a shard of mysqlShards as MySQL', () => {
    const plan = split('my0', '40');
    expect(plan.protocol).toBe('mysql');
    expect(plan.source).toMatchObject({ port: 6003, user: 'splitter', database: 'appdb' });
    expect(plan.targets.map((t) => [t.shard, t.server.user, t.range])).toEqual([
      ['my0a', 'splitter', '-40'],
      ['my0b', 'splitter', '40-80'],
    ]);
    expect(plan.tables.map((t) => t.name)).toEqual(['likes']);
    expect(plan.strategy.join(' ')).toMatch(/CONSISTENT SNAPSHOT/);
  });

  it('moves the unsharded tables whose MySQL home is the source (the first MySQL shard by default)', () => {
    const sourceTables = ['likes', 'audit', 'notes', 'settings'];
    const plan = (shard: string) =>
      planSplit(config, {
        shard,
        at: shard === 'my0' ? '40' : 'c0',
        atChosenBy: 'operator',
        targets: ['spare1', 'spare2'],
        verify: 'full',
        sizes: new Map(),
        sourceTables,
        inMaintenanceWindow: false,
      }).tables.map((t) => `${t.name}:${t.kind}`);
    // routing.defaultShard is a PostgreSQL shard: MySQL's unsharded tables live on my0.
    expect(plan('my0')).toEqual(['likes:sharded', 'settings:unsharded']);
    expect(plan('my1')).toEqual(['likes:sharded', 'notes:unsharded']);
  });

  it('plans a name in both shards and mysqlShards as the PostgreSQL shard, tables too', () => {
    // The demo names both sides s0, s1, ...: a split of s0 is the PostgreSQL one (splitShard).
    const both = parseConfig({
      users: [{ name: 'app', password: 'app' }],
      shards: [
        { name: 's0', keyRange: '-80', primary: { host: '127.0.0.1', port: 6001 } },
        { name: 'p1', keyRange: '80-', primary: { host: '127.0.0.1', port: 6002 } },
      ],
      mysqlShards: [{ name: 's0', keyRange: '-', primary: { host: '127.0.0.1', port: 6003 } }],
      routing: { defaultShard: 'p1' },
      tables: { likes: { shardKey: 'user_id' } },
      migration: {
        spares: [
          { name: 'spare1', host: '127.0.0.1', port: 6010 },
          { name: 'spare2', host: '127.0.0.1', port: 6011 },
        ],
      },
    });
    const plan = planSplit(both, {
      shard: 's0',
      at: '40',
      atChosenBy: 'operator',
      targets: ['spare1', 'spare2'],
      verify: 'full',
      sizes: new Map(),
      sourceTables: ['likes', 'settings'],
      inMaintenanceWindow: false,
    });
    expect(plan.protocol).toBeUndefined();
    // settings lives on p1 (PostgreSQL's default shard), not on s0 (MySQL's): it stays.
    expect(plan.tables.map((t) => `${t.name}:${t.kind}`)).toEqual(['likes:sharded']);
  });
  it('refuses a table move onto a MySQL shard', () => {
    const move = (to: string) =>
      planMove(config, { table: 'audit', to, verify: 'full', sizes: new Map(), inMaintenanceWindow: false });
    expect(refusal(() => move('m0')).message).toMatch(/shard m0 is mysql; live table moves/);
  });
});
