// A split of a MySQL shard of mysqlShards (the MySQL front end's routing) plans as MySQL: its
// servers reached as backend.mysqlUser, the halves named after it. A MySQL shard listed under
// `shards` is refused with a coded error that points to the docs instead of being planned as
// PostgreSQL; the same request on a PostgreSQL shard plans. Table moves and merges of shards of
// mysqlShards plan as MySQL, and their switch edits the MySQL routing.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ShardgateError } from '../../src/errors.js';
import { planMove, planSplit } from '../../src/migration/plan.js';
import { planMerge } from '../../src/migration/plan-merge.js';
import { configAfterSwitch, configBeforeSwitch } from '../../src/migration/switch-config.js';

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
  const move = (table: string, to: string) =>
    planMove(config, { table, to, verify: 'full', sizes: new Map(), inMaintenanceWindow: false });
  it('refuses a table move onto a MySQL shard listed under shards, or across protocols', () => {
    expect(refusal(() => move('audit', 'm0')).message).toMatch(
      /shard m0 is mysql but listed under shards; live table moves of MySQL shards run on mysqlShards/,
    );
    // audit's home p0 is a PostgreSQL shard: it is not a table of the MySQL front end's shards.
    expect(refusal(() => move('audit', 'my0')).message).toMatch(
      /home shard "p0" of audit is not a MySQL shard/,
    );
    expect(refusal(() => move('notes', 'my1')).message).toMatch(/already lives on my1/);
  });
  it('plans a table move between shards of mysqlShards as MySQL; the switch re-homes the table', () => {
    const plan = move('notes', 'my0');
    expect(plan.protocol).toBe('mysql');
    expect(plan.operation).toBe('move');
    expect(plan.sourceShard).toBe('my1');
    expect(plan.source).toMatchObject({ port: 6004, user: 'splitter', database: 'appdb' });
    expect(plan.targets).toEqual([
      { shard: 'my0', server: expect.objectContaining({ port: 6003, user: 'splitter' }), range: '-80' },
    ]);
    expect(plan.tables).toEqual([expect.objectContaining({ name: 'notes', kind: 'unsharded' })]);
    const after = configAfterSwitch(config, plan);
    expect(after.tables.notes?.home).toBe('my0');
    expect(after.mysqlShards).toEqual(config.mysqlShards);
    // The rollback's routing: the table's config as it was, nothing else changed.
    expect(configBeforeSwitch(after, plan)).toEqual(config);
    // Without a home, a MySQL table lives on the MySQL default shard (my0 here: p0 is PostgreSQL).
    expect(move('unlisted', 'my1').sourceShard).toBe('my0');
  });
  it('plans a merge of two shards of mysqlShards as MySQL; the switch replaces both in mysqlShards', () => {
    const merge = (shards: [string, string]) =>
      planMerge(config, {
        shards,
        into: 'spare1',
        verify: 'full',
        sizes: new Map(),
        sourceTables: new Map([
          ['my0', ['likes']],
          ['my1', ['likes', 'notes']],
        ]),
        inMaintenanceWindow: false,
      });
    const plan = merge(['my1', 'my0']);
    expect(plan.protocol).toBe('mysql');
    expect(plan.merge?.sources.map((s) => [s.shard, s.server.port, s.server.user])).toEqual([
      ['my0', 6003, 'splitter'],
      ['my1', 6004, 'splitter'],
    ]);
    expect(plan.merge?.sources.map((s) => s.tables.map((t) => t.name))).toEqual([
      ['likes'],
      ['likes', 'notes'],
    ]);
    expect(plan.targets).toEqual([
      {
        shard: 'my0_my1',
        server: expect.objectContaining({ port: 6010, user: 'splitter' }),
        range: '-',
        // spare1 has no replicas: the checked (empty) list is what the switch installs.
        replicas: [],
      },
    ]);
    const after = configAfterSwitch(config, plan);
    expect(after.mysqlShards.map((s) => [s.name, s.keyRange, s.primary.port])).toEqual([
      ['my0_my1', '-', 6010],
    ]);
    expect(after.shards).toEqual(config.shards);
    expect(after.tables.notes?.home).toBe('my0_my1');
    // The rollback's routing: both sources back in place of the merged shard, homes as they were
    // (each source as the plan recorded it, marked MySQL, as a split's rollback restores it).
    const before = configBeforeSwitch(after, plan);
    expect(before.mysqlShards).toEqual(config.mysqlShards.map((s) => ({ ...s, protocol: 'mysql' })));
    expect({ ...before, mysqlShards: config.mysqlShards }).toEqual(config);
    expect(refusal(() => merge(['my0', 'p0'])).message).toMatch(
      /no shard "my0" \(a MySQL shard: both must be of one protocol\)/,
    );
  });
});
