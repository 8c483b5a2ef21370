// A split or table move of a MySQL shard is refused by the planner with a coded error that points
// to the docs, instead of being planned as PostgreSQL (MySQL sessions do not take part in the
// cutover block yet); the same request on a PostgreSQL shard plans.
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
  routing: { defaultShard: 'p0' },
  tables: { likes: { shardKey: 'user_id' }, audit: { home: 'p0' } },
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
    expect(err.message).toMatch(/shard m0 is mysql; live splits run on PostgreSQL shards.*docs\/cutover\.md/);
    expect(split('p0', '40').sourceShard).toBe('p0');
  });

  it('refuses a table move onto a MySQL shard', () => {
    const move = (to: string) =>
      planMove(config, { table: 'audit', to, verify: 'full', sizes: new Map(), inMaintenanceWindow: false });
    expect(refusal(() => move('m0')).message).toMatch(/shard m0 is mysql; live table moves/);
  });
});
